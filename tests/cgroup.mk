# tests fragment (cgroup): libvmcg on real cgroups, the v2 backend on a
# cgroup2-shaped tree, and vCPU pinning (real threads, real qemu).
check_PROGRAMS += tests/test-cgroup tests/test-cgroup-layout tests/test-pin
TESTS += tests/test-cgroup tests/test-cgroup-layout tests/test-pin
EXTRA_DIST += tests/cgroup/util.h

tests_test_cgroup_SOURCES = tests/cgroup/test-cgroup.c tests/cgroup/util.h
tests_test_cgroup_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_cgroup_LDADD = src/limits/libvmcg.la $(CRITERION_LIBS)

tests_test_cgroup_layout_SOURCES = tests/cgroup/test-cgroup-layout.c tests/cgroup/util.h
tests_test_cgroup_layout_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_cgroup_layout_LDADD = src/limits/libvmcg.la $(CRITERION_LIBS)

tests_test_pin_SOURCES = tests/cgroup/test-pin.c tests/cgroup/util.h
tests_test_pin_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_pin_LDADD = src/limits/libvmcg.la $(JSONC_LIBS) $(CRITERION_LIBS)
