# Test fragments, one per layer (the folders mirror src/), helpers first.
include tests/lib/local.mk
include tests/image/local.mk
include tests/qmp/local.mk
include tests/qemu/local.mk
include tests/core/local.mk
include tests/guest/local.mk
include tests/limits/local.mk
include tests/snapshot/local.mk
include tests/pool/local.mk
include tests/disk/local.mk
include tests/daemon/local.mk
include tests/cli/local.mk
include tests/executor/local.mk
include tests/docs/local.mk
include tests/fuzz/local.mk
