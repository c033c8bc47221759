# tests fragment (vmsupd-template, issue 12): templates through the real
# daemon and the test guest ($VMSUP_GUEST_DIR) under TCG.
check_PROGRAMS += tests/test-vmsupd-template
TESTS += tests/test-vmsupd-template
tests_test_vmsupd_template_SOURCES = tests/vmsupd/harness.c tests/vmsupd/harness.h \
	tests/vmsupd-template/util.c tests/vmsupd-template/util.h \
	tests/vmsupd-template/test-template.c src/b64.c src/b64.h
tests_test_vmsupd_template_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS) $(CURL_CFLAGS)
tests_test_vmsupd_template_LDADD = qmp/libqmp.la $(CRITERION_LIBS) $(CURL_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread -lm
# the daemon under test
EXTRA_tests_test_vmsupd_template_DEPENDENCIES = src/vmsupd
