/*
 * Templates in the daemon (issue 12), on top of src/snapshot/snapshot.h and
 * src/snapshot/template.h:
 *
 *  - making one (POST /v1/templates): a throwaway qemu booted from a VM
 *    spec outside the registry (its own run dir RUN_DIR/tmpl/NAME, no
 *    spawn=deny in -sandbox: saving runs `cat` through qemu's exec:), the
 *    agent and an IP awaited, one byte read from the guest's /dev/random
 *    (so the guest's crng is initialised in the saved state: restored VMs
 *    never block on it), the state saved (guest RAM lives in the template's
 *    own file, mapped shared, so the save skips it: x-ignore-shared), meta
 *    committed, qemu killed;
 *  - VMs restored from one (POST /v1/vms {"name","from"}): the template's
 *    spec and MAC, its RAM file mapped copy-on-write, its state file passed
 *    to qemu as fd 3 with -incoming defer; the supervisor does not `cont` such a VM, the restore
 * does once the state is loaded; when the agent is ready the guest clock is set and its RNG
 * reseeded (snap_refresh; the vmgenid device in every VM's device set forces the crng reseed). Only
 * the first start restores; a later start of the same VM cold-boots the template's spec.
 *
 * Everything runs on the supervisor's loop; one supervisor per process.
 */
#ifndef VMSUP_VM_TEMPLATE_H
#define VMSUP_VM_TEMPLATE_H

#include <stdbool.h>

#include <json-c/json.h>

#include "src/core/module.h"
#include "src/core/supervisor.h"
#include "src/core/vm.h"

/* ---- making, listing, removing templates ---- */

struct vm_tmpl_job;

/*
 * POST /v1/templates: body (borrowed) is a VM spec with the template's
 * name. done gets 201 with the template's meta (plus "save_ms",
 * "state_bytes") once the template VM is gone again, or an error. Returns
 * the job while pending (for vm_template_job_detach), NULL if done was
 * already called.
 */
struct vm_tmpl_job *vm_template_create(struct vmsup *sup, struct json_object *body,
				       const struct vmsup_peer *peer, vmsup_done_fn done,
				       void *arg);
/* The client went away: the job carries on, done is not called. */
void vm_template_job_detach(struct vm_tmpl_job *j);
/* Daemon exit: kill and reap every template qemu still being made (blocks briefly). */
void vm_template_teardown(void);

/* GET /v1/templates and DELETE /v1/templates/NAME: the body, or an error
 * object with *cls set. */
struct json_object *vm_template_list(struct vmsup *sup, const char **cls);
struct json_object *vm_template_rm(struct vmsup *sup, const char *name, const char **cls);
/* POST /v1/templates/NAME/verify: tmpl_verify()'s body, or an error object
 * with *cls set (TemplateDamaged names the file). A template that verifies
 * is announced on the bus ({"event":"verified"}): a pool that stopped
 * filling from it starts again. Reads every byte on the loop. */
struct json_object *vm_template_verify(struct vmsup *sup, const char *name, const char **cls);

/*
 * Whether a clock refresh of a VM restored from template name (a restore's,
 * or a pool take's: the pool reaches these through its ops) is to try a
 * relative `date -s` first: false once one showed that the guest's date
 * cannot (busybox), so later ones go straight to guest-set-time. Per
 * daemon; forgotten when the template is saved again or removed.
 */
bool vm_template_clock_by_date(const char *name);
/* What a clock refresh of such a VM showed: by_date, a relative date set it. */
void vm_template_clock_learnt(const char *name, bool by_date);

/* ---- restoring VMs (called by the supervisor) ---- */

/*
 * Spawning: for a VM to be restored, check *argv against the template
 * (qemu version, device set), append -incoming defer, open the state file
 * into fds[0] (qemu's fd 3) and, for a template with a RAM file, its sealed
 * copy (tmpl-ram.h) into fds[1] (fd 4, the memory backend's mem-path). The
 * caller closes both after the spawn. Otherwise nothing. 0, or -1 with *err.
 */
int vm_template_argv(struct vm *vm, char ***argv, int *fds, char **err);

/* Restored, and the clock set and RNG reseeded (or that failed and was logged). */
bool vm_template_refreshed(const struct vm *vm);

/* The spawned qemu is to be restored: the supervisor must not `cont` it. */
bool vm_template_restoring(const struct vm *vm);

/* Hooks: QMP up (start the restore), process gone, VM freed. */
void vm_template_qmp_ready(struct vm *vm);
void vm_template_exited(struct vm *vm);
void vm_template_release(struct vm *vm);

/* "template": {"name","restore_ms","load_ms","agent_ms","refresh":{...}} or null. */
void vm_template_status(const struct vm *vm, struct json_object *o);
/* Reattach: the VM's template record from its state file (the status's
 * "template" object), so the status names its template again. */
void vm_template_restore(struct vm *vm, struct json_object *state);

/* Tell the bus a template was saved: {"type":"template","template":NAME,
 * "event":"saved"} (the pool waiting for it fills at once; "verified" is
 * sent by vm_template_verify). */
void vm_template_emit_saved(struct vmsup *sup, const char *name);

/* How a restore's refresh finds the VM's guest agent (the agent module's
 * vm_agent_of): the daemon sets it, a feature never calls another. */
struct agent;
void vm_template_setup(struct agent *(*agent_of)(const struct vm *vm));

/* The module the daemon registers (ctx NULL), after the agent module. */
extern const struct vm_module vm_template_module;

#endif
