/*
 * Reattach at start-up: vmsupd can be killed (even with SIGKILL) and
 * started again without touching its VMs. Every state file is read back;
 * a VM whose qemu still runs (same pid, same start time from
 * /proc/PID/stat, its QMP socket on the command line; a state file from
 * before start times: the command line alone) gets its QMP session
 * back, its state, balloon and accelerator re-read, its cgroup and agent
 * hooks run as for a fresh VM, and carries on. As it is not our child its
 * exit is watched through a pidfd (or /proc polling every 50 ms where
 * pidfd_open is missing). When the recorded pid is not the VM's qemu (the
 * pid reused, the file edited) that process is left alone and the qemu is
 * looked for by its pid file and QMP socket, and adopted; one that cannot
 * be found died meanwhile: the VM becomes crashed
 * (exit status unknown) and its run dir is removed; run dirs that no state
 * file claims are removed too (with their qemu, if one still runs).
 */
#ifndef VMSUP_REATTACH_H
#define VMSUP_REATTACH_H

#include <stdbool.h>
#include <sys/types.h>

#include "src/core/vm.h"

struct vmsup;

/*
 * Read the state dir into the registry. Problems with one VM are logged
 * and kept in its status; -1 with *err only when the state dir itself
 * cannot be read.
 */
int vm_reattach_all(struct vmsup *sup, char **err);

/*
 * Run the event loop until every reattached VM answers on QMP, for at
 * most max_ms: the API serves after this, and a request in between (a
 * pause right after a daemon restart) would find the VM still connecting.
 */
void vm_reattach_settle(struct vmsup *sup, int max_ms);

/*
 * The VM a state file (j, from vm_statefile_read) describes, named name
 * (its file name less ".json"), not yet in the registry and touching no
 * process: NULL with *err when the file is not one vm_statefile_write
 * wrote (version, spec, state). Free with vmsup_modules_release (what the
 * modules restored), vm_release_fields and free.
 */
struct json_object;
struct vm *vm_from_state(struct vmsup *sup, const char *name, struct json_object *j, char **err);

/* Watch an adopted qemu (vm->pid) for its exit; then vmsup_vm_exited. */
int vm_reattach_watch(struct vm *vm, char **err);

/* Free the VM's watch (the VM is freed, or its qemu is gone). */
void vm_reattach_release(struct vm *vm);

/* /proc/PID/stat field 22 (start time in clock ticks), 0 if unreadable. */
unsigned long long vm_proc_start_time(pid_t pid);

/* pid is alive (not a zombie), started at start_time, and its command
 * line names qmp_sock: the very qemu we spawned. A pid that fails this
 * (reused, or a state file edited) is never adopted nor signalled. */
bool vm_proc_is_our_qemu(pid_t pid, unsigned long long start_time, const char *qmp_sock);

/* The VM's qemu found anew (the state file's pid is not it): the pid in
 * pidfile if that process is our qemu, else a process whose command line
 * names qmp_sock; its start time in *start. 0 if there is none. */
pid_t vm_proc_find_qemu(const char *pidfile, const char *qmp_sock, unsigned long long *start);

#endif
