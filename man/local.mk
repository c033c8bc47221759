# fragment owned by the man module
