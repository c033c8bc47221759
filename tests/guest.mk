# tests fragment (guest)
