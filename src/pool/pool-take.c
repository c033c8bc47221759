/* Handing a VM out of the pool: POST /v1/pool/take (see pool.h). */
#include "src/pool/pool-internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/guest/agent.h"
#include "src/qemu/spawn.h"
#include "src/qemu/stage.h"
#include "src/snapshot/snapshot.h"
#include "src/util/err.h"
#include "src/util/log.h"

/*
 * The pool's VM until now: the taker's from here on, also after a restart,
 * so on disk before the reply (take_finish holds it). Handed to the state
 * file's writer thread while the guest sets its clock, so the write is not
 * a wait of its own.
 */
static void take_own(struct vm_pool_take *t, struct vm *vm)
{
	if (t->owned)
		return;
	t->owned = true;
	vm->owner = t->owner;
	vm_status_changed(vm);
	vmsup_vm_save_start(vm);
}

/* The reply, once the owner is on disk. */
static void on_saved(const struct vmsup_result *r, void *arg)
{
	struct vm_pool_take *t = arg;

	t->held = NULL;
	if (t->done && !t->detached)
		t->done(r, t->arg);
	t->done = NULL;
	pool_reap_soon(t->p);
}

static void take_finish(struct vm_pool_take *t, const char *cls, const char *desc)
{
	struct vm_pool *p = t->p;
	struct vmsup_result r = {cls, desc, NULL, !cls};
	struct json_object *o = NULL, *po;
	struct vm *vm;

	if (t->finished)
		return;
	t->finished = true;
	if (cls || t->detached) {
		/* a VM half handed out, or to nobody: it must not live on */
		if (t->name[0])
			pool_destroy_vm(p, t->name);
	} else if ((vm = vmsup_find(p->sup, t->name))) {
		take_own(t, vm);
		o = vmsup_get(p->sup, t->name);
		po = json_object_new_object();
		json_object_object_add(po, "hit", json_object_new_boolean(t->hit));
		json_object_object_add(
		    po, "take_ms",
		    json_object_new_double((double)(long long)((pool_now_ms() - t->t0) * 10) / 10));
		json_object_object_add(po, "clock_set", json_object_new_boolean(t->clock_set));
		json_object_object_add(po, "clock_skew_ms",
				       t->clock_set ? json_object_new_double(t->skew_ms) : NULL);
		json_object_object_add(
		    po, "clock_method",
		    !t->clock_set
			? NULL
			: json_object_new_string(t->clock_by_date ? "date" : "guest-set-time"));
		json_object_object_add(po, "clock_date_failed",
				       json_object_new_boolean(t->clock_date_failed));
		json_object_object_add(po, "clock_error",
				       t->clock_error[0] ? json_object_new_string(t->clock_error)
							 : NULL);
		json_object_object_add(o, "pool", po);
		LOG_I(t->name, "pool: taken (%s) in %.1f ms", t->hit ? "warm" : "restored",
		      pool_now_ms() - t->t0);
		t->held = vmsup_vm_reply_saved(vm, o, true, on_saved, t);
		json_object_put(o);
		return;
	} else {
		r = (struct vmsup_result){VMSUP_EC_CONFLICT, "the VM was destroyed meanwhile", NULL,
					  false};
	}
	if (t->done && !t->detached)
		t->done(&r, t->arg);
	t->done = NULL;
	json_object_put(o);
	pool_reap_soon(p);
}

static void take_next(struct vm_pool_take *t);

static void on_limit(const char *cls, const char *desc, struct json_object *body, void *arg)
{
	struct vm_pool_take *t = arg;
	(void)body;

	if (t->finished)
		return;
	if (cls) {
		take_finish(t, cls, desc);
		return;
	}
	take_next(t);
}

static void on_cont(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		    void *arg)
{
	struct vm_pool_take *t = arg;
	struct vm *vm;
	char why[300];
	(void)s, (void)ret;

	if (t->finished)
		return;
	if (err) {
		snprintf(why, sizeof(why), "cont: %s", err->desc);
		take_finish(t, err->cls, why);
		return;
	}
	/* qemu sends RESUME before this reply; in case one did not */
	if ((vm = vmsup_find(t->p->sup, t->name)) && vm->state == VM_PAUSED)
		vmsup_vm_set_state(vm, VM_RUNNING);
	take_next(t);
}

