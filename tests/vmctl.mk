# tests fragment (vmctl)
check_PROGRAMS += tests/vmctl/test-vmctl
tests_vmctl_test_vmctl_SOURCES = tests/vmctl/test-vmctl.c
tests_vmctl_test_vmctl_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_vmctl_test_vmctl_LDADD = src/cli/libvmctl.la src/client/libvmclient.la src/libvmsup.la \
	$(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS)
TESTS += tests/vmctl/test-vmctl tests/vmctl/cli.sh
EXTRA_DIST += tests/vmctl/cli.sh
