# tests fragment (agent)
