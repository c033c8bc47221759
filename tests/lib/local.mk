# Shared test helpers: the guest, agent and daemon harnesses.

# Harness for tests that boot the guest (tests/lib/guest-harness.h).
noinst_LTLIBRARIES += tests/libharness.la
tests_libharness_la_SOURCES = tests/lib/guest-harness.c tests/lib/guest-harness.h
tests_libharness_la_LIBADD = qmp/libqmp.la $(JSONC_LIBS) $(LIBEVENT_LIBS)

# The same guest with an async QMP session and a src/guest/agent.h agent
# (tests/lib/agent-harness.h): the agent and snapshot tests and benchmarks.
noinst_LTLIBRARIES += tests/libharness-agent.la
tests_libharness_agent_la_SOURCES = tests/lib/agent-harness.c tests/lib/agent-harness.h
tests_libharness_agent_la_LIBADD = tests/libharness.la src/guest/libvmagent.la

