# tests fragment (qmp)
qmp_test_sources = tests/qmp/util.c tests/qmp/util.h \
	tests/fakes/qmp-server.c tests/fakes/qmp-server.h
# Scripts are arrays of partly initialised steps.
qmp_test_cflags = $(AM_CFLAGS) $(CRITERION_CFLAGS) -pthread -Wno-missing-field-initializers
qmp_test_ldadd = qmp/libqmp.la $(CRITERION_LIBS) $(JSONC_LIBS) $(LIBEVENT_LIBS) -lpthread

# Parser and session against the scripted fake server (fault injection).
check_PROGRAMS += tests/test-qmp
TESTS += tests/test-qmp
tests_test_qmp_SOURCES = tests/qmp/parser.c tests/qmp/session.c tests/qmp/qga.c \
	tests/qmp/fake-env.c tests/qmp/fake-env.h $(qmp_test_sources)
tests_test_qmp_CFLAGS = $(qmp_test_cflags)
tests_test_qmp_LDADD = $(qmp_test_ldadd)

# Against a real, guest-less qemu-system-x86_64, and the real qemu-ga on a
# unix socket when one is found ($QEMU_GA or PATH; skipped otherwise).
check_PROGRAMS += tests/test-qmp-qemu
TESTS += tests/test-qmp-qemu
tests_test_qmp_qemu_SOURCES = tests/qmp/qemu.c tests/qmp/qga-real.c tests/qmp/qemu-proc.c tests/qmp/qemu.h \
	tests/qmp/util.c tests/qmp/util.h
tests_test_qmp_qemu_CFLAGS = $(qmp_test_cflags)
tests_test_qmp_qemu_LDADD = $(qmp_test_ldadd)

