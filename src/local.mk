# fragment owned by the src module (vmsupd)
include src/cgroup.mk
include src/agent.mk

# libvmsup: the supervisor core (registry, QMP, API), linked by vmsupd and
# by vmctl for its in-process mode.
noinst_LTLIBRARIES += src/libvmsup.la
src_libvmsup_la_SOURCES = \
	src/err.c src/err.h src/log.c src/log.h src/config.c src/config.h \
	src/name.c src/name.h src/spec.c src/spec.h src/argv.c src/argv.h \
	src/spawn.c src/spawn.h src/probe.c src/probe.h src/vm.c src/vm.h \
	src/statefile.c src/statefile.h src/hooks.c src/hooks.h \
	src/supervisor.c src/supervisor.h src/api.c src/api.h src/http.c src/http.h \
	src/daemon.c src/daemon.h
# reattach after a daemon restart, restart policies (issue 9)
src_libvmsup_la_SOURCES += src/reattach.c src/reattach.h src/restart.c src/restart.h
# peer credentials and the spec-file access check (issue 9 hardening)
src_libvmsup_la_SOURCES += src/peer.c src/peer.h
# the staging share a pool take binds a host directory into (issue 12)
src_libvmsup_la_SOURCES += src/stage.c src/stage.h
src_libvmsup_la_LIBADD = qmp/libqmp.la $(JSONC_LIBS) $(LIBEVENT_LIBS)
# the guest agent wired into the daemon (hooks, status, GET ip, POST exec)
src_libvmsup_la_SOURCES += src/vm-agent.c src/vm-agent.h src/api-guest.c src/api-guest.h
src_libvmsup_la_LIBADD += src/libvmagent.la
# limits (cgroups, balloon, CPU quota, pinning) and GET /metrics (issues 5, 11)
src_libvmsup_la_SOURCES += src/vm-limits.c src/vm-limits.h src/vm-stats.c src/vm-stats.h \
	src/api-limits.c src/api-limits.h
src_libvmsup_la_LIBADD += src/libvmcg.la src/libvmmetrics.la

sbin_PROGRAMS += src/vmsupd
src_vmsupd_SOURCES = src/vmsupd.c
src_vmsupd_LDADD = src/libvmsup.la

# bench/vmsupd-launch: POST /v1/vms -> running against raw spawn + QMP
# with the very same argv (make bench builds it; never run by make check)
bench_programs += bench/vmsupd-launch
bench_vmsupd_launch_SOURCES = bench/vmsupd-launch.c $(BENCH_COMMON)
bench_vmsupd_launch_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS)
bench_vmsupd_launch_LDADD = src/libvmsup.la $(BENCH_LDADD)
