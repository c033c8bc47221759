#!/bin/sh
# mesos-vm-executor figures through the fake Mesos agent (tests/fakes, the
# real schema) and a private vmsupd booting the test guest:
# LAUNCH -> TASK_RUNNING and LAUNCH -> TASK_FINISHED for `true` (5 runs each,
# a VM booted per task and one taken from the warm pool,
# medians), then KILL -> TASK_KILLED for a task that traps TERM and cleans
# up for 1 s. Run from the build directory: sh SRCDIR/bench/mesos-executor.sh
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
: "${top_builddir:=$(pwd)}" "${top_srcdir:=$here}"
: "${VMSUP_GUEST_DIR:=$top_builddir/guest}"
export top_builddir top_srcdir VMSUP_GUEST_DIR VMEXEC_FIGURES=1
t=$top_builddir/tests/executor/test-executor-vm
make -C "$top_builddir" tests/executor/test-executor-vm >/dev/null
# One run at a time: the figures are not to measure two guests booting at once.
"$t" --verbose -j1 --filter 'executor_vm_figures/*' 2>&1 |
	grep -E 'LAUNCH->|load average|FAIL|SKIP' | grep -v 'Test is disabled'
"$t" --verbose -j1 --filter 'executor_vm/kill_lets_a_term_trapping_task_clean_up' 2>&1 |
	grep -E 'KILL ->|FAIL|SKIP' | grep -v 'Test is disabled'
