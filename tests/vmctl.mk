# tests fragment (vmctl)
