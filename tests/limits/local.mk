# tests fragment (cgroup): libvmcg on real cgroups, the v2 backend on a
# cgroup2-shaped tree, and vCPU pinning (real threads, real qemu).
check_PROGRAMS += tests/test-cgroup tests/test-cgroup-layout tests/test-pin
TESTS += tests/test-cgroup tests/test-cgroup-layout tests/test-pin
EXTRA_DIST += tests/limits/cg-util.h

tests_test_cgroup_SOURCES = tests/limits/test-cgroup.c tests/limits/cg-util.h
tests_test_cgroup_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_cgroup_LDADD = src/limits/libvmcg.la src/util/libvmutil.la $(CRITERION_LIBS)

tests_test_cgroup_layout_SOURCES = tests/limits/test-cgroup-layout.c tests/limits/cg-util.h
tests_test_cgroup_layout_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_cgroup_layout_LDADD = src/limits/libvmcg.la src/util/libvmutil.la $(CRITERION_LIBS)

tests_test_pin_SOURCES = tests/limits/test-pin.c tests/limits/cg-util.h
tests_test_pin_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_pin_LDADD = src/limits/libvmcg.la src/util/libvmutil.la $(JSONC_LIBS) $(CRITERION_LIBS)

# tests fragment (vmsupd limits, issue 5): the real vmsupd binary, real
# qemu, real cgroups (root), the test guest under TCG. Reuses the daemon
# harness of tests/lib/.
check_PROGRAMS += tests/test-vmsupd-limits tests/test-vmsupd-limits-guest
TESTS += tests/test-vmsupd-limits tests/test-vmsupd-limits-guest
EXTRA_DIST += tests/limits/limits-util.h

tests_test_vmsupd_limits_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/limits/limits-util.c tests/limits/limits-util.h tests/limits/api-limits.c \
	tests/limits/api-pin.c
tests_test_vmsupd_limits_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_limits_LDADD = qmp/libqmp.la src/util/libvmutil.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_limits_DEPENDENCIES = src/daemon/vmsupd

tests_test_vmsupd_limits_guest_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/limits/limits-util.c tests/limits/limits-util.h tests/limits/guest-limits.c
tests_test_vmsupd_limits_guest_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_limits_guest_LDADD = qmp/libqmp.la src/util/libvmutil.la $(CRITERION_LIBS) $(CURL_LIBS) \
	$(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_limits_guest_DEPENDENCIES = src/daemon/vmsupd

# The ceiling against a Debian systemd guest and an OOM kill (issue 27).
check_PROGRAMS += tests/test-vmsupd-oom
TESTS += tests/test-vmsupd-oom
tests_test_vmsupd_oom_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/limits/limits-util.c tests/limits/limits-util.h tests/limits/guest-oom.c
tests_test_vmsupd_oom_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_oom_LDADD = qmp/libqmp.la src/util/libvmutil.la $(CRITERION_LIBS) $(CURL_LIBS) \
	$(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_oom_DEPENDENCIES = src/daemon/vmsupd

