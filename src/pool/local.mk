# pool: the warm pool of restored, paused VMs.
src_libvmsup_la_SOURCES += src/pool/pool.c src/pool/pool.h
