# tests fragment (vmsupd)

# Unit tests of libvmsup's pure parts.
check_PROGRAMS += tests/test-vmsupd-unit
TESTS += tests/test-vmsupd-unit
tests_test_vmsupd_unit_SOURCES = tests/vmsupd/unit-argv.c tests/vmsupd/unit-config.c \
	tests/vmsupd/unit-name.c tests/vmsupd/unit-spec.c tests/vmsupd/unit-states.c \
	tests/vmsupd/unit-qmp-guard.c
tests_test_vmsupd_unit_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_vmsupd_unit_LDADD = src/libvmsup.la $(CRITERION_LIBS)

# Integration: the real vmsupd binary and real qemu (guest-less VMs, and the
# test guest from $VMSUP_GUEST_DIR under TCG for the graceful stop).
check_PROGRAMS += tests/test-vmsupd-api
TESTS += tests/test-vmsupd-api
tests_test_vmsupd_api_SOURCES = tests/vmsupd/harness.c tests/vmsupd/harness.h \
	tests/vmsupd/api-lifecycle.c tests/vmsupd/api-input.c tests/vmsupd/api-guest.c \
	tests/vmsupd/api-qmp-guard.c
tests_test_vmsupd_api_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_api_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
# the daemon under test
EXTRA_tests_test_vmsupd_api_DEPENDENCIES = src/daemon/vmsupd

# The core in-process with a real guest-less qemu: the waiter list.
check_PROGRAMS += tests/test-vmsupd-core
TESTS += tests/test-vmsupd-core
tests_test_vmsupd_core_SOURCES = tests/vmsupd/core-waiters.c
tests_test_vmsupd_core_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_vmsupd_core_LDADD = src/libvmsup.la $(CRITERION_LIBS)
