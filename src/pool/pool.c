/* The warm pool (see pool.h). */
#include "src/pool/pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "src/guest/agent.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/snapshot/snapshot.h"
#include "src/qemu/spawn.h"
#include "src/qemu/stage.h"

#define READY_POLL_MS	 20
#define FILL_TIMEOUT_MS	 180000.0
#define RETRY_MISSING_MS 2000
#define RETRY_FAILED_MS	 10000
#define POOL_NAME_PREFIX "pool-"
#define REFILL_DELAY_MS	 500 /* after a take: the task starts before a restore competes */

enum m_state { M_CREATING, M_REFRESHING, M_PAUSING, M_READY };
static const char *const m_state_names[] = {"creating", "refreshing", "pausing", "ready"};

struct member {
	struct vm_pool *p;
	char name[32];
	enum m_state st;
	bool dead; /* left the pool: freed by reap() */
	double t0, ready_ms;
	struct event *poll; /* waiting for the post-restore refresh */
	struct member *next;
};

struct vm_pool_take {
	struct vm_pool *p;
	vmsup_done_fn done; /* NULL once replied or detached */
	void *arg;
	bool detached, finished;
	char name[32];
	bool hit;
	int step;
	long long mem_mib; /* 0 = as is */
	int quota_pct;	   /* 0 = as is */
	char *share;	   /* host dir bound into the VM at the same path, or NULL */
	bool share_ro;
	struct event *wait; /* a just restored VM: its agent and refresh */
	double t0;
	struct snap_refresh *clock;
	bool clock_set;
	double skew_ms;
	char clock_error[400];
	struct vm_pool_take *next;
};