static void on_clock(const struct snap_refresh_result *res, void *arg)
{
	struct vm_pool_take *t = arg;

	t->clock = NULL;
	if (res->time_set)
		t->p->ops->clock_learnt(t->p->tmpl, res->clock_by_date);
	t->clock_set = res->time_set;
	t->clock_by_date = res->clock_by_date;
	t->clock_date_failed = res->date_failed;
	t->skew_ms = res->skew_ms;
	snprintf(t->clock_error, sizeof(t->clock_error), "%s", res->time_error);
	if (!res->time_set)
		LOG_W(t->name, "pool: clock not set after resume: %s", res->time_error);
	take_next(t);
}

static void on_mounted(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct vm_pool_take *t = arg;
	char why[600];

	if (t->finished)
		return;
	if (err || res->status != 0) {
		snprintf(why, sizeof(why), "mounting %s in the guest: %s%.*s", t->share,
			 err ? err->desc : "",
			 err ? 0 : (int)(res->err_len > 300 ? 300 : res->err_len),
			 err ? "" : (const char *)res->err);
		take_finish(t, VMSUP_EC_MOUNT, why);
		return;
	}
	take_next(t);
}

/* A VM restored just now: its agent (and refresh) first, polled. */
static void on_agent_wait(evutil_socket_t fd, short what, void *arg)
{
	struct vm_pool_take *t = arg;
	struct vm *vm = vmsup_find(t->p->sup, t->name);
	struct timeval tv = {0, READY_POLL_MS * 1000};
	(void)fd, (void)what;

	if (t->finished)
		return;
	if (vm && !t->p->ops->refreshed(vm) && pool_now_ms() - t->t0 < FILL_TIMEOUT_MS) {
		evtimer_add(t->wait, &tv);
		return;
	}
	take_next(t);
}

enum { S_BALLOON, S_CPU, S_BIND, S_RESUME, S_AGENT, S_MOUNT, S_CLOCK, S_DONE };

/* The steps of a take, each skipped when it has nothing to do. */
static void take_next(struct vm_pool_take *t)
{
	struct vm_pool *p = t->p;
	struct vm *vm = vmsup_find(p->sup, t->name);
	char *err = NULL;

	if (t->finished)
		return;
	if (p->stopped || !vm) {
		take_finish(t, VMSUP_EC_SHUTTING_DOWN,
			    p->stopped ? "the daemon is shutting down" : "the VM is gone");
		return;
	}
	switch (t->step++) {
	case S_BALLOON:
		if (t->mem_mib && t->mem_mib < vm->spec.mem_mib) {
			p->ops->balloon(p->sup, vm, t->mem_mib, on_limit, t);
			return;
		}
		/* fallthrough */
	case S_CPU:
		t->step = S_BIND;
		if (t->quota_pct) {
			p->ops->quota(p->sup, vm, t->quota_pct, on_limit, t);
			return;
		}
		/* fallthrough */
	case S_BIND:
		t->step = S_RESUME;
		if (t->share &&
		    vm_stage_bind(vm->run_dir, t->share, t->share_fd, t->share_ro, &err)) {
			take_finish(t, VMSUP_EC_SHARE, err);
			free(err);
			return;
		}
		/* fallthrough */
	case S_RESUME:
		t->step = S_AGENT;
		if (vm->state == VM_PAUSED) {
			/* cont on the monitor, not the resume operation, whose reply
			 * waits for the state file: the take's reply waits for it
			 * anyway (take_finish), the clock set need not */
			struct qmp_error e = {0};
			if (vm_qmp_call(vm, "cont", NULL, CONT_TIMEOUT_MS, on_cont, t, &e) < 0)
				take_finish(t, e.cls, e.desc);
			return;
		}
		/* fallthrough */
	case S_AGENT:
		t->step = S_MOUNT;
		if (t->share && !t->hit && !p->ops->refreshed(vm)) {
			struct timeval tv = {0, READY_POLL_MS * 1000};
			if (!t->wait && !(t->wait = evtimer_new(p->base, on_agent_wait, t))) {
				take_finish(t, VMSUP_EC_INTERNAL, "out of memory");
				return;
			}
			evtimer_add(t->wait, &tv);
			return;
		}
		/* fallthrough */
	case S_MOUNT:
		t->step = S_CLOCK;
		if (t->share) {
			struct qmp_error e = {0};
			struct agent *a = p->ops->agent_of(vm);
			if (!a || !agent_exec(a, vm_stage_guest_argv(t->share, t->share_ro), NULL,
					      0, 30000, on_mounted, t, &e)) {
				char why[300];
				snprintf(why, sizeof(why), "mounting %s in the guest: %s", t->share,
					 a ? e.desc : "no guest agent");
				take_finish(t, VMSUP_EC_MOUNT, why);
			}
			return;
		}
		/* fallthrough */
	case S_CLOCK:
		t->step = S_DONE;
		/* a restored-now VM gets its clock from the restore's refresh */
		if (t->hit) {
			if (p->ops->agent_of(vm) &&
			    (t->clock = snap_refresh_clock(p->base, p->ops->agent_of(vm),
							   p->ops->clock_by_date(p->tmpl), on_clock,
							   t, &err))) {
				/* the writer thread saves the owner while the guest
				 * answers the refresh */
				take_own(t, vm);
				return;
			}
			snprintf(t->clock_error, sizeof(t->clock_error), "%s",
				 err ? err : "no guest agent");
			LOG_W(t->name, "pool: clock not set after resume: %s", t->clock_error);
			free(err);
		}
		/* fallthrough */
	default:
		take_finish(t, NULL, NULL);
	}
}

