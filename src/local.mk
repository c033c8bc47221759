# src/: one folder per layer, each with its own fragment. Lower layers come
# first; a fragment only names files of its own folder.
#
# libvmsup is the supervisor as a library (core, the features' glue and the
# daemon's routes), linked by vmsupd and by vmctl for its in-process mode;
# each folder appends its sources to it.
noinst_LTLIBRARIES += src/libvmsup.la
src_libvmsup_la_SOURCES =
src_libvmsup_la_LIBADD =

include src/util/local.mk
include src/qemu/local.mk
include src/core/local.mk
include src/guest/local.mk
include src/limits/local.mk
include src/metrics/local.mk
include src/snapshot/local.mk
include src/disk/local.mk
include src/files/local.mk
include src/net/local.mk
include src/pool/local.mk
include src/console/local.mk
include src/daemon/local.mk
include src/client/local.mk
include src/cli/local.mk
include src/executor/local.mk
