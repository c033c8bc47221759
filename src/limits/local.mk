# limits: cgroups (v1 and v2 backends behind cgroup.h), vCPU pinning, and
# their glue into the core (vm-limits: ceilings, balloon, CPU quota).
noinst_LTLIBRARIES += src/limits/libvmcg.la
src_limits_libvmcg_la_SOURCES = src/limits/cgroup.h src/limits/cgroup-internal.h \
	src/limits/cgroup.c src/limits/cgroup-file.c src/limits/cgroup-open.c \
	src/limits/cgroup-procs.c src/limits/cgroup-v1.c src/limits/cgroup-v2.c \
	src/limits/pin.h src/limits/pin.c \
	src/limits/pin-map.h src/limits/pin-map.c
src_limits_libvmcg_la_LIBADD = $(JSONC_LIBS) -lm

src_libvmsup_la_SOURCES += src/limits/vm-limits.c src/limits/vm-limits.h \
	src/limits/vm-limits-internal.h src/limits/vm-limits-ops.c \
	src/limits/vm-limits-pin.c
src_libvmsup_la_LIBADD += src/limits/libvmcg.la
