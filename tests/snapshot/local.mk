# tests fragment (snapshot): save/restore units, errors and the guest.

# What the tests and the benchmark share: a template saved from a
# tests/lib/agent-harness.h guest, a restore into one.
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

# tests fragment (vmsupd-template, issue 12): templates and the warm pool
# through the real daemon and the test guest ($VMSUP_GUEST_DIR) under TCG.
TT_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/snapshot/template-util.c tests/snapshot/template-util.h src/util/b64.c src/util/b64.h
TT_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
TT_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread -lm

check_PROGRAMS += tests/test-vmsupd-template
TESTS += tests/test-vmsupd-template
tests_test_vmsupd_template_SOURCES = $(TT_SOURCES) tests/snapshot/test-template.c
tests_test_vmsupd_template_CFLAGS = $(TT_CFLAGS)
tests_test_vmsupd_template_LDADD = $(TT_LDADD)
# the daemon under test
EXTRA_tests_test_vmsupd_template_DEPENDENCIES = src/daemon/vmsupd



# Clones cannot write their template (balloon discards, dirty RAM).
check_PROGRAMS += tests/test-vmsupd-template-clones
TESTS += tests/test-vmsupd-template-clones
tests_test_vmsupd_template_clones_SOURCES = $(TT_SOURCES) tests/snapshot/test-template-clones.c \
	tests/snapshot/test-template-damaged.c tests/snapshot/test-template-owners.c \
	tests/daemon/as-user.c tests/daemon/as-user.h
tests_test_vmsupd_template_clones_CFLAGS = $(TT_CFLAGS)
tests_test_vmsupd_template_clones_LDADD = $(TT_LDADD)
EXTRA_tests_test_vmsupd_template_clones_DEPENDENCIES = src/daemon/vmsupd

# The clone-identity script on the Debian systemd/openssh guest (skips
# without scripts/mkdistro.sh's image).
check_PROGRAMS += tests/test-vmsupd-identity-distro
TESTS += tests/test-vmsupd-identity-distro
tests_test_vmsupd_identity_distro_SOURCES = $(TT_SOURCES) tests/snapshot/test-identity-distro.c
tests_test_vmsupd_identity_distro_CFLAGS = $(TT_CFLAGS)
tests_test_vmsupd_identity_distro_LDADD = src/snapshot/libvmsnap.la $(TT_LDADD)
EXTRA_tests_test_vmsupd_identity_distro_DEPENDENCIES = src/daemon/vmsupd
