# tests fragment (snapshot): save/restore units, errors and the guest.

# What the tests and the benchmark share: a template saved from a
# tests/harness-agent.h guest, a restore into one.
noinst_LTLIBRARIES += tests/libsnaptest.la
tests_libsnaptest_la_SOURCES = tests/snapshot/snaptest.c tests/snapshot/snaptest.h
tests_libsnaptest_la_LIBADD = tests/libharness-agent.la src/snapshot/libvmsnap.la

# No qemu: device configuration, quoting, the template store.
check_PROGRAMS += tests/test-snapshot-units
TESTS += tests/test-snapshot-units
tests_test_snapshot_units_SOURCES = tests/snapshot/test-units.c
tests_test_snapshot_units_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_snapshot_units_LDADD = src/snapshot/libvmsnap.la $(CRITERION_LIBS) $(JSONC_LIBS)

# Real qemu: failures (corrupt, truncated, other devices/version) on a small
# never-booted VM, then the test guest saved and restored three times at once.
check_PROGRAMS += tests/test-snapshot-errors tests/test-snapshot-guest
TESTS += tests/test-snapshot-errors tests/test-snapshot-guest
tests_test_snapshot_errors_SOURCES = tests/snapshot/test-errors.c
tests_test_snapshot_errors_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_snapshot_errors_LDADD = tests/libsnaptest.la $(CRITERION_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS)
tests_test_snapshot_guest_SOURCES = tests/snapshot/test-guest.c
tests_test_snapshot_guest_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_snapshot_guest_LDADD = tests/libsnaptest.la $(CRITERION_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS)
