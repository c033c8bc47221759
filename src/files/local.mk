# files: the kernel, initrd and shares a VM names, opened as the caller and
# handed to qemu as descriptors.
src_libvmsup_la_SOURCES += src/files/vm-files.c src/files/vm-files.h
