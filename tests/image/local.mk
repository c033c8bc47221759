# tests fragment (guest): the test guest, the integration-test harness and
# the guest's own integration tests.
dist_noinst_SCRIPTS += scripts/deps autogen.sh scripts/mkguest.sh scripts/pvh-kernel.sh \
	scripts/guest-kernel.sh
dist_noinst_DATA += scripts/guest-kernel.config

# Built once by `make check` (builddir-relative), cached afterwards: the
# script does nothing when the package versions are unchanged.
check_DATA += guest/initrd.img
guest/initrd.img: $(srcdir)/scripts/mkguest.sh $(srcdir)/scripts/pvh-kernel.sh \
		  $(srcdir)/scripts/guest-kernel.sh $(srcdir)/scripts/guest-kernel.config
	$(SHELL) $(srcdir)/scripts/mkguest.sh guest && touch $@
guest/vmlinuz: guest/initrd.img

# The Debian systemd guest (scripts/mkdistro.sh, root only: mmdebstrap
# builds in a chroot) for the few tests that need a distribution; as
# another user its tests skip and say so.
dist_noinst_SCRIPTS += scripts/mkdistro.sh
check_DATA += distro/MANIFEST
distro/MANIFEST: $(srcdir)/scripts/mkdistro.sh
	if [ "$$(id -u)" -eq 0 ]; then $(SHELL) $(srcdir)/scripts/mkdistro.sh distro && touch $@; \
	else echo "not root: no distro image, the tests that need it skip"; fi

# The guest itself: agent, network, ssh, 9p share, power-off.
check_PROGRAMS += tests/test-guest
TESTS += tests/test-guest
tests_test_guest_SOURCES = tests/image/test-guest.c
tests_test_guest_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_guest_LDADD = tests/libharness.la qmp/libqmp.la $(CRITERION_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS)

