# pool: the warm pool of restored, paused VMs.
src_libvmsup_la_SOURCES += src/pool/pool.c src/pool/pool.h src/pool/pool-internal.h \
	src/pool/pool-take.c
