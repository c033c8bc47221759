# tests of the daemon: the real vmsupd binary and its API

# Integration: the real vmsupd binary and real qemu (guest-less VMs, and the
# test guest from $VMSUP_GUEST_DIR under TCG for the graceful stop).
check_PROGRAMS += tests/test-vmsupd-api
TESTS += tests/test-vmsupd-api
tests_test_vmsupd_api_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/daemon/api-lifecycle.c tests/daemon/api-input.c tests/daemon/api-guest.c \
	tests/daemon/api-qmp-guard.c tests/daemon/api-list.c
tests_test_vmsupd_api_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS) $(CRYPTO_CFLAGS)
tests_test_vmsupd_api_LDADD = qmp/libqmp.la src/util/libvmutil.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) $(CRYPTO_LIBS) -lpthread
# the daemon under test
EXTRA_tests_test_vmsupd_api_DEPENDENCIES = src/daemon/vmsupd

# tests fragment (issue 9 hardening: API peers, spec files, qemu_user,
# faults around the daemon)

# src/util/peer.c alone (access checks as nobody need root; skipped otherwise)
check_PROGRAMS += tests/test-vmsupd-harden-unit
TESTS += tests/test-vmsupd-harden-unit
tests_test_vmsupd_harden_unit_SOURCES = tests/daemon/unit-peer.c
tests_test_vmsupd_harden_unit_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_vmsupd_harden_unit_LDADD = src/libvmsup.la $(CRITERION_LIBS)

# Real vmsupd and qemu (guest-less); clients as nobody through setpriv + curl.
check_PROGRAMS += tests/test-vmsupd-harden
TESTS += tests/test-vmsupd-harden
tests_test_vmsupd_harden_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/core/reattach-util.c tests/core/reattach-util.h \
	tests/lib/vmctl-run.c tests/lib/vmctl-run.h \
	tests/daemon/as-user.c tests/daemon/as-user.h tests/daemon/owners.c \
	tests/daemon/access.c tests/daemon/faults.c tests/daemon/flood.c tests/daemon/shares.c \
	tests/daemon/sandbox.c tests/daemon/conn-limits.c tests/daemon/qemu-user.c \
	tests/daemon/root-shares.c
tests_test_vmsupd_harden_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_harden_LDADD = qmp/libqmp.la src/util/libvmutil.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_harden_DEPENDENCIES = src/daemon/vmsupd



# issue 20: the daemon as a restartable service (one daemon per state dir,
# SIGTERM leaves VMs running, stops that do not wait for nothing, limits
# that survive a restart, destroy --force). Real vmsupd, vmctl and qemu
# (guest-less, and the test guest from $VMSUP_GUEST_DIR), real cgroups.
check_PROGRAMS += tests/test-vmsupd-restart
TESTS += tests/test-vmsupd-restart
tests_test_vmsupd_restart_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/core/reattach-util.c tests/core/reattach-util.h \
	tests/lib/vmctl-run.c tests/lib/vmctl-run.h tests/daemon/restart.c \
	tests/limits/limits-util.c tests/limits/limits-util.h tests/daemon/restart-limits.c \
	tests/daemon/destroy-force.c
tests_test_vmsupd_restart_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_restart_LDADD = qmp/libqmp.la src/util/libvmutil.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_restart_DEPENDENCIES = src/daemon/vmsupd src/cli/vmctl

# issue 20: autostart (spec, PUT /v1/vms/NAME/autostart, vmctl) over a daemon
# restart. Real vmsupd, vmctl and qemu (guest-less).
check_PROGRAMS += tests/test-vmsupd-autostart
TESTS += tests/test-vmsupd-autostart
tests_test_vmsupd_autostart_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/core/reattach-util.c tests/core/reattach-util.h \
	tests/daemon/service-util.c tests/daemon/service-util.h \
	tests/lib/vmctl-run.c tests/lib/vmctl-run.h tests/daemon/autostart.c
tests_test_vmsupd_autostart_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_autostart_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_autostart_DEPENDENCIES = src/daemon/vmsupd src/cli/vmctl

# issue 20: vmctl shutdown --all (POST /v1/shutdown): a booted test guest
# powers off through ACPI, guest-less VMs quit at once. Real vmsupd, vmctl, qemu.
check_PROGRAMS += tests/test-vmsupd-shutdown
TESTS += tests/test-vmsupd-shutdown
tests_test_vmsupd_shutdown_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/core/reattach-util.c tests/core/reattach-util.h \
	tests/daemon/service-util.c tests/daemon/service-util.h \
	tests/lib/vmctl-run.c tests/lib/vmctl-run.h tests/daemon/shutdown.c
tests_test_vmsupd_shutdown_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_shutdown_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_shutdown_DEPENDENCIES = src/daemon/vmsupd src/cli/vmctl

# issue 19: the console log under console_log_max (test guest, TCG)
check_PROGRAMS += tests/test-vmsupd-console
TESTS += tests/test-vmsupd-console
tests_test_vmsupd_console_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/daemon/service-util.c tests/daemon/service-util.h \
	tests/lib/vmctl-run.c tests/lib/vmctl-run.h tests/daemon/console-log.c
tests_test_vmsupd_console_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_console_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_console_DEPENDENCIES = src/daemon/vmsupd src/cli/vmctl
# issue 24: vmctl console on a pty against the test guest's serial port (TCG)
check_PROGRAMS += tests/test-vmsupd-console-attach
TESTS += tests/test-vmsupd-console-attach
tests_test_vmsupd_console_attach_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/daemon/service-util.c tests/daemon/service-util.h \
	tests/lib/vmctl-run.c tests/lib/vmctl-run.h tests/daemon/console-attach.c
tests_test_vmsupd_console_attach_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_console_attach_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) \
	$(JSONC_LIBS) $(LIBEVENT_LIBS) -lutil
EXTRA_tests_test_vmsupd_console_attach_DEPENDENCIES = src/daemon/vmsupd src/cli/vmctl
# issue 22: VM networking, user and none modes (real vmsupd and qemu; the
# test guest under TCG for the published port, egress and mode none)
check_PROGRAMS += tests/test-vmsupd-net
TESTS += tests/test-vmsupd-net
tests_test_vmsupd_net_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/guest/gtest.c tests/guest/gtest.h tests/daemon/net.c
tests_test_vmsupd_net_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_net_LDADD = src/guest/libvmagent.la qmp/libqmp.la $(CRITERION_LIBS) \
	$(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread
EXTRA_tests_test_vmsupd_net_DEPENDENCIES = src/daemon/vmsupd

# issue 22: VM networking, mode bridge (a network namespace with a bridge
# and dnsmasq; root only, skipped otherwise)
check_PROGRAMS += tests/test-vmsupd-bridge
TESTS += tests/test-vmsupd-bridge
tests_test_vmsupd_bridge_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/guest/gtest.c tests/guest/gtest.h tests/daemon/bridge.c \
	tests/lib/bridge-net.c tests/lib/bridge-net.h
tests_test_vmsupd_bridge_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_bridge_LDADD = $(tests_test_vmsupd_net_LDADD)
EXTRA_tests_test_vmsupd_bridge_DEPENDENCIES = src/daemon/vmsupd
