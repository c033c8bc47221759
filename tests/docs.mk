# tests fragment (docs)
