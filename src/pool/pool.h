/*
 * The warm pool (issue 12): vmsupd keeps pool_size VMs restored from
 * pool_template, their agent answering, clock set and RNG reseeded, then
 * paused. POST /v1/pool/take hands one out: resized to the task (balloon
 * down to mem_mib, CPU quota), resumed, its clock set again (a paused
 * guest's clock stands still), and it leaves the pool for good: it is an
 * ordinary VM of the registry from then on, destroyed by its taker. A pool
 * VM never serves two tasks. The pool refills in the background, one VM at
 * a time (restores compete with the tasks for the CPUs).
 *
 * Pool VMs are named pool-XXXXXXXX (random hex, free in the registry); the
 * taker learns the name from the reply. A file STATE_DIR/pool/NAME marks
 * a VM still in the pool (in the state dir, not the run dir: a VM whose
 * qemu died while no daemon ran has its run dir cleaned at reattach):
 * after a daemon restart such VMs are destroyed (their pool entry, like their pause time, is gone)
 * and the pool is filled afresh. When the pool is empty, a take restores a VM from the template
 * directly (slower, same result).
 *
 * A template whose files are not what was saved (TemplateDamaged: the
 * restore's checks, tmpl-ram.h and tmpl-hash.h) stops the filling at once,
 * without the retry loop of other failures: GET /v1/pool says
 * "template_state":"damaged" with the error naming the file, the log says
 * it once. Saving the template again, or a `vmctl template verify` that
 * passes, starts the filling again. The first fill after the daemon starts
 * reads the whole RAM file (its sealed copy is made then): that is the
 * start-up check of the pool's template.
 *
 * Everything runs on the supervisor's loop.
 */
#ifndef VMSUP_POOL_H
#define VMSUP_POOL_H

#include <json-c/json.h>

#include "src/core/supervisor.h"

/* The daemon registers the pool as a module (no ops) so routes find it. */
#define VM_POOL_MODULE "pool"

struct vm_pool;
struct vm_pool_take;
struct agent;

/* A step of a take is done: cls NULL on success (body unused). */
typedef void (*vm_pool_step_fn)(const char *cls, const char *desc, struct json_object *body,
				void *arg);

/* What the pool needs of the other features; the daemon fills it (a
 * feature never calls another by name). */
struct vm_pool_ops {
	/* the restore's agent wait, clock and RNG refresh are done */
	bool (*refreshed)(const struct vm *vm);
	/* the VM's guest agent, NULL if none */
	struct agent *(*agent_of)(const struct vm *vm);
	/* whether a take sets the clock of a VM of template tmpl by a relative
	 * date first, and what a take showed (by_date: the date did it): one
	 * memory with the template's restores (vm_template_clock_by_date) */
	bool (*clock_by_date)(const char *tmpl);
	void (*clock_learnt)(const char *tmpl, bool by_date);
	/* balloon down to mib / set the CPU quota; done called once */
	void (*balloon)(struct vmsup *sup, struct vm *vm, long long mib, vm_pool_step_fn done,
			void *arg);
	void (*quota)(struct vmsup *sup, struct vm *vm, int pct, vm_pool_step_fn done, void *arg);
};

/* NULL (and no error) when the config has no pool (pool_size 0); ops is
 * borrowed for the pool's life. The pool listens on the bus for templates
 * saved ({"type":"template","event":"saved"}) and fills at once. */
struct vm_pool *vm_pool_new(struct vmsup *sup, const struct vm_pool_ops *ops, char **err);
/* After the reattach: destroy pool VMs of an earlier run, start filling. */
void vm_pool_start(struct vm_pool *p);
/* Daemon exit, before vmsup_free: no more fills, callbacks only clean up. */
void vm_pool_stop(struct vm_pool *p);
/* After vmsup_free. */
void vm_pool_free(struct vm_pool *p);

/* GET /v1/pool: {"template","template_state":"unknown"|"ok"|"missing"|
 * "damaged","size","ready","filling","members":[...],...,"last_error"}. */
struct json_object *vm_pool_status(struct vm_pool *p);

/*
 * POST /v1/pool/take: body (borrowed, may be NULL) {"mem_mib":N,
 * "quota_pct":N}, both optional. done gets the VM (created) (plus
 * "pool":{"hit","take_ms",...}) once it runs, or an error. Returns a handle
 * while pending, NULL once done was called. The VM handed out belongs to
 * owner (the caller's uid). share_fd: the body's share as the caller's
 * check opened it (src/util/share.h; borrowed, -1 for none): the bind
 * mount is made from it, not from the path.
 */
struct vm_pool_take *vm_pool_take(struct vm_pool *p, struct json_object *body, uid_t owner,
				  int share_fd, vmsup_done_fn done, void *arg);
/* The client went away: the VM it would have got is destroyed (nobody knows its name). */
void vm_pool_take_detach(struct vm_pool_take *t);

#endif
