# fragment owned by the bench module: the harness (bench/run.sh, run by
# `make bench`) and the benchmarks nobody else owns. Never part of make check.

# bench/benchlib: shared by every bench program (also qmp/local.mk's
# bench/qmp-rtt): statistics, BENCH result lines, a private vmsupd, reaping.
BENCH_COMMON = bench/benchlib.c bench/benchlib.h
BENCH_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
BENCH_LDADD = src/libvmclient.la qmp/libqmp.la $(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lm

# POST /v1/vms -> running vs a bare spawn of the same qemu argv + QMP cont.
bench_programs += bench/launch
bench_launch_SOURCES = bench/launch.c $(BENCH_COMMON)
bench_launch_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_launch_LDADD = src/libvmsup.la $(BENCH_LDADD)

# QMP round trip: API passthrough vs libqmp vs a raw socket client.
bench_programs += bench/api-rtt
bench_api_rtt_SOURCES = bench/api-rtt.c $(BENCH_COMMON)
bench_api_rtt_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_api_rtt_LDADD = $(BENCH_LDADD)

# 100 guest-less VMs on one vmsupd.
bench_programs += bench/scale
bench_scale_SOURCES = bench/scale.c $(BENCH_COMMON)
bench_scale_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_scale_CFLAGS = $(AM_CFLAGS) -pthread
bench_scale_LDADD = $(BENCH_LDADD) -lpthread

EXTRA_DIST += bench/run.sh bench/README.md bench/results.md

# The warm pool: vmctl run --pool vs a cold vmctl run vs a restore from the
# template through the API, interleaved (test guest, TCG).
bench_programs += bench/pool
bench_pool_SOURCES = bench/pool.c $(BENCH_COMMON)
bench_pool_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_pool_LDADD = $(BENCH_LDADD)
