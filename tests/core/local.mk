# tests fragment (issue 9: reattach, restart policies, fuzzing)

check_PROGRAMS += tests/test-vmsupd-reattach-unit
TESTS += tests/test-vmsupd-reattach-unit
tests_test_vmsupd_reattach_unit_SOURCES = tests/core/reattach-unit.c tests/lib/sup-tmp.c tests/lib/sup-tmp.h
tests_test_vmsupd_reattach_unit_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_vmsupd_reattach_unit_LDADD = src/libvmsup.la $(CRITERION_LIBS)

# The real daemon killed with SIGKILL and restarted, real qemu (guest-less).
check_PROGRAMS += tests/test-vmsupd-reattach
TESTS += tests/test-vmsupd-reattach
tests_test_vmsupd_reattach_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/core/reattach-util.c tests/core/reattach-util.h \
	tests/lib/vmctl-run.c tests/lib/vmctl-run.h \
	tests/core/reattach.c tests/core/reattach-policy.c tests/core/reattach-identity.c tests/core/fatal-states.c \
	tests/core/reattach-durable.c
tests_test_vmsupd_reattach_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_reattach_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_reattach_DEPENDENCIES = src/daemon/vmsupd tests/fakes/fake-qemu

# qemu's stand-in for the run states a real one reaches only on a broken
# host or guest (internal-error, guest panics): tests/core/fatal-states.c
check_PROGRAMS += tests/fakes/fake-qemu
tests_fakes_fake_qemu_SOURCES = tests/fakes/fake-qemu.c tests/fakes/qmp-server.c \
	tests/fakes/qmp-server.h
tests_fakes_fake_qemu_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS)
tests_fakes_fake_qemu_LDADD = $(JSONC_LIBS) -lpthread


# The core in-process with a real guest-less qemu: the waiter list.
check_PROGRAMS += tests/test-vmsupd-core
TESTS += tests/test-vmsupd-core
tests_test_vmsupd_core_SOURCES = tests/core/waiters.c tests/lib/sup-tmp.c tests/lib/sup-tmp.h
tests_test_vmsupd_core_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_vmsupd_core_LDADD = src/libvmsup.la $(CRITERION_LIBS)

