# tests fragment (agent)
noinst_LTLIBRARIES += tests/libfakeagent.la
tests_libfakeagent_la_SOURCES = tests/fakes/fake-agent.c tests/fakes/fake-agent.h
tests_libfakeagent_la_LIBADD = $(JSONC_LIBS) $(LIBEVENT_LIBS)

check_PROGRAMS += tests/test-agent-units tests/test-agent-fake
TESTS += tests/test-agent-units tests/test-agent-fake

tests_test_agent_units_SOURCES = tests/guest/test-ipselect.c tests/guest/test-b64.c \
	tests/guest/test-keys.c tests/guest/test-gexec-parse.c
tests_test_agent_units_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_agent_units_LDADD = src/guest/libvmagent.la $(CRITERION_LIBS) $(JSONC_LIBS)

tests_test_agent_fake_SOURCES = tests/guest/test-agent-fake.c
tests_test_agent_fake_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_agent_fake_LDADD = src/guest/libvmagent.la tests/libfakeagent.la $(CRITERION_LIBS) \
	$(JSONC_LIBS) $(LIBEVENT_LIBS)

# Needs the test guest ($VMSUP_GUEST_DIR) and qemu; skips without the guest.
check_PROGRAMS += tests/test-agent-guest
TESTS += tests/test-agent-guest
tests_test_agent_guest_SOURCES = tests/guest/test-agent-guest.c
tests_test_agent_guest_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_agent_guest_LDADD = tests/libharness-agent.la $(CRITERION_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS)

# tests fragment (vmsupd-agent): the guest agent wired into vmsupd, against
# the real daemon and the test guest ($VMSUP_GUEST_DIR) under TCG.
check_PROGRAMS += tests/test-vmsupd-agent
TESTS += tests/test-vmsupd-agent
tests_test_vmsupd_agent_SOURCES = tests/lib/daemon-harness.c tests/lib/daemon-harness.h \
	tests/guest/gtest.c tests/guest/gtest.h \
	tests/guest/test-ip.c tests/guest/test-exec.c \
	tests/guest/test-faults.c
tests_test_vmsupd_agent_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_agent_LDADD = src/guest/libvmagent.la qmp/libqmp.la $(CRITERION_LIBS) \
	$(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread
# the daemon under test
EXTRA_tests_test_vmsupd_agent_DEPENDENCIES = src/daemon/vmsupd

