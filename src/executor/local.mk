# fragment owned by the src/executor module: mesos-vm-executor, the Mesos v1
# HTTP API executor that runs each task in its own VM through vmsupd.
noinst_LTLIBRARIES += src/executor/libvmexec.la
src_executor_libvmexec_la_SOURCES = \
	src/executor/recordio.c src/executor/recordio.h \
	src/executor/protocol.c src/executor/protocol.h \
	src/executor/env.c src/executor/env.h \
	src/executor/tasks.c src/executor/tasks.h \
	src/executor/shquote.c src/executor/shquote.h \
	src/executor/probe-spec.c src/executor/probe-spec.h \
	src/executor/health-spec.c src/executor/health-spec.h \
	src/executor/check-spec.c src/executor/check-spec.h \
	src/executor/wrap.c src/executor/wrap.h
# base64 comes from src/util/b64.c, which libvmclient carries
src_executor_libvmexec_la_LIBADD = src/client/libvmclient.la

sbin_PROGRAMS += src/executor/mesos-vm-executor
src_executor_mesos_vm_executor_SOURCES = \
	src/executor/main.c \
	src/executor/agent_conn.c src/executor/agent_conn.h \
	src/executor/launch.c src/executor/launch.h src/executor/launch-internal.h \
	src/executor/launch-req.c src/executor/launch-script.c src/executor/launch-net.c \
	src/executor/launch-group.c src/executor/launch-watch.c src/executor/launch-kill.c \
	src/executor/probe.c src/executor/probe.h \
	src/executor/health.c src/executor/health.h \
	src/executor/check.c src/executor/check.h
src_executor_mesos_vm_executor_CFLAGS = $(AM_CFLAGS) $(CURL_CFLAGS) -pthread
src_executor_mesos_vm_executor_LDADD = src/executor/libvmexec.la src/client/libvmclient.la \
	$(LIBEVENT_LIBS) $(JSONC_LIBS) $(CURL_LIBS) -lm
src_executor_mesos_vm_executor_LDFLAGS = -pthread

EXTRA_DIST += etc/mesos/README.md etc/mesos/executor-info.json \
	etc/mesos/agent-flags.txt etc/mesos/marathon-vmctl-run.json
