# tests fragment (vmsupd limits, issue 5): the real vmsupd binary, real
# qemu, real cgroups (root), the test guest under TCG. Reuses the daemon
# harness of tests/vmsupd/.
check_PROGRAMS += tests/test-vmsupd-limits tests/test-vmsupd-limits-guest
TESTS += tests/test-vmsupd-limits tests/test-vmsupd-limits-guest
EXTRA_DIST += tests/vmsupd-limits/util.h

tests_test_vmsupd_limits_SOURCES = tests/vmsupd/harness.c tests/vmsupd/harness.h \
	tests/vmsupd-limits/util.c tests/vmsupd-limits/util.h tests/vmsupd-limits/api-limits.c
tests_test_vmsupd_limits_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_limits_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_limits_DEPENDENCIES = src/daemon/vmsupd

tests_test_vmsupd_limits_guest_SOURCES = tests/vmsupd/harness.c tests/vmsupd/harness.h \
	tests/vmsupd-limits/util.c tests/vmsupd-limits/util.h tests/vmsupd-limits/guest-limits.c
tests_test_vmsupd_limits_guest_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_limits_guest_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) \
	$(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_limits_guest_DEPENDENCIES = src/daemon/vmsupd

# The ceiling against a Debian systemd guest and an OOM kill (issue 27).
check_PROGRAMS += tests/test-vmsupd-oom
TESTS += tests/test-vmsupd-oom
tests_test_vmsupd_oom_SOURCES = tests/vmsupd/harness.c tests/vmsupd/harness.h \
	tests/vmsupd-limits/util.c tests/vmsupd-limits/util.h tests/vmsupd-limits/guest-oom.c
tests_test_vmsupd_oom_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_oom_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) \
	$(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_oom_DEPENDENCIES = src/daemon/vmsupd
