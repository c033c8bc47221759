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
#include "qmp/qmp.h"
#include "src/core/vm.h"
#include "src/util/peer.h"

struct vmsup;
struct waiter;

/* An operation's outcome: either an error (cls, one of src/util/err.h's
 * classes or qemu's own, + desc) or a body, borrowed for the duration of
 * the call. The daemon turns cls into an HTTP status. */
struct vmsup_result {
	const char *cls; /* NULL on success */
	const char *desc;
	struct json_object *body;
	bool created; /* success that created a VM (POST /v1/vms) */
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
 * POST /v1/vms: spec is borrowed; peer is the caller the files it names
 * are checked and opened as (NULL: the daemon itself). The result comes once the VM is running
 * (or failed), or at once with "start": false. Returns a handle while the
 * request is pending (vmsup_cancel it if the client goes away), NULL once
 * done is already called.
 */
struct waiter *vmsup_create(struct vmsup *sup, struct json_object *spec,
			    const struct vmsup_peer *peer, vmsup_done_fn done, void *arg);

/*
 * A lifecycle operation on a VM. args (borrowed, may be NULL):
 * stop/destroy {"timeout_s":N}, destroy also {"force":true} (SIGKILL at
 * once, no ACPI, no grace); qmp: the QMP command object.
 */
struct waiter *vmsup_op(struct vmsup *sup, const char *name, enum vm_op op,
			struct json_object *args, vmsup_done_fn done, void *arg);

/* The client went away: done will not be called. */
void vmsup_cancel(struct waiter *w);

struct evbuffer;

/* Whether the list shows vm (e.g. to its owner and admins only). */
typedef bool (*vmsup_vm_shown_fn)(const struct vm *vm, const void *arg);

/* {"vms":[...]} and a newline, the VMs shown (shown NULL: all) as
 * vm_to_json has them, appended to out; -1: out of memory (out holds part
 * of it). From each VM's record kept as text between changes (vm-status.c). */
int vmsup_list_write(struct vmsup *sup, struct evbuffer *out, vmsup_vm_shown_fn shown,
		     const void *arg);

/* One VM (NULL if unknown); a new object. */
struct json_object *vmsup_get(struct vmsup *sup, const char *name);
struct vm *vmsup_find(struct vmsup *sup, const char *name);
/* Iterate (for /metrics): first, then vm->next. */
struct vm *vmsup_first(struct vmsup *sup);
/* Whether a VM of sup other than except (may be NULL) has this MAC. */
bool vmsup_mac_in_use(struct vmsup *sup, const char *mac, const struct vm *except);
size_t vmsup_count(const struct vmsup *sup);

/* Event bus: ev borrowed; vm_filter NULL = all VMs. Returns a handle > 0. */
typedef void (*vmsup_event_fn)(struct json_object *ev, void *arg);
int vmsup_subscribe(struct vmsup *sup, const char *vm_filter, vmsup_event_fn fn, void *arg);
void vmsup_unsubscribe(struct vmsup *sup, int handle);

/*
 * Stop every VM (power-off, then quit and SIGKILL, bounded by the grace
 * period); done is called once no qemu process is left.
 */
void vmsup_shutdown(struct vmsup *sup, void (*done)(void *arg), void *arg);

/*
 * The daemon exits and leaves every VM running for the next one (which
 * reattaches them): pending requests fail with ShuttingDown now, nothing
 * new starts. State files are flushed and monitors closed by vmsup_free.
 */
void vmsup_detach(struct vmsup *sup);

/* Publish an event for vm (NULL: about no VM, e.g. a template): ev taken. */
void vmsup_emit(struct vmsup *sup, struct vm *vm, struct json_object *ev);

/* ---- for reattach (src/core/reattach.c) and restart policy (src/core/restart.c) ---- */

struct event_base *vmsup_base(const struct vmsup *sup);
bool vmsup_shutting_down(const struct vmsup *sup);
/* Fill vm->run_dir and the socket/log paths from the daemon's run_dir. */
int vmsup_vm_paths(struct vm *vm, char **err);
/* Serve vm->ops_sock again for a reattached qemu whose ops monitor is the
 * private ops-qemu.sock (a qemu started before the ops proxy serves
 * ops.sock itself: 0, nothing done). */
int vmsup_vm_ops_reattach(struct vm *vm, char **err);
/* Add a VM rebuilt from its state file to the registry (vm->sup set). */
void vmsup_adopt(struct vm *vm);
/* vm->qmp (connected) feeds the state machine as a spawned VM's does. */
void vmsup_vm_qmp_attach(struct vm *vm);
void vmsup_vm_set_state(struct vm *vm, enum vm_state to); /* may free vm (destroy) */
void vmsup_vm_save(struct vm *vm);
/* Hand the VM's state file to the writer thread now (the loop does not wait). */
void vmsup_vm_save_start(struct vm *vm);
/*
 * Reply through done (r->body: body, or the VM's status when NULL) once
 * the VM's state file writes queued so far are on disk: a change the API
 * made is not lost by a kill -9 of the daemon right after its reply
 * (r->created: created). A failed write replies all the same: the VM
 * shows state_unsaved and the write is tried again, as for a create or a
 * pause. Returns a handle for vmsup_cancel while the reply waits, NULL
 * when done has run already.
 */
struct waiter *vmsup_vm_reply_saved(struct vm *vm, struct json_object *body, bool created,
				    vmsup_done_fn done, void *arg);
/* Every change not yet on disk written, waiting for the writer thread
 * (start-up: what the reattach put right is on disk before the API serves). */
void vmsup_save_all_now(struct vmsup *sup);
/* An adopted qemu is gone (exit status unknown): may free vm. */
void vmsup_vm_exited(struct vm *vm);
void vmsup_vm_rm_run_dir(struct vm *vm);
/* Start the VM's qemu again, counting it in vm->restarts; -1 if it failed
 * at once (vm->state failed, vm->error says why). */
int vmsup_vm_restart(struct vm *vm);
/* Does vm's qemu get its shares as idmapped mounts showing each share's
 * owner as qemu's ids *uid / *gid? True for root's VM with shares under
 * the default qemu_user (its qemu is that user, not root). */
bool vmsup_vm_share_idmap(const struct vm *vm, uid_t *uid, gid_t *gid);

/*
 * qmp_call / qmp_call_raw on vm->qmp for the supervisor and its modules:
 * the round trip is timed (module op qmp_rtt) and a timeout marks the
 * monitor unresponsive in the status. Same contract as libqmp's: fn is
 * called exactly once unless -1 is returned; args / cmd are taken over.
 */
int64_t vm_qmp_call(struct vm *vm, const char *cmd, struct json_object *args, unsigned timeout_ms,
		    qmp_reply_fn fn, void *arg, struct qmp_error *err);
int64_t vm_qmp_call_raw(struct vm *vm, struct json_object *cmd, unsigned timeout_ms,
			qmp_reply_fn fn, void *arg, struct qmp_error *err);

/* The VM cannot go on although qemu runs (internal-error, a guest panic):
 * it becomes crashed with why in its error once qemu is gone, which
 * kill_qemu brings about now (else qemu is quitting by itself). */
void vmsup_vm_fatal(struct vm *vm, const char *why, bool kill_qemu);
/* A query-status "status" read back (e.g. at reattach): fatal ones
 * (internal-error, guest-panicked) as above. */
void vmsup_vm_check_status(struct vm *vm, const char *status);

/* The VM is on its way down (stop, kill or a guest power-off seen). */
bool vmsup_vm_stopping(const struct vm *vm);

#endif
