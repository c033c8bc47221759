# tests fragment (docs / ops, issue 11)

# The Prometheus writer, checked by the strict format checker.
check_PROGRAMS += tests/docs/test-metrics
TESTS += tests/docs/test-metrics
tests_docs_test_metrics_SOURCES = tests/docs/test-metrics.c
tests_docs_test_metrics_CPPFLAGS = $(AM_CPPFLAGS) -DDOCS_SRCDIR='"$(abs_top_srcdir)"'
tests_docs_test_metrics_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_docs_test_metrics_LDADD = src/metrics/libvmmetrics.la src/util/libvmutil.la $(CRITERION_LIBS) $(LIBEVENT_LIBS) -lm

# The checker's own tests, man page lint, ops scripts (also live), /metrics live.
TESTS += tests/docs/test-promcheck.sh tests/docs/test-man.sh tests/docs/test-scripts.sh \
	tests/docs/test-scripts-live.sh tests/docs/test-metrics-live.sh tests/docs/test-unit.sh
EXTRA_DIST += tests/docs/promcheck.py tests/docs/test_promcheck.py \
	tests/docs/test-promcheck.sh tests/docs/test-man.sh tests/docs/test-scripts.sh \
	tests/docs/test-scripts-live.sh tests/docs/test-metrics-live.sh tests/docs/live-lib.sh \
	tests/docs/test-unit.sh

# The include check (scripts/check-includes, DESIGN.md "Layers"): the tree
# passes, planted bad includes fail with file:line and the rule.
TESTS += tests/docs/test-includes.sh
EXTRA_DIST += tests/docs/test-includes.sh

# vmctl --help against vmctl(1) and the bash completion (issue 24).
TESTS += tests/docs/test-cli-docs.sh
EXTRA_DIST += tests/docs/test-cli-docs.sh

# every route in docs/API.md is routed by a live vmsupd, and every word the
# router matches is in a documented route (issue 24).
TESTS += tests/docs/test-api-routes.sh
EXTRA_DIST += tests/docs/test-api-routes.sh
