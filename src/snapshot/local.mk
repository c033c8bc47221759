# snapshot: saving a running VM (QMP migrate), restoring it, the template
# store, and their glue into the core (vm-template*).
noinst_LTLIBRARIES += src/snapshot/libvmsnap.la
src_snapshot_libvmsnap_la_SOURCES = src/snapshot/snapshot.c src/snapshot/snapshot.h \
	src/snapshot/snapshot-internal.h src/snapshot/snapshot-devconfig.c \
	src/snapshot/snapshot-refresh.c src/snapshot/template.c src/snapshot/template.h \
	src/snapshot/tmpl-hash.c src/snapshot/tmpl-hash.h src/snapshot/tmpl-verify.c
src_snapshot_libvmsnap_la_LIBADD = qmp/libqmp.la src/guest/libvmagent.la $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) $(CRYPTO_LIBS)

src_libvmsup_la_SOURCES += src/snapshot/vm-template.c src/snapshot/vm-template-create.c \
	src/snapshot/vm-template-store.c \
	src/snapshot/vm-template-record.c src/snapshot/vm-template-internal.h \
	src/snapshot/vm-template.h src/snapshot/tmpl-ram.c src/snapshot/tmpl-ram.h \
	src/snapshot/tmpl-disk.c src/snapshot/tmpl-disk.h src/snapshot/tmpl-boot.c \
	src/snapshot/tmpl-boot.h src/snapshot/tmpl-tap.c src/snapshot/tmpl-tap.h
src_libvmsup_la_LIBADD += src/snapshot/libvmsnap.la
