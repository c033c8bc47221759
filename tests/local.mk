# Test fragments, one per owner.
include tests/qmp.mk
include tests/guest.mk
include tests/vmsupd.mk
include tests/vmctl.mk
include tests/cgroup.mk
include tests/agent.mk
include tests/executor.mk
include tests/docs.mk
include tests/vmsupd-agent.mk
include tests/vmsupd-limits.mk
include tests/vmsupd-reattach.mk
include tests/vmsupd-harden.mk
include tests/vmsupd-template.mk
include tests/snapshot.mk
