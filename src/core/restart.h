/*
 * A VM's restart policy (its spec's "restart"), like systemd's Restart=
 * with StartLimitBurst/StartLimitIntervalSec:
 *  - never: a VM that goes down stays down;
 *  - on-failure: restarted when qemu crashed or failed to start;
 *  - always: also when the guest powered itself off.
 * A stop, kill or destroy asked for through the API, or the daemon's own
 * shutdown, is never undone. Attempts are spaced 1 s, 2 s, 4 s ... capped
 * at 30 s; at most restart_burst restarts within restart_interval_s, after
 * which the VM stays crashed/failed and its error says why.
 */
#ifndef VMSUP_RESTART_H
#define VMSUP_RESTART_H

#include <stdbool.h>

#include <json-c/json.h>

#include "src/core/vm.h"

#define VM_RESTART_BACKOFF_MS	  1000u
#define VM_RESTART_BACKOFF_MAX_MS 30000u

/* The VM's qemu is gone and its new state is set: apply the policy
 * (arms a timer; never starts anything synchronously). */
void vm_restart_exited(struct vm *vm);

/* Free the VM's restart state (pending attempt cancelled). */
void vm_restart_release(struct vm *vm);

/* An attempt is armed: the VM is down and will be started again. */
bool vm_restart_pending(const struct vm *vm);

/* Adds "restart_pending_s" (seconds to the next attempt, or null) to a
 * VM's status object. */
void vm_restart_status(const struct vm *vm, struct json_object *o);

/* ---- pure parts (unit tests) ---- */

/* Delay before attempt number `step` (0-based): 1 s doubling, capped. */
unsigned vm_restart_backoff_ms(unsigned step);

/* Whether policy restarts a VM that went to state st; requested = the
 * stop came from the API or the daemon's shutdown. */
bool vm_restart_wanted(const char *policy, enum vm_state st, bool requested);

#endif
