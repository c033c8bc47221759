/*
 * The registry of VMs and their lifecycle, on one libevent loop: spawning,
 * a supervisor QMP session per VM, state driven by QMP events and SIGCHLD,
 * the event bus behind GET /v1/events. Operations are asynchronous: each
 * ends with one call of its done callback (possibly before it returns).
 */
#ifndef VMSUP_SUPERVISOR_H
#define VMSUP_SUPERVISOR_H

#include <stdbool.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "src/qemu/config.h"
#include "src/core/vm.h"

struct vmsup;
struct waiter;

/* An operation's outcome as the API sends it: HTTP status, and either an
 * error (cls + desc) or a body (borrowed for the duration of the call). */
struct vmsup_result {
	int status;
	const char *cls; /* NULL on success */
	const char *desc;
	struct json_object *body;
};
typedef void (*vmsup_done_fn)(const struct vmsup_result *r, void *arg);

/* cfg is copied. Creates run_dir/vm and state_dir; probes qemu. */
struct vmsup *vmsup_new(struct event_base *base, const struct vmsup_config *cfg, char **err);
/* Frees the registry. qemu processes are left running (see shutdown). */
void vmsup_free(struct vmsup *sup);

const struct vmsup_config *vmsup_config(const struct vmsup *sup);
const char *vmsup_qemu_version(const struct vmsup *sup);
/* qemu has -sandbox (probed once, at vmsup_new). */
bool vmsup_qemu_sandbox(const struct vmsup *sup);

/*
 * POST /v1/vms: spec is borrowed. The result comes once the VM is running
 * (or failed), or at once with "start": false. Returns a handle while the
 * request is pending (vmsup_cancel it if the client goes away), NULL once
 * done is already called.
 */
struct waiter *vmsup_create(struct vmsup *sup, struct json_object *spec, vmsup_done_fn done,
			    void *arg);

/*
 * A lifecycle operation on a VM. args (borrowed, may be NULL):
 * stop/destroy {"timeout_s":N}; qmp: the QMP command object.
 */
struct waiter *vmsup_op(struct vmsup *sup, const char *name, enum vm_op op,
			struct json_object *args, vmsup_done_fn done, void *arg);

/* The client went away: done will not be called. */
void vmsup_cancel(struct waiter *w);

/* {"vms":[...]} and one VM (NULL if unknown); new objects. */
struct json_object *vmsup_list(struct vmsup *sup);
struct json_object *vmsup_get(struct vmsup *sup, const char *name);
struct vm *vmsup_find(struct vmsup *sup, const char *name);
/* Iterate (for /metrics): first, then vm->next. */
struct vm *vmsup_first(struct vmsup *sup);
size_t vmsup_count(const struct vmsup *sup);

/* The limits and metrics module's daemon-wide state (src/limits/vm-limits.h),
 * set by the daemon after vmsup_new; NULL (the default) = not active. */
struct vm_limits;
void vmsup_set_limits(struct vmsup *sup, struct vm_limits *l);
struct vm_limits *vmsup_limits(const struct vmsup *sup);

/* The warm pool (src/pool/pool.h), set by the daemon; NULL = none. */
struct vm_pool;
void vmsup_set_pool(struct vmsup *sup, struct vm_pool *p);
struct vm_pool *vmsup_pool(const struct vmsup *sup);

/* Event bus: ev borrowed; vm_filter NULL = all VMs. Returns a handle > 0. */
typedef void (*vmsup_event_fn)(struct json_object *ev, void *arg);
int vmsup_subscribe(struct vmsup *sup, const char *vm_filter, vmsup_event_fn fn, void *arg);
void vmsup_unsubscribe(struct vmsup *sup, int handle);

/*
 * Stop every VM (power-off, then quit and SIGKILL, bounded by the grace
 * period); done is called once no qemu process is left.
 */
void vmsup_shutdown(struct vmsup *sup, void (*done)(void *arg), void *arg);

/* Publish an event for vm (used by the hooks' modules): ev taken. */
void vmsup_emit(struct vmsup *sup, struct vm *vm, struct json_object *ev);

/* ---- for reattach (src/core/reattach.c) and restart policy (src/core/restart.c) ---- */

struct event_base *vmsup_base(const struct vmsup *sup);
bool vmsup_shutting_down(const struct vmsup *sup);
/* Fill vm->run_dir and the socket/log paths from the daemon's run_dir. */
int vmsup_vm_paths(struct vm *vm, char **err);
/* Add a VM rebuilt from its state file to the registry (vm->sup set). */
void vmsup_adopt(struct vm *vm);
/* vm->qmp (connected) feeds the state machine as a spawned VM's does. */
void vmsup_vm_qmp_attach(struct vm *vm);
void vmsup_vm_set_state(struct vm *vm, enum vm_state to); /* may free vm (destroy) */
void vmsup_vm_save(struct vm *vm);
/* An adopted qemu is gone (exit status unknown): may free vm. */
void vmsup_vm_exited(struct vm *vm);
void vmsup_vm_rm_run_dir(struct vm *vm);
/* Start the VM's qemu again, counting it in vm->restarts; -1 if it failed
 * at once (vm->state failed, vm->error says why). */
int vmsup_vm_restart(struct vm *vm);

#endif
