# tests fragment (disk): disk images under the real daemon and qemu on the
# test guest: overlays, raw never probed, persistent disks, reopen after a
# restart (issue 21). The caller's checks are in tests/daemon/access.c.
check_PROGRAMS += tests/test-vmsupd-disk
TESTS += tests/test-vmsupd-disk
tests_test_vmsupd_disk_SOURCES = $(TT_SOURCES) tests/disk/test-disk.c
tests_test_vmsupd_disk_CFLAGS = $(TT_CFLAGS)
tests_test_vmsupd_disk_LDADD = $(TT_LDADD)
EXTRA_tests_test_vmsupd_disk_DEPENDENCIES = src/daemon/vmsupd

# The Debian systemd image (skips without scripts/mkdistro.sh's image):
# two VMs on one image, run --disk with --kernel, ssh right after the
# address, shares, a graceful stop.
check_PROGRAMS += tests/test-vmsupd-disk-distro
TESTS += tests/test-vmsupd-disk-distro
tests_test_vmsupd_disk_distro_SOURCES = $(TT_SOURCES) tests/disk/test-disk-distro.c
tests_test_vmsupd_disk_distro_CFLAGS = $(TT_CFLAGS)
tests_test_vmsupd_disk_distro_LDADD = $(TT_LDADD)
EXTRA_tests_test_vmsupd_disk_distro_DEPENDENCIES = src/daemon/vmsupd src/cli/vmctl
