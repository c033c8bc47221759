/*
 * Where the cgroup and guest-agent modules plug into the VM lifecycle.
 * Each hook is called by the supervisor on the event loop; today they only
 * log. A hook that fails returns -1 with *err; the supervisor reports it
 * in the VM's status and, where said, refuses to go on.
 */
#ifndef VMSUP_HOOKS_H
#define VMSUP_HOOKS_H

#include <stdbool.h>

#include "src/core/vm.h"

/* qemu forked (still -S, QMP not yet up): place vm->pid in its cgroup
 * (memory.max = mem_mib + mem_overhead_mib, cpu weight from cpus). A
 * failure fails the start: the VM is killed and marked failed. */
int vmsup_hook_spawned(struct vm *vm, char **err);

/* The supervisor QMP session is ready (query-kvm done, before cont). */
void vmsup_hook_qmp_ready(struct vm *vm);

/* QMP VSERPORT_CHANGE for the agent port (id "qga0"'s virtserialport):
 * open = the guest opened org.qemu.guest_agent.0. The agent module
 * connects to vm->qga_sock and moves vm->agent_state. */
void vmsup_hook_agent_port(struct vm *vm, bool open);

/* Any QMP event (RESET, RESUME, BALLOON_CHANGE ...), after the state
 * machine has seen it: the agent refreshes its cached IP on RESET. */
void vmsup_hook_qmp_event(struct vm *vm, const char *event, struct json_object *data);

/* The qemu process is gone (reaped): drop the agent connection. */
void vmsup_hook_exited(struct vm *vm);

/* The VM is being destroyed: remove its cgroup, free vm->agent/cgroup. */
void vmsup_hook_destroyed(struct vm *vm);

#endif
