# util: errors, logging, base64, names, peer credentials. Knows nothing of
# VMs; every other layer may use it.
noinst_LTLIBRARIES += src/util/libvmutil.la
src_util_libvmutil_la_SOURCES = \
	src/util/err.c src/util/err.h src/util/log.c src/util/log.h \
	src/util/b64.c src/util/b64.h src/util/name.c src/util/name.h \
	src/util/peer.c src/util/peer.h src/util/peer-run.c src/util/share.c src/util/share.h src/util/proc.c src/util/proc.h \
	src/util/dirlock.c src/util/dirlock.h src/util/bounds.h src/util/fdio.c src/util/fdio.h \
	src/util/idmap-mount.c src/util/idmap-mount.h
src_util_libvmutil_la_LIBADD = $(JSONC_LIBS)