static void on_miss_created(const struct vmsup_result *r, void *arg)
{
	struct vm_pool_take *t = arg;

	if (t->finished)
		return;
	if (r->cls) {
		take_finish(t, !strcmp(r->cls, VMSUP_EC_NOT_FOUND) ? VMSUP_EC_POOL_EMPTY : r->cls,
			    r->desc);
		return;
	}
	take_next(t);
}

/* "shares": at most one, checked as a VM spec's (src/qemu/spec.h). 0, or -1 with why. */
static int take_share(struct vm_pool_take *t, struct json_object *v, char *why, size_t len)
{
	struct json_object *j = json_object_new_object();
	struct vm_spec sp;
	char *err = NULL;
	int rc = -1;

	json_object_object_add(j, "name", json_object_new_string("take"));
	json_object_object_add(j, "shares", json_object_get(v));
	if (vm_spec_from_json(j, vmsup_config(t->p->sup), &sp, &err)) {
		snprintf(why, len, "%s", err ? err : "bad shares");
	} else if (sp.nshares > 1) {
		snprintf(why, len, "'shares': a pool VM takes one share (its staging export)");
	} else if (sp.nshares == 1 && !(t->share = strdup(sp.shares[0].path))) {
		snprintf(why, len, "out of memory");
	} else {
		t->share_ro = sp.nshares == 1 && sp.shares[0].readonly;
		rc = 0;
	}
	vm_spec_release(&sp);
	free(err);
	json_object_put(j);
	return rc;
}

/* 0, or -1 after finishing t with InvalidParameter. */
static int take_parse(struct vm_pool_take *t, struct json_object *body)
{
	char why[200] = "";

	if (body && !json_object_is_type(body, json_type_object)) {
		take_finish(t, VMSUP_EC_INVALID, "the body must be a JSON object");
		return -1;
	}
	if (!body)
		return 0;
	json_object_object_foreach(body, k, v)
	{
		int64_t n;
		if (!strcmp(k, "shares")) {
			if (take_share(t, v, why, sizeof(why)))
				break;
			continue;
		}
		if (strcmp(k, "mem_mib") && strcmp(k, "quota_pct")) {
			snprintf(why, sizeof(why),
				 "unknown field '%s' (allowed: mem_mib, quota_pct, shares)", k);
			break;
		}
		n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
		if (!strcmp(k, "mem_mib") && (n < VM_MEM_MIN || n > VM_MEM_MAX))
			snprintf(why, sizeof(why), "'mem_mib' must be an integer in %u..%u",
				 VM_MEM_MIN, VM_MEM_MAX);
		else if (!strcmp(k, "quota_pct") && (n < 1 || n > VMSUP_QUOTA_PCT_MAX))
			snprintf(why, sizeof(why), "'quota_pct' must be an integer in 1..%u",
				 VMSUP_QUOTA_PCT_MAX);
		else if (!strcmp(k, "mem_mib"))
			t->mem_mib = n;
		else
			t->quota_pct = (int)n;
		if (why[0])
			break;
	}
	if (why[0]) {
		take_finish(t, VMSUP_EC_INVALID, why);
		return -1;
	}
	return 0;
}

