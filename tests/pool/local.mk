# tests of src/pool: the warm pool through the real daemon

# the warm pool (pool_template, pool_size): fill, take, refill, restart, vmctl run --pool
check_PROGRAMS += tests/test-vmsupd-pool
TESTS += tests/test-vmsupd-pool
tests_test_vmsupd_pool_SOURCES = $(TT_SOURCES) tests/pool/test-pool.c tests/pool/test-pool-idmap.c \
	tests/daemon/as-user.c tests/daemon/as-user.h
tests_test_vmsupd_pool_CFLAGS = $(TT_CFLAGS)
tests_test_vmsupd_pool_LDADD = $(TT_LDADD)
EXTRA_tests_test_vmsupd_pool_DEPENDENCIES = src/daemon/vmsupd src/cli/vmctl
