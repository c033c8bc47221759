# cgroup module fragment: libvmcg (per-VM cgroups on v1/v2, vCPU pinning)
noinst_LTLIBRARIES += src/libvmcg.la
src_libvmcg_la_SOURCES = src/cgroup.h src/cgroup-internal.h src/cgroup.c \
	src/cgroup-v1.c src/cgroup-v2.c src/pin.h src/pin.c
src_libvmcg_la_LIBADD = $(JSONC_LIBS) -lm

bench_programs += bench/cpu-quota
bench_cpu_quota_SOURCES = bench/cpu-quota.c
bench_cpu_quota_LDADD = src/libvmcg.la
