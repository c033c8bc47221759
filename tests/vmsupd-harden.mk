# tests fragment (issue 9 hardening: API peers, spec files, qemu_user,
# faults around the daemon)

# src/util/peer.c alone (access checks as nobody need root; skipped otherwise)
check_PROGRAMS += tests/test-vmsupd-harden-unit
TESTS += tests/test-vmsupd-harden-unit
tests_test_vmsupd_harden_unit_SOURCES = tests/vmsupd-harden/unit-peer.c
tests_test_vmsupd_harden_unit_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_vmsupd_harden_unit_LDADD = src/libvmsup.la $(CRITERION_LIBS)

# Real vmsupd and qemu (guest-less); clients as nobody through setpriv + curl.
check_PROGRAMS += tests/test-vmsupd-harden
TESTS += tests/test-vmsupd-harden
tests_test_vmsupd_harden_SOURCES = tests/vmsupd/harness.c tests/vmsupd/harness.h \
	tests/vmsupd-reattach/util.c tests/vmsupd-reattach/util.h \
	tests/vmsupd-harden/access.c tests/vmsupd-harden/faults.c tests/vmsupd-harden/flood.c
tests_test_vmsupd_harden_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_harden_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_harden_DEPENDENCIES = src/daemon/vmsupd

