# tests fragment (vmctl)
check_PROGRAMS += tests/cli/test-vmctl
tests_cli_test_vmctl_SOURCES = tests/cli/test-vmctl.c
tests_cli_test_vmctl_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_cli_test_vmctl_LDADD = src/cli/libvmctl.la src/client/libvmclient.la src/libvmsup.la \
	$(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS)
# options, limits and what vmctl sends, against a fake API (issue 24)
check_PROGRAMS += tests/cli/test-vmctl-opts
tests_cli_test_vmctl_opts_SOURCES = tests/cli/test-vmctl-opts.c
tests_cli_test_vmctl_opts_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_cli_test_vmctl_opts_LDADD = src/cli/libvmctl.la src/client/libvmclient.la src/libvmsup.la \
	$(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread
TESTS += tests/cli/test-vmctl tests/cli/test-vmctl-opts tests/cli/cli.sh
EXTRA_DIST += tests/cli/cli.sh
# exec: refused at once with the reason; -i and -t (issue 24)
TESTS += tests/cli/exec-io.sh
EXTRA_DIST += tests/cli/exec-io.sh
