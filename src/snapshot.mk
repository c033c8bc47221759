# snapshot module fragment: boot-once templates (save/restore with QEMU
# migration) and the template store; its tests and bench/restore.
noinst_LTLIBRARIES += src/libvmsnap.la
src_libvmsnap_la_SOURCES = src/snapshot.c src/snapshot.h src/snapshot-internal.h \
	src/snapshot-devconfig.c src/snapshot-refresh.c src/template.c src/template.h
src_libvmsnap_la_LIBADD = qmp/libqmp.la src/libvmagent.la $(JSONC_LIBS) $(LIBEVENT_LIBS)

# What the tests and the benchmark share: a template saved from a
# tests/harness-agent.h guest, a restore into one.
noinst_LTLIBRARIES += tests/libsnaptest.la
tests_libsnaptest_la_SOURCES = tests/snapshot/snaptest.c tests/snapshot/snaptest.h
tests_libsnaptest_la_LIBADD = tests/libharness-agent.la src/libvmsnap.la

# No qemu: device configuration, quoting, the template store.
check_PROGRAMS += tests/test-snapshot-units
TESTS += tests/test-snapshot-units
tests_test_snapshot_units_SOURCES = tests/snapshot/test-units.c
tests_test_snapshot_units_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_snapshot_units_LDADD = src/libvmsnap.la $(CRITERION_LIBS) $(JSONC_LIBS)

# Real qemu: failures (corrupt, truncated, other devices/version) on a small
# never-booted VM, then the test guest saved and restored three times at once.
check_PROGRAMS += tests/test-snapshot-errors tests/test-snapshot-guest
TESTS += tests/test-snapshot-errors tests/test-snapshot-guest
tests_test_snapshot_errors_SOURCES = tests/snapshot/test-errors.c
tests_test_snapshot_errors_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_snapshot_errors_LDADD = tests/libsnaptest.la $(CRITERION_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS)
tests_test_snapshot_guest_SOURCES = tests/snapshot/test-guest.c
tests_test_snapshot_guest_CFLAGS = $(AM_CFLAGS) $(CRITERION_CFLAGS)
tests_test_snapshot_guest_LDADD = tests/libsnaptest.la $(CRITERION_LIBS) $(JSONC_LIBS) \
	$(LIBEVENT_LIBS)

# Benchmark (never run by make check): template -> agent vs cold boot -> agent.
bench_programs += bench/restore
bench_restore_SOURCES = bench/restore.c
bench_restore_LDADD = tests/libsnaptest.la $(JSONC_LIBS) $(LIBEVENT_LIBS) -lm

# The daemon side (issue 12): POST/GET/DELETE /v1/templates, POST /v1/vms
# {"from"}; in libvmsup, so vmsupd and vmctl's in-process daemon have it.
src_libvmsup_la_SOURCES += src/vm-template.c src/vm-template-create.c src/vm-template.h \
	src/api-template.c src/api-template.h
src_libvmsup_la_LIBADD += src/libvmsnap.la
# the warm pool: pool_template/pool_size, GET /v1/pool, POST /v1/pool/take
src_libvmsup_la_SOURCES += src/pool.c src/pool.h src/api-pool.c src/api-pool.h
# vmctl template create|list|rm and create --from
src_libvmctl_la_SOURCES += src/vmctl-template.c
