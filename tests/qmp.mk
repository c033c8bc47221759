# tests fragment (qmp)
