# tests fragment (vmsupd)
