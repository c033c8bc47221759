# tests fragment (executor): mesos-vm-executor against the fake Mesos agent.
EXEC_TEST_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
EXEC_TEST_LIBS = src/executor/libvmexec.la $(CRITERION_LIBS) $(JSONC_LIBS)

check_PROGRAMS += tests/executor/test-recordio tests/executor/test-protocol \
	tests/executor/test-executor-agent tests/executor/test-executor-vm \
	tests/executor/test-executor-health tests/executor/test-executor-bridge \
	tests/executor/test-executor-wrap tests/executor/test-executor-check
TESTS += tests/executor/test-recordio tests/executor/test-protocol \
	tests/executor/test-executor-agent tests/executor/test-executor-vm \
	tests/executor/test-executor-health tests/executor/test-executor-bridge \
	tests/executor/test-executor-wrap tests/executor/test-executor-check

tests_executor_test_recordio_SOURCES = tests/executor/test-recordio.c
tests_executor_test_recordio_CFLAGS = $(EXEC_TEST_CFLAGS)
tests_executor_test_recordio_LDADD = $(EXEC_TEST_LIBS)

tests_executor_test_protocol_SOURCES = tests/executor/test-protocol.c
tests_executor_test_protocol_CFLAGS = $(EXEC_TEST_CFLAGS)
tests_executor_test_protocol_LDADD = $(EXEC_TEST_LIBS)

# Scenarios that need no VM: bad input, garbage, reconnect, shutdown.
tests_executor_test_executor_agent_SOURCES = tests/executor/test-executor-agent.c \
	tests/executor/fake-agent-run.c tests/executor/fake-agent-run.h
tests_executor_test_executor_agent_CFLAGS = $(EXEC_TEST_CFLAGS)
tests_executor_test_executor_agent_LDADD = $(EXEC_TEST_LIBS)

# End to end: real vmsupd, real guest, vmctl exec over ssh.
EXEC_VM_HARNESS = tests/executor/vm-harness.c tests/executor/vm-harness.h \
	tests/executor/fake-agent-run.c tests/executor/fake-agent-run.h
tests_executor_test_executor_vm_SOURCES = tests/executor/test-executor-vm.c tests/executor/vm-figures.c \
	$(EXEC_VM_HARNESS)
tests_executor_test_executor_vm_CFLAGS = $(EXEC_TEST_CFLAGS)
tests_executor_test_executor_vm_LDADD = $(EXEC_TEST_LIBS)

# Health checks in the task's VM: COMMAND and HTTP, each passing then failing.
tests_executor_test_executor_health_SOURCES = tests/executor/test-executor-health.c \
	$(EXEC_VM_HARNESS)
tests_executor_test_executor_health_CFLAGS = $(EXEC_TEST_CFLAGS)
tests_executor_test_executor_health_LDADD = $(EXEC_TEST_LIBS)

# General checks (CheckInfo) in the task's VM: each result change an update.
tests_executor_test_executor_check_SOURCES = tests/executor/test-executor-check.c \
	$(EXEC_VM_HARNESS)
tests_executor_test_executor_check_CFLAGS = $(EXEC_TEST_CFLAGS)
tests_executor_test_executor_check_LDADD = $(EXEC_TEST_LIBS)

# issue 22: TASK_RUNNING on a bridge carries the dnsmasq lease (root only).
tests_executor_test_executor_bridge_SOURCES = tests/executor/test-executor-bridge.c \
	$(EXEC_VM_HARNESS) tests/lib/bridge-net.c tests/lib/bridge-net.h
tests_executor_test_executor_bridge_CFLAGS = $(EXEC_TEST_CFLAGS)
tests_executor_test_executor_bridge_LDADD = $(EXEC_TEST_LIBS)

# issue 23: a framework's own executor (py-executor.py) inside the distro
# image through --wrap, against the fake agent on the host: in user mode, and
# on a bridge in the test's own namespace (root only).
tests_executor_test_executor_wrap_SOURCES = tests/executor/test-executor-wrap.c \
	$(EXEC_VM_HARNESS) tests/lib/bridge-net.c tests/lib/bridge-net.h
tests_executor_test_executor_wrap_CFLAGS = $(EXEC_TEST_CFLAGS)
tests_executor_test_executor_wrap_LDADD = $(EXEC_TEST_LIBS)

EXTRA_DIST += tests/executor/py-executor.py tests/fakes/fake-mesos-agent.py tests/proto/README bench/mesos-executor.sh \
	tests/proto/mesos/v1/mesos.proto tests/proto/mesos/v1/executor/executor.proto

