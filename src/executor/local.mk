# fragment owned by the src/executor module
