# qemu: the configuration, a VM's spec, its qemu argv, spawning and probing
# qemu, the staging 9p export. Knows no registry.
src_libvmsup_la_SOURCES += \
	src/qemu/config.c src/qemu/config.h src/qemu/spec.c src/qemu/spec.h \
	src/qemu/argv.c src/qemu/argv.h src/qemu/spawn.c src/qemu/spawn.h \
	src/qemu/nosuid-filter.c src/qemu/nosuid-filter.h \
	src/qemu/probe.c src/qemu/probe.h src/qemu/stage.c src/qemu/stage.h \
	src/qemu/qmp-guard.c src/qemu/qmp-guard.h src/qemu/qmp-allow.c src/qemu/qmp-allow.h \
	src/qemu/net.c src/qemu/net.h
src_libvmsup_la_LIBADD += src/util/libvmutil.la qmp/libqmp.la $(JSONC_LIBS) $(LIBEVENT_LIBS) \
	$(SECCOMP_LIBS)
