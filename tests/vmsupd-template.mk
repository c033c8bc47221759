# tests fragment (vmsupd-template, issue 12): templates and the warm pool
# through the real daemon and the test guest ($VMSUP_GUEST_DIR) under TCG.
TT_SOURCES = tests/vmsupd/harness.c tests/vmsupd/harness.h \
	tests/vmsupd-template/util.c tests/vmsupd-template/util.h src/util/b64.c src/util/b64.h
TT_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
TT_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread -lm

check_PROGRAMS += tests/test-vmsupd-template
TESTS += tests/test-vmsupd-template
tests_test_vmsupd_template_SOURCES = $(TT_SOURCES) tests/vmsupd-template/test-template.c
tests_test_vmsupd_template_CFLAGS = $(TT_CFLAGS)
tests_test_vmsupd_template_LDADD = $(TT_LDADD)
# the daemon under test
EXTRA_tests_test_vmsupd_template_DEPENDENCIES = src/daemon/vmsupd

# the warm pool (pool_template, pool_size): fill, take, refill, restart, vmctl run --pool
check_PROGRAMS += tests/test-vmsupd-pool
TESTS += tests/test-vmsupd-pool
tests_test_vmsupd_pool_SOURCES = $(TT_SOURCES) tests/vmsupd-template/test-pool.c
tests_test_vmsupd_pool_CFLAGS = $(TT_CFLAGS)
tests_test_vmsupd_pool_LDADD = $(TT_LDADD)
EXTRA_tests_test_vmsupd_pool_DEPENDENCIES = src/daemon/vmsupd src/cli/vmctl
