# tests fragment (agent)
noinst_LTLIBRARIES += tests/libfakeagent.la
tests_libfakeagent_la_SOURCES = tests/fakes/fake-agent.c tests/fakes/fake-agent.h
tests_libfakeagent_la_LIBADD = $(JSONC_LIBS) $(LIBEVENT_LIBS)

check_PROGRAMS += tests/test-agent-units tests/test-agent-fake
TESTS += tests/test-agent-units tests/test-agent-fake

tests_test_agent_units_SOURCES = tests/agent/test-ipselect.c tests/agent/test-b64.c \
	tests/agent/test-keys.c tests/agent/test-gexec-parse.c
tests_test_agent_units_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_agent_units_LDADD = src/guest/libvmagent.la $(CRITERION_LIBS) $(JSONC_LIBS)

tests_test_agent_fake_SOURCES = tests/agent/test-agent-fake.c
tests_test_agent_fake_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_agent_fake_LDADD = src/guest/libvmagent.la tests/libfakeagent.la $(CRITERION_LIBS) \
	$(JSONC_LIBS) $(LIBEVENT_LIBS)

# Needs the test guest ($VMSUP_GUEST_DIR) and qemu; skips without the guest.
check_PROGRAMS += tests/test-agent-guest
TESTS += tests/test-agent-guest
tests_test_agent_guest_SOURCES = tests/agent/test-agent-guest.c
tests_test_agent_guest_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_agent_guest_LDADD = tests/libharness-agent.la $(CRITERION_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS)
