/*
 * How the core reaches the features: each feature (guest agent, limits,
 * metrics, templates) fills one table of ops and the daemon registers it
 * with vmsup_register. The core calls every registered module's op at the
 * matching point of a VM's life and never names a feature; features hear
 * about everything else through the event bus (vmsup_subscribe). This is
 * the shape of libvirt's qemuMonitorCallbacks and of crun's cgroup
 * manager tables.
 *
 * Forward points (create ... status) go in registration order, teardown
 * points (exited, destroyed, release) in reverse order, so a module
 * registered after another may rely on it for its whole life. Every op is
 * optional; ctx is the pointer given at registration.
 */
#ifndef VMSUP_MODULE_H
#define VMSUP_MODULE_H

#include <stdbool.h>

#include <json-c/json.h>

#include "src/core/vm.h"
#include "src/qemu/spawn.h"
#include "src/util/peer.h"

struct vmsup;

struct vm_module {
	const char *name;
	/* POST /v1/vms: a module may build the spec from fields it owns
	 * ("from" a template). 1 = it filled vm->spec and vm->mac, 0 = not
	 * its business, -1 with *cls and *err = refuse the create. */
	int (*create)(void *ctx, struct vmsup *sup, struct json_object *body, struct vm *vm,
		      const char **cls, char **err);
	/* POST /v1/vms, once the spec is valid and its name free: check and
	 * open what the spec names as the caller would (peer; NULL = the
	 * daemon itself). -1 with *cls and *err refuses the create. */
	int (*prepare)(void *ctx, struct vm *vm, const struct vmsup_peer *peer, const char **cls,
		       char **err);
	/* qemu's argv is built: add arguments, and descriptors for qemu's
	 * fds 3.. in fds[VM_SPAWN_FDS] (restore: the state, the RAM). */
	int (*argv)(void *ctx, struct vm *vm, char ***argv, int *fds, char **err);
	/* qemu forked, still -S: a failure fails the start (VM killed). */
	int (*spawned)(void *ctx, struct vm *vm, char **err);
	/* qemu of an earlier daemon was adopted (reattach). */
	void (*adopted)(void *ctx, struct vm *vm);
	/* a VM is rebuilt from its state file (reattach, before it joins the
	 * registry): read back the fields the module's status op wrote
	 * there (state is the whole file, vm_to_json plus the core's). */
	void (*restore)(void *ctx, struct vm *vm, struct json_object *state);
	/* true: the module resumes the VM itself (a restore, once its state
	 * is loaded), so the core must not send "cont". */
	bool (*holds_cont)(void *ctx, const struct vm *vm);
	/* the supervisor QMP session is ready (query-kvm sent, cont sent). */
	void (*qmp_ready)(void *ctx, struct vm *vm);
	/* any QMP event, after the state machine has seen it. */
	void (*qmp_event)(void *ctx, struct vm *vm, const char *event, struct json_object *data);
	/* a QMP command of the supervisor got its reply after seconds. */
	void (*qmp_rtt)(void *ctx, double seconds);
	/* qemu is gone and the core asks why, before exited: a module that
	 * knows (the kernel's OOM killer in its cgroup) returns a short
	 * token for the status ("oom") and writes a sentence into desc. */
	const char *(*exit_reason)(void *ctx, struct vm *vm, char *desc, size_t size);
	/* the qemu process is gone (reaped or its pidfd fired). */
	void (*exited)(void *ctx, struct vm *vm);
	/* the VM is being removed from the registry. */
	void (*destroyed)(void *ctx, struct vm *vm);
	/* free what the module keeps per VM (also on a failed create). */
	void (*release)(void *ctx, struct vm *vm);
	/* add the module's fields to the VM's status object. */
	void (*status)(void *ctx, const struct vm *vm, struct json_object *o);
};

#define VMSUP_MAX_MODULES 12

/* m is borrowed for the registry's life; -1 when the table is full. */
int vmsup_register(struct vmsup *sup, const struct vm_module *m, void *ctx);
/* The ctx a module registered with, by name; NULL if none. */
void *vmsup_module_ctx(const struct vmsup *sup, const char *name);

/* The core's side: call op on every module (see the order above). */
int vmsup_modules_create(struct vmsup *sup, struct json_object *body, struct vm *vm,
			 const char **cls, char **err);
int vmsup_modules_prepare(struct vm *vm, const struct vmsup_peer *peer, const char **cls,
			  char **err);
int vmsup_modules_argv(struct vm *vm, char ***argv, int *fds, char **err);
int vmsup_modules_spawned(struct vm *vm, char **err);
void vmsup_modules_adopted(struct vm *vm);
void vmsup_modules_restore(struct vm *vm, struct json_object *state);
bool vmsup_modules_hold_cont(const struct vm *vm);
void vmsup_modules_qmp_ready(struct vm *vm);
void vmsup_modules_qmp_event(struct vm *vm, const char *event, struct json_object *data);
void vmsup_modules_qmp_rtt(struct vmsup *sup, double seconds);
const char *vmsup_modules_exit_reason(struct vm *vm, char *desc, size_t size);
void vmsup_modules_exited(struct vm *vm);
void vmsup_modules_destroyed(struct vm *vm);
void vmsup_modules_release(struct vm *vm);
void vmsup_modules_status(const struct vm *vm, struct json_object *o);

#endif