/* A ready member that fits, taken out of the pool; NULL if none. */
static struct member *pick(struct vm_pool_take *t, char *why, size_t len)
{
	struct vm_pool *p = t->p;
	struct member *best = NULL;
	struct vm *vm;

	for (struct member *m = p->members; m; m = m->next) {
		if (m->dead || m->st != M_READY || !(vm = vmsup_find(p->sup, m->name)) ||
		    vm->state != VM_PAUSED)
			continue;
		if (t->share && !vm->spec.stage) {
			snprintf(why, len,
				 "the pool's template has no staging share (made before it "
				 "existed): make the template again to take VMs with shares");
			return NULL;
		}
		if (t->mem_mib > vm->spec.mem_mib || t->quota_pct > (int)vm->spec.cpus * 100) {
			snprintf(why, len,
				 "the pool's VMs have %u MiB and %u vCPUs (quota up to %u%%): "
				 "mem_mib %lld, quota_pct %d do not fit",
				 vm->spec.mem_mib, vm->spec.cpus, vm->spec.cpus * 100, t->mem_mib,
				 t->quota_pct);
			return NULL;
		}
		best = m; /* the list is newest first: the last one waited longest */
	}
	return best;
}

struct vm_pool_take *vm_pool_take(struct vm_pool *p, struct json_object *body, uid_t owner,
				  int share_fd, vmsup_done_fn done, void *arg)
{
	struct vm_pool_take *t = calloc(1, sizeof(*t));
	struct member *m;
	struct vm *vm;
	char why[300] = "";

	if (!t) {
		struct vmsup_result r = {VMSUP_EC_INTERNAL, "out of memory", NULL, false};
		done(&r, arg);
		return NULL;
	}
	t->p = p;
	t->done = done;
	t->arg = arg;
	t->owner = owner;
	t->share_fd = share_fd >= 0 ? fcntl(share_fd, F_DUPFD_CLOEXEC, 3) : -1;
	t->t0 = pool_now_ms();
	t->next = p->takes;
	p->takes = t;
	if (take_parse(t, body) < 0)
		return NULL;
	if (p->stopped || vmsup_shutting_down(p->sup)) {
		take_finish(t, VMSUP_EC_SHUTTING_DOWN, "the daemon is shutting down");
		return NULL;
	}
	m = pick(t, why, sizeof(why));
	if (why[0]) {
		take_finish(t, VMSUP_EC_POOL_MISMATCH, why);
		return NULL;
	}
	if (m) {
		/* out of the pool for good, before anything else can happen to it */
		m->dead = true;
		snprintf(t->name, sizeof(t->name), "%s", m->name);
		t->hit = true;
		p->hits++;
		pool_unmark(p, m->name);
		if ((vm = vmsup_find(p->sup, m->name))) {
			vm->pool_member = false;
			vm_status_changed(vm);
		}
		take_next(t);
	} else {
		p->misses++;
		if (pool_random_name(p, t->name, sizeof(t->name)) < 0) {
			t->name[0] = '\0';
			take_finish(t, VMSUP_EC_INTERNAL, "cannot make a VM name");
			return NULL;
		}
		pool_create_from_template(p, t->name, on_miss_created, t);
	}
	{
		/* a restore under TCG takes a CPU for a while: let the task start first */
		struct timeval tv = {0, REFILL_DELAY_MS * 1000};
		if (!evtimer_pending(p->retry, NULL))
			evtimer_add(p->retry, &tv);
	}
	return t->finished ? NULL : t;
}

void vm_pool_take_detach(struct vm_pool_take *t)
{
	if (!t)
		return;
	t->detached = true;
	t->done = NULL;
}
