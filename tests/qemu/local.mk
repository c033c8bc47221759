# tests of src/qemu (and the small pure parts of util and core they need)

# Unit tests of libvmsup's pure parts.
check_PROGRAMS += tests/test-vmsupd-unit
TESTS += tests/test-vmsupd-unit
tests_test_vmsupd_unit_SOURCES = tests/qemu/unit-argv.c tests/qemu/unit-config.c \
	tests/util/unit-name.c tests/util/unit-log.c tests/qemu/unit-spec.c tests/core/unit-states.c \
	tests/qemu/unit-qmp-guard.c
tests_test_vmsupd_unit_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_vmsupd_unit_LDADD = src/libvmsup.la $(CRITERION_LIBS)

