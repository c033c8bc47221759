# tests fragment (executor)
