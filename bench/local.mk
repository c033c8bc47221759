# fragment owned by the bench module
