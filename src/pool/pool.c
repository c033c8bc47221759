/* The warm pool (see pool.h). */
#include "src/pool/pool-internal.h"

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

double pool_now_ms(void)
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

void pool_take_free(struct vm_pool_take *t)
{
	snap_refresh_cancel(t->clock);
	if (t->wait)
		event_free(t->wait);
	vmsup_cancel(t->held); /* a daemon stop: nobody to answer */
	free(t->share);
	if (t->share_fd >= 0)
		close(t->share_fd);
	free(t);
}

static void marker_path(const struct vm_pool *p, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", p->mark_dir, name);
}

void pool_unmark(const struct vm_pool *p, const char *name)
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
			pool_unmark(
			    p, m->name); /* taken, failed or destroyed: not the pool's any more */
			member_free(m);
		} else {
			pp = &m->next;
		}
	}
	for (struct vm_pool_take **pp = &p->takes, *t; (t = *pp);) {
		if (t->finished && !t->held) {
			*pp = t->next;
			pool_take_free(t);
		} else {
			pp = &t->next;
		}
	}
	refill(p);
}

void pool_reap_soon(struct vm_pool *p)
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
void pool_destroy_vm(struct vm_pool *p, const char *name)
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
	pool_destroy_vm(p, m->name);
	pool_reap_soon(p);
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
	m->ready_ms = pool_now_ms() - m->t0;
	if ((vm = vmsup_find(m->p->sup, m->name))) {
		vm->pool_member = true;
		vm_status_changed(vm);
	}
	m->p->filled++;
	m->p->last_error[0] = '\0';
	LOG_I(m->name, "pool: ready (restored, refreshed and paused in %.0f ms)", m->ready_ms);
	pool_reap_soon(m->p); /* the next one */
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
		if (pool_now_ms() - m->t0 > FILL_TIMEOUT_MS)
			member_fail(m, "the guest agent did not answer within %.0f s",
				    FILL_TIMEOUT_MS / 1000);
		else
			evtimer_add(m->poll, &tv);
		return;
	}
	m->st = M_PAUSING;
	vmsup_op(m->p->sup, m->name, VM_OP_PAUSE, NULL, on_paused, m);
}

/* Restoring it again gives the same answer: stop (no retry timer) until
 * the bus says the template was saved or verified again (on_template). */
static void template_damaged(struct vm_pool *p, const char *desc)
{
	snprintf(p->last_error, sizeof(p->last_error), "template '%s' is damaged: %s", p->tmpl,
		 desc ? desc : "");
	p->failures++;
	p->template_ok = false;
	if (!p->damaged)
		LOG_E(NULL,
		      "pool: %s; not filling from it until it is made again or "
		      "`vmctl template verify %s` passes",
		      p->last_error, p->tmpl);
	p->damaged = true;
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
		pool_reap_soon(p);
		return;
	}
	p->waiting_template = false;
	if (r->cls && !strcmp(r->cls, VMSUP_EC_DAMAGED)) {
		template_damaged(p, r->desc);
		m->dead = true;
		pool_reap_soon(p);
		return;
	}
	if (r->cls) {
		member_fail(m, "restoring from template '%s': %s", p->tmpl,
			    r->desc ? r->desc : "failed");
		return;
	}
	p->template_ok = true;
	m->st = M_REFRESHING;
	if (!(m->poll = evtimer_new(p->base, on_poll, m))) {
		member_fail(m, "out of memory");
		return;
	}
	evtimer_add(m->poll, &tv);
}

int pool_random_name(struct vm_pool *p, char *buf, size_t len)
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
void pool_create_from_template(struct vm_pool *p, const char *name, vmsup_done_fn done, void *arg)
{
	struct json_object *b = json_object_new_object();

	json_object_object_add(b, "name", json_object_new_string(name));
	json_object_object_add(b, "from", json_object_new_string(p->tmpl));
	vmsup_create(p->sup, b, NULL, done, arg);
	json_object_put(b);
}

static void fill_one(struct vm_pool *p)
{
	struct member *m = calloc(1, sizeof(*m));
	char path[4096];
	int fd;

	if (!m || pool_random_name(p, m->name, sizeof(m->name)) < 0) {
		free(m);
		LOG_E(NULL, "pool: cannot make a VM name");
		return;
	}
	m->p = p;
	m->t0 = pool_now_ms();
	m->next = p->members;
	p->members = m;
	/* marked first: whatever becomes of the VM, a later daemon knows it as the pool's */
	marker_path(p, m->name, path, sizeof(path));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) >= 0)
		close(fd);
	pool_create_from_template(p, m->name, on_created, m);
}

static void refill(struct vm_pool *p)
{
	unsigned n = 0;

	if (p->stopped || p->damaged || vmsup_shutting_down(p->sup) ||
	    evtimer_pending(p->retry, NULL))
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
	pool_reap_soon(p);
}

/* A template saved or verified: ours fills now, not at the next retry,
 * even if it was found damaged (it has been made again or repaired). */
static void on_template(struct vm_pool *p, struct json_object *ev)
{
	struct json_object *v;

	if (!json_object_object_get_ex(ev, "template", &v) ||
	    strcmp(json_object_get_string(v), p->tmpl))
		return;
	if (p->damaged)
		LOG_I(NULL, "pool: template '%s' was saved or verified again: filling", p->tmpl);
	p->damaged = false;
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
			pool_reap_soon(p);
		} else if (m->st == M_READY && strcmp(state, "paused")) {
			/* resumed behind our back (ops socket): it may have run
			 * anything; not a failure of the template, replaced at once */
			struct vm *vm = vmsup_find(p->sup, name);
			LOG_W(name, "pool: %s while waiting to be taken: leaves the pool", state);
			if (vm) {
				vm->pool_member = false;
				vm_status_changed(vm);
			}
			m->dead = true;
			pool_destroy_vm(p, m->name);
			pool_reap_soon(p);
		}
	}
}

/* ---- taking ---- */

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
				pool_destroy_vm(p, e->d_name);
				n++;
			}
			unlinkat(dirfd(d), e->d_name, 0);
		}
		closedir(d);
	}
	if (n)
		LOG_I(NULL, "pool: destroying %u pool VM(s) of an earlier run", n);
	LOG_I(NULL, "pool: %u VM(s) from template '%s'", p->size, p->tmpl);
	pool_reap_soon(p);
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
		pool_take_free(t);
	}
	if (p->retry)
		event_free(p->retry);
	if (p->reaper)
		event_free(p->reaper);
	free(p->mark_dir);
	free(p->tmpl);
	free(p);
}

static const char *template_state(const struct vm_pool *p)
{
	if (p->damaged)
		return "damaged";
	if (p->waiting_template)
		return "missing";
	return p->template_ok ? "ok" : "unknown";
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
	json_object_object_add(o, "template_state", json_object_new_string(template_state(p)));
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
