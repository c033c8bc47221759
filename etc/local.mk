# fragment owned by the etc module
