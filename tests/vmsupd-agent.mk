# tests fragment (vmsupd-agent): the guest agent wired into vmsupd, against
# the real daemon and the test guest ($VMSUP_GUEST_DIR) under TCG.
check_PROGRAMS += tests/test-vmsupd-agent
TESTS += tests/test-vmsupd-agent
tests_test_vmsupd_agent_SOURCES = tests/vmsupd/harness.c tests/vmsupd/harness.h \
	tests/vmsupd-agent/gtest.c tests/vmsupd-agent/gtest.h \
	tests/vmsupd-agent/test-ip.c tests/vmsupd-agent/test-exec.c \
	tests/vmsupd-agent/test-faults.c
tests_test_vmsupd_agent_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_agent_LDADD = src/guest/libvmagent.la qmp/libqmp.la $(CRITERION_LIBS) \
	$(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread
# the daemon under test
EXTRA_tests_test_vmsupd_agent_DEPENDENCIES = src/daemon/vmsupd
