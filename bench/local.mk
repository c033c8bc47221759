# fragment owned by the bench module: every benchmark program and the
# harness (bench/run.sh, run by `make bench`). Never part of make check.

# bench/benchlib: shared by every bench program (also qmp/local.mk's
# bench/qmp-rtt): statistics, BENCH result lines, a private vmsupd, reaping.
BENCH_COMMON = bench/benchlib.c bench/benchlib-daemon.c bench/benchlib-raw.c bench/benchlib.h
BENCH_CPPFLAGS = $(AM_CPPFLAGS) $(CURL_CFLAGS)
# the bare spawn of vmsupd's own qemu argv: bench/launch's and bench/scale's baseline
BENCH_RAWSPAWN = bench/rawspawn.c bench/rawspawn.h
BENCH_LDADD = src/client/libvmclient.la qmp/libqmp.la $(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lm

# POST /v1/vms -> running vs a bare spawn of the same qemu argv + QMP cont;
# launch-virsh: vmctl create and vmctl qmp vs virsh, when libvirt is installed.
bench_programs += bench/launch
bench_launch_SOURCES = bench/launch.c bench/launch-virsh.c bench/launch-virsh.h $(BENCH_RAWSPAWN) \
	$(BENCH_COMMON)
bench_launch_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_launch_LDADD = src/libvmsup.la $(BENCH_LDADD)

# QMP round trip: API passthrough vs libqmp vs a raw socket client.
bench_programs += bench/api-rtt
bench_api_rtt_SOURCES = bench/api-rtt.c $(BENCH_COMMON)
bench_api_rtt_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_api_rtt_LDADD = $(BENCH_LDADD)

# 100 guest-less VMs on one vmsupd (-n 250 -m 16: 250 of 16 MiB).
bench_programs += bench/scale
bench_scale_SOURCES = bench/scale.c bench/scale-events.c bench/scale-events.h $(BENCH_RAWSPAWN) \
	$(BENCH_COMMON)
bench_scale_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_scale_CFLAGS = $(AM_CFLAGS) -pthread
bench_scale_LDADD = src/libvmsup.la $(BENCH_LDADD) -lpthread

EXTRA_DIST += bench/run.sh bench/README.md bench/results.md bench/net-modes.sh bench/before-after.sh

# The warm pool: vmctl run --pool vs a cold vmctl run vs a restore from the
# template through the API, interleaved (test guest, TCG).
bench_programs += bench/pool
bench_pool_SOURCES = bench/pool.c $(BENCH_COMMON)
bench_pool_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_pool_LDADD = $(BENCH_LDADD)

# QMP round trip: libqmp vs a raw socket client.
bench_programs += bench/qmp-rtt
bench_qmp_rtt_SOURCES = bench/qmp-rtt.c $(BENCH_COMMON)
bench_qmp_rtt_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_qmp_rtt_LDADD = $(BENCH_LDADD)

# Spawn to first guest-ping, median of 10 boots.
bench_programs += bench/guest-boot
bench_guest_boot_SOURCES = bench/guest-boot.c
bench_guest_boot_LDADD = tests/libharness.la qmp/libqmp.la $(JSONC_LIBS) $(LIBEVENT_LIBS)

# Agent port open -> IP known.
bench_programs += bench/time-to-ip
bench_time_to_ip_SOURCES = bench/time-to-ip.c
bench_time_to_ip_LDADD = tests/libharness-agent.la $(JSONC_LIBS) $(LIBEVENT_LIBS)

# CPU quota: the cgroup's measured CPU time against the quota.
bench_programs += bench/cpu-quota
bench_cpu_quota_SOURCES = bench/cpu-quota.c
bench_cpu_quota_LDADD = src/limits/libvmcg.la src/util/libvmutil.la

# POST /v1/vms -> running against raw spawn + QMP with the very same argv.
bench_programs += bench/vmsupd-launch
bench_vmsupd_launch_SOURCES = bench/vmsupd-launch.c $(BENCH_COMMON)
bench_vmsupd_launch_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
bench_vmsupd_launch_LDADD = src/libvmsup.la $(BENCH_LDADD)

# 200 API clients against 50 guest-less VMs.
bench_programs += bench/load
bench_load_SOURCES = bench/load.c $(BENCH_COMMON)
bench_load_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) -pthread
bench_load_LDADD = $(BENCH_LDADD) -lpthread
# no libtool wrapper: the program finds ../src/daemon/vmsupd from its own path
bench_load_LDFLAGS = -no-install

# Template -> agent vs cold boot -> agent.
bench_programs += bench/restore
bench_restore_SOURCES = bench/restore.c
bench_restore_LDADD = tests/libsnaptest.la $(JSONC_LIBS) $(LIBEVENT_LIBS) -lm

# After a restore: the clock step (guest-set-time) vs any first process.
bench_programs += bench/clock-first
bench_clock_first_SOURCES = bench/clock-first.c $(BENCH_COMMON)
bench_clock_first_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_clock_first_LDADD = tests/libsnaptest.la $(BENCH_LDADD)

# `vmctl run -- true` split into its phases, through a daemon and in-process.
bench_programs += bench/vmctl-run
bench_vmctl_run_SOURCES = bench/vmctl-run.c $(BENCH_COMMON)
bench_vmctl_run_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_vmctl_run_LDADD = $(BENCH_LDADD)
# it times the vmctl binary next to it
EXTRA_bench_vmctl_run_DEPENDENCIES = src/cli/vmctl

# vmsupd restart (SIGTERM -> new daemon with every VM reattached), SIGTERM ->
# exit, and vmctl shutdown --all, with 10 and 100 guest-less VMs (issue 20).
bench_programs += bench/restart
bench_restart_SOURCES = bench/restart.c $(BENCH_COMMON)
bench_restart_CPPFLAGS = $(BENCH_CPPFLAGS)
bench_restart_CFLAGS = $(AM_CFLAGS) -pthread
bench_restart_LDADD = $(BENCH_LDADD) -lpthread
# it times the vmctl binary of the build
EXTRA_bench_restart_DEPENDENCIES = src/cli/vmctl
