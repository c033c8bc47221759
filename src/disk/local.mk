# disk: a VM's disk image read and opened as the caller (backing chain,
# descriptors, qcow2 overlay, qemu's -blockdev nodes), and its glue into
# the core (vm-disk).
noinst_LTLIBRARIES += src/disk/libvmdisk.la
src_disk_libvmdisk_la_SOURCES = src/disk/disk.h src/disk/disk-chain.c \
	src/disk/disk-overlay.c
src_disk_libvmdisk_la_LIBADD = src/util/libvmutil.la $(JSONC_LIBS)

src_libvmsup_la_SOURCES += src/disk/vm-disk.c src/disk/vm-disk.h src/disk/disk-argv.c
src_libvmsup_la_LIBADD += src/disk/libvmdisk.la