struct vm_pool {
	struct vmsup *sup;
	const struct vm_pool_ops *ops;
	int sub; /* bus: templates saved */
	struct event_base *base;
	char *tmpl;
	unsigned size;
	struct member *members;
	struct vm_pool_take *takes;
	struct event *retry, *reaper;
	char *mark_dir; /* STATE_DIR/pool: a file per member, for a later daemon */
	bool stopped, waiting_template;
	char last_error[512];
	unsigned long filled, hits, misses, failures;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void refill(struct vm_pool *p);

/* ---- bookkeeping: freeing happens on the loop, never inside a callback ---- */

static void member_free(struct member *m)
{
	if (m->poll)
		event_free(m->poll);
	free(m);
}

static void take_free(struct vm_pool_take *t)
{
	snap_refresh_cancel(t->clock);
	if (t->wait)
		event_free(t->wait);
	free(t->share);
	free(t);
}

static void marker_path(const struct vm_pool *p, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", p->mark_dir, name);
}

static void unmark(const struct vm_pool *p, const char *name)
{
	char path[4096];

	marker_path(p, name, path, sizeof(path));
	unlink(path);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct vm_pool *p = arg;
	(void)fd, (void)what;

	for (struct member **pp = &p->members, *m; (m = *pp);) {
		if (m->dead) {
			*pp = m->next;
			unmark(p,
			       m->name); /* taken, failed or destroyed: not the pool's any more */
			member_free(m);
		} else {
			pp = &m->next;
		}
	}
	for (struct vm_pool_take **pp = &p->takes, *t; (t = *pp);) {
		if (t->finished) {
			*pp = t->next;
			take_free(t);
		} else {
			pp = &t->next;
		}
	}
	refill(p);
}

static void reap_soon(struct vm_pool *p)
{
	struct timeval tv = {0, 0};

	if (!p->stopped && p->reaper)
		event_add(p->reaper, &tv);
}

static void ignore_result(const struct vmsup_result *r, void *arg)
{
	(void)r, (void)arg;
}

/* Destroy a VM the pool made (never one it does not know as its own). */
static void destroy_vm(struct vm_pool *p, const char *name)
{
	struct json_object *a;

	if (p->stopped || !vmsup_find(p->sup, name))
		return;
	a = json_object_new_object();
	json_object_object_add(a, "timeout_s", json_object_new_int(0));
	vmsup_op(p->sup, name, VM_OP_DESTROY, a, ignore_result, NULL);
	json_object_put(a);
}

/* ---- filling ---- */

static void member_fail(struct member *m, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void member_fail(struct member *m, const char *fmt, ...)
{
	struct vm_pool *p = m->p;
	struct timeval tv = {RETRY_FAILED_MS / 1000, 0};
	va_list ap;

	if (m->dead)
		return;
	m->dead = true;
	va_start(ap, fmt);
	vsnprintf(p->last_error, sizeof(p->last_error), fmt, ap);
	va_end(ap);
	p->failures++;
	if (!p->stopped) {
		LOG_W(m->name, "pool: %s (next try in %d s)", p->last_error,
		      RETRY_FAILED_MS / 1000);
		/* a failing template must not make a restore loop */
		event_add(p->retry, &tv);
	}
	destroy_vm(p, m->name);
	reap_soon(p);
}

static void on_paused(const struct vmsup_result *r, void *arg)
{
	struct member *m = arg;
	struct vm *vm;

	if (m->dead || m->p->stopped)
		return;
	if (r->cls) {
		member_fail(m, "pausing: %s", r->desc ? r->desc : "failed");
		return;
	}
	m->st = M_READY;
	m->ready_ms = now_ms() - m->t0;
	if ((vm = vmsup_find(m->p->sup, m->name)))
		vm->pool_member = true;
	m->p->filled++;
	m->p->last_error[0] = '\0';
	LOG_I(m->name, "pool: ready (restored, refreshed and paused in %.0f ms)", m->ready_ms);
	reap_soon(m->p); /* the next one */
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct member *m = arg;
	struct vm *vm = vmsup_find(m->p->sup, m->name);
	struct timeval tv = {0, READY_POLL_MS * 1000};
	(void)fd, (void)what;

	if (m->dead || m->p->stopped)
		return;
	if (!vm || vm->state != VM_RUNNING) {
		member_fail(m, "the VM is %s before it was ready",
			    vm ? vm_state_name(vm->state) : "gone");
		return;
	}
	if (!m->p->ops->refreshed(vm)) {
		if (now_ms() - m->t0 > FILL_TIMEOUT_MS)
			member_fail(m, "the guest agent did not answer within %.0f s",
				    FILL_TIMEOUT_MS / 1000);
		else
			evtimer_add(m->poll, &tv);
		return;
	}
	m->st = M_PAUSING;
	vmsup_op(m->p->sup, m->name, VM_OP_PAUSE, NULL, on_paused, m);
}

static void on_created(const struct vmsup_result *r, void *arg)
{
	struct member *m = arg;
	struct vm_pool *p = m->p;
	struct timeval tv = {0, 0};

	if (m->dead || p->stopped)
		return;
	if (r->cls && !strcmp(r->cls, VMSUP_EC_NOT_FOUND)) {
		/* the template is not made yet: wait quietly, check again soon */
		struct timeval w = {RETRY_MISSING_MS / 1000, 0};
		if (!p->waiting_template)
			LOG_I(NULL, "pool: waiting for template '%s' to exist", p->tmpl);
		p->waiting_template = true;
		snprintf(p->last_error, sizeof(p->last_error), "%s", r->desc ? r->desc : "");
		m->dead = true;
		event_add(p->retry, &w);
		reap_soon(p);
		return;
	}
	p->waiting_template = false;
	if (r->cls) {
		member_fail(m, "restoring from template '%s': %s", p->tmpl,
			    r->desc ? r->desc : "failed");
		return;
	}
	m->st = M_REFRESHING;
	if (!(m->poll = evtimer_new(p->base, on_poll, m))) {
		member_fail(m, "out of memory");
		return;
	}
	evtimer_add(m->poll, &tv);
}

static int random_name(struct vm_pool *p, char *buf, size_t len)
{
	for (int i = 0; i < 16; i++) {
		uint32_t r;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			return -1;
		snprintf(buf, len, POOL_NAME_PREFIX "%08x", r);
		if (!vmsup_find(p->sup, buf))
			return 0;
	}
	return -1;
}

/* Restore a VM from the template as `name`; done when it runs. */
static void create_from_template(struct vm_pool *p, const char *name, vmsup_done_fn done, void *arg)
{
	struct json_object *b = json_object_new_object();

	json_object_object_add(b, "name", json_object_new_string(name));
	json_object_object_add(b, "from", json_object_new_string(p->tmpl));
	vmsup_create(p->sup, b, done, arg);
	json_object_put(b);
}

static void fill_one(struct vm_pool *p)
{
	struct member *m = calloc(1, sizeof(*m));
	char path[4096];
	int fd;

	if (!m || random_name(p, m->name, sizeof(m->name)) < 0) {
		free(m);
		LOG_E(NULL, "pool: cannot make a VM name");
		return;
	}
	m->p = p;
	m->t0 = now_ms();
	m->next = p->members;
	p->members = m;
	/* marked first: whatever becomes of the VM, a later daemon knows it as the pool's */
	marker_path(p, m->name, path, sizeof(path));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	create_from_template(p, m->name, on_created, m);
}

static void refill(struct vm_pool *p)
{
	unsigned n = 0;

	if (p->stopped || vmsup_shutting_down(p->sup) || evtimer_pending(p->retry, NULL))
		return;
	for (struct member *m = p->members; m; m = m->next) {
		if (m->dead)
			continue;
		if (m->st != M_READY)
			return; /* one at a time */
		n++;
	}
	if (n < p->size)
		fill_one(p);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	refill(arg);
}

/* A member meddled with (resumed, stopped, destroyed by someone else) leaves the pool. */
static void kick(struct vm_pool *p)
{
	if (p->stopped)
		return;
	evtimer_del(p->retry);
	reap_soon(p);
}

/* A template saved: ours fills now, not at the next retry. */
static void on_template(struct vm_pool *p, struct json_object *ev)
{
	struct json_object *v;

	if (json_object_object_get_ex(ev, "template", &v) &&
	    !strcmp(json_object_get_string(v), p->tmpl))
		kick(p);
}

static void on_bus(struct json_object *ev, void *arg)
{
	struct vm_pool *p = arg;
	struct json_object *v;
	const char *name, *state;

	if (!p->stopped && json_object_object_get_ex(ev, "type", &v) &&
	    !strcmp(json_object_get_string(v), "template")) {
		on_template(p, ev);
		return;
	}
	if (p->stopped || !json_object_object_get_ex(ev, "type", &v) ||
	    strcmp(json_object_get_string(v), "state") ||
	    !json_object_object_get_ex(ev, "vm", &v) || !(name = json_object_get_string(v)) ||
	    !json_object_object_get_ex(ev, "state", &v) || !(state = json_object_get_string(v)))
		return;
	for (struct member *m = p->members; m; m = m->next) {
		if (m->dead || strcmp(m->name, name))
			continue;
		if (!strcmp(state, "destroyed")) {
			LOG_W(name, "pool: destroyed while in the pool");
			m->dead = true;
			reap_soon(p);
		} else if (m->st == M_READY && strcmp(state, "paused")) {
			/* resumed behind our back (ops socket): it may have run
			 * anything; not a failure of the template, replaced at once */
			struct vm *vm = vmsup_find(p->sup, name);
			LOG_W(name, "pool: %s while waiting to be taken: leaves the pool", state);
			if (vm)
				vm->pool_member = false;
			m->dead = true;
			destroy_vm(p, m->name);
			reap_soon(p);
		}
	}
}

/* ---- taking ---- */

static void take_finish(struct vm_pool_take *t, const char *cls, const char *desc)
{
	struct vm_pool *p = t->p;
	struct vmsup_result r = {cls, desc, NULL, !cls};
	struct json_object *o = NULL, *po;

	if (t->finished)
		return;
	t->finished = true;
	if (cls || t->detached) {
		/* a VM half handed out, or to nobody: it must not live on */
		if (t->name[0])
			destroy_vm(p, t->name);
	} else if ((o = vmsup_get(p->sup, t->name))) {
		po = json_object_new_object();
		json_object_object_add(po, "hit", json_object_new_boolean(t->hit));
		json_object_object_add(
		    po, "take_ms",
		    json_object_new_double((double)(long long)((now_ms() - t->t0) * 10) / 10));
		json_object_object_add(po, "clock_set", json_object_new_boolean(t->clock_set));
		json_object_object_add(po, "clock_skew_ms",
				       t->clock_set ? json_object_new_double(t->skew_ms) : NULL);
		json_object_object_add(po, "clock_error",
				       t->clock_error[0] ? json_object_new_string(t->clock_error)
							 : NULL);
		json_object_object_add(o, "pool", po);
		r.body = o;
		LOG_I(t->name, "pool: taken (%s) in %.1f ms", t->hit ? "warm" : "restored",
		      now_ms() - t->t0);
	} else {
		r = (struct vmsup_result){VMSUP_EC_CONFLICT, "the VM was destroyed meanwhile", NULL,
					  false};
	}
	if (t->done && !t->detached)
		t->done(&r, t->arg);
	t->done = NULL;
	json_object_put(o);
	reap_soon(p);
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

static void on_step_result(const struct vmsup_result *r, void *arg)
{
	struct vm_pool_take *t = arg;

	if (t->finished)
		return;
	if (r->cls) {
		take_finish(t, r->cls, r->desc);
		return;
	}
	take_next(t);
}

static void on_clock(const struct snap_refresh_result *res, void *arg)
{
	struct vm_pool_take *t = arg;

	t->clock = NULL;
	t->clock_set = res->time_set;
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
	if (vm && !t->p->ops->refreshed(vm) && now_ms() - t->t0 < FILL_TIMEOUT_MS) {
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
		if (t->share && vm_stage_bind(vm->run_dir, t->share, t->share_ro, &err)) {
			take_finish(t, VMSUP_EC_SHARE, err);
			free(err);
			return;
		}
		/* fallthrough */
	case S_RESUME:
		t->step = S_AGENT;
		if (vm->state == VM_PAUSED) {
			vmsup_op(p->sup, t->name, VM_OP_RESUME, NULL, on_step_result, t);
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
			    (t->clock = snap_refresh(p->base, p->ops->agent_of(vm),
						     SNAP_REFRESH_NO_SEED, on_clock, t, &err)))
				return;
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
		else if (!strcmp(k, "quota_pct") && (n < 1 || n > 100 * (int64_t)VM_CPUS_MAX))
			snprintf(why, sizeof(why), "'quota_pct' must be an integer in 1..%u",
				 100 * VM_CPUS_MAX);
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

struct vm_pool_take *vm_pool_take(struct vm_pool *p, struct json_object *body, vmsup_done_fn done,
				  void *arg)
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
	t->t0 = now_ms();
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
		unmark(p, m->name);
		if ((vm = vmsup_find(p->sup, m->name)))
			vm->pool_member = false;
		take_next(t);
	} else {
		p->misses++;
		if (random_name(p, t->name, sizeof(t->name)) < 0) {
			t->name[0] = '\0';
			take_finish(t, VMSUP_EC_INTERNAL, "cannot make a VM name");
			return NULL;
		}
		create_from_template(p, t->name, on_miss_created, t);
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

/* ---- life ---- */

struct vm_pool *vm_pool_new(struct vmsup *sup, const struct vm_pool_ops *ops, char **err)
{
	const struct vmsup_config *cfg = vmsup_config(sup);
	struct vm_pool *p;

	if (!cfg->pool_size)
		return NULL;
	if (!(p = calloc(1, sizeof(*p))) || !(p->tmpl = strdup(cfg->pool_template))) {
		free(p);
		vmsup_err(err, "out of memory");
		return NULL;
	}
	p->sup = sup;
	p->ops = ops;
	p->base = vmsup_base(sup);
	p->size = cfg->pool_size;
	if (asprintf(&p->mark_dir, "%s/pool", cfg->state_dir) < 0) {
		p->mark_dir = NULL;
		vm_pool_free(p);
		vmsup_err(err, "out of memory");
		return NULL;
	}
	if (vm_mkdir(p->mark_dir, 0700, err)) {
		vm_pool_free(p);
		return NULL;
	}
	p->retry = evtimer_new(p->base, on_retry, p);
	p->reaper = evtimer_new(p->base, on_reap, p);
	if (!p->retry || !p->reaper) {
		vm_pool_free(p);
		vmsup_err(err, "out of memory");
		return NULL;
	}
	vmsup_subscribe(sup, NULL, on_bus, p);
	return p;
}

void vm_pool_start(struct vm_pool *p)
{
	DIR *d;
	struct dirent *e;
	unsigned n = 0;

	if (!p)
		return;
	/* members of an earlier daemon: paused since who knows when (or their
	 * qemu gone meanwhile), no entry here */
	if ((d = opendir(p->mark_dir))) {
		while ((e = readdir(d))) {
			struct vm *vm;
			if (e->d_name[0] == '.')
				continue;
			if ((vm = vmsup_find(p->sup, e->d_name)) && !vm->destroying) {
				destroy_vm(p, e->d_name);
				n++;
			}
			unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	if (n)
		LOG_I(NULL, "pool: destroying %u pool VM(s) of an earlier run", n);
	LOG_I(NULL, "pool: %u VM(s) from template '%s'", p->size, p->tmpl);
	reap_soon(p);
}

void vm_pool_stop(struct vm_pool *p)
{
	if (!p)
		return;
	p->stopped = true;
	evtimer_del(p->retry);
	evtimer_del(p->reaper);
}

void vm_pool_free(struct vm_pool *p)
{
	if (!p)
		return;
	while (p->members) {
		struct member *m = p->members;
		p->members = m->next;
		member_free(m);
	}
	while (p->takes) {
		struct vm_pool_take *t = p->takes;
		p->takes = t->next;
		take_free(t);
	}
	if (p->retry)
		event_free(p->retry);
	if (p->reaper)
		event_free(p->reaper);
	free(p->mark_dir);
	free(p->tmpl);
	free(p);
}

struct json_object *vm_pool_status(struct vm_pool *p)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();
	unsigned ready = 0, filling = 0;

	for (struct member *m = p->members; m; m = m->next) {
		struct json_object *e;
		if (m->dead)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "name", json_object_new_string(m->name));
		json_object_object_add(e, "state", json_object_new_string(m_state_names[m->st]));
		json_object_object_add(e, "ready_ms",
				       m->st == M_READY
					   ? json_object_new_double((double)(long long)m->ready_ms)
					   : NULL);
		json_object_array_add(a, e);
		if (m->st == M_READY)
			ready++;
		else
			filling++;
	}
	json_object_object_add(o, "template", json_object_new_string(p->tmpl));
	json_object_object_add(o, "size", json_object_new_int64(p->size));
	json_object_object_add(o, "ready", json_object_new_int64(ready));
	json_object_object_add(o, "filling", json_object_new_int64(filling));
	json_object_object_add(o, "members", a);
	json_object_object_add(o, "filled", json_object_new_int64((int64_t)p->filled));
	json_object_object_add(o, "hits", json_object_new_int64((int64_t)p->hits));
	json_object_object_add(o, "misses", json_object_new_int64((int64_t)p->misses));
	json_object_object_add(o, "failures", json_object_new_int64((int64_t)p->failures));
	json_object_object_add(o, "last_error",
			       p->last_error[0] ? json_object_new_string(p->last_error) : NULL);
	return o;
}
