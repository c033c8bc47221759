#include "src/core/restart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "src/util/log.h"
#include "src/core/supervisor.h"

struct restart {
	struct vm *vm;
	struct event *timer;
	double *stamps; /* monotonic times of the restarts still in the window */
	unsigned nstamps;
	unsigned step;	   /* consecutive attempts: the backoff exponent */
	double last_start; /* our last attempt, 0 = none */
	double due;	   /* next attempt, 0 = none pending */
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

unsigned vm_restart_backoff_ms(unsigned step)
{
	unsigned ms = VM_RESTART_BACKOFF_MS;

	while (step-- > 0 && ms < VM_RESTART_BACKOFF_MAX_MS)
		ms *= 2;
	return ms < VM_RESTART_BACKOFF_MAX_MS ? ms : VM_RESTART_BACKOFF_MAX_MS;
}

bool vm_restart_wanted(const char *policy, enum vm_state st, bool requested)
{
	bool failure = st == VM_CRASHED || st == VM_FAILED;

	if (requested || !policy)
		return false;
	if (!strcmp(policy, "on-failure"))
		return failure;
	if (!strcmp(policy, "always"))
		return failure || st == VM_STOPPED;
	return false;
}

static struct restart *get(struct vm *vm)
{
	const struct vmsup_config *cfg = vmsup_config(vm->sup);
	struct restart *r = vm->restart_state;

	if (r)
		return r;
	if (!(r = calloc(1, sizeof(*r))) ||
	    !(r->stamps = calloc(cfg->restart_burst ? cfg->restart_burst : 1, sizeof(double)))) {
		free(r);
		return NULL;
	}
	r->vm = vm;
	vm->restart_state = r;
	return r;
}

/* Drop restarts that left the window; returns how many remain. */
static unsigned prune(struct restart *r, double now, double window)
{
	unsigned k = 0;

	for (unsigned i = 0; i < r->nstamps; i++)
		if (now - r->stamps[i] < window)
			r->stamps[k++] = r->stamps[i];
	r->nstamps = k;
	return k;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct restart *r = arg;
	struct vm *vm = r->vm;
	const struct vmsup_config *cfg = vmsup_config(vm->sup);

	r->due = 0;
	/* the user may have started, or begun destroying, the VM meanwhile */
	if (vm->pid > 0 || vm->destroying || vmsup_shutting_down(vm->sup) ||
	    !(vm->state == VM_STOPPED || vm->state == VM_CRASHED || vm->state == VM_FAILED))
		return;
	r->last_start = now_mono();
	if (r->nstamps < cfg->restart_burst)
		r->stamps[r->nstamps++] = r->last_start;
	LOG_I(vm->spec.name, "restart %u (policy %s, %u in the last %u s)", vm->restarts + 1,
	      vm->spec.restart, r->nstamps, cfg->restart_interval_s);
	/* a start that fails at once (no binary ...) never reaches the exit
	 * path: the policy decides again here, counted against the burst */
	if (vmsup_vm_restart(vm) < 0)
		vm_restart_exited(vm);
}

static bool stop_requested(const struct vm *vm)
{
	return vm->destroying || vm->kill_requested || vm->stop_stage ||
	       vmsup_shutting_down(vm->sup);
}

void vm_restart_exited(struct vm *vm)
{
	const struct vmsup_config *cfg = vmsup_config(vm->sup);
	struct restart *r;
	double now = now_mono();
	unsigned ms;

	if (vm->pid > 0 || !vm_restart_wanted(vm->spec.restart, vm->state, stop_requested(vm)))
		return;
	if (!(r = get(vm))) {
		LOG_E(vm->spec.name, "restart policy: out of memory");
		return;
	}
	if (r->due)
		return; /* one attempt pending is enough */
	if (prune(r, now, cfg->restart_interval_s) >= cfg->restart_burst) {
		char *why = NULL;
		if (asprintf(&why, "restart limit reached (%u restarts within %u s); last: %s",
			     r->nstamps, cfg->restart_interval_s,
			     vm->error ? vm->error : vm_state_name(vm->state)) >= 0) {
			free(vm->error);
			vm->error = why;
		}
		LOG_E(vm->spec.name, "%s", vm->error);
		r->step = 0;
		vmsup_vm_save(vm);
		return;
	}
	/* a run that lasted a whole window ends the streak of quick failures */
	if (r->last_start && now - r->last_start > cfg->restart_interval_s)
		r->step = 0;
	ms = vm_restart_backoff_ms(r->step++);
	if (!r->timer && !(r->timer = evtimer_new(vmsup_base(vm->sup), on_timer, r))) {
		LOG_E(vm->spec.name, "restart policy: cannot arm a timer");
		return;
	}
	{
		struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
		evtimer_add(r->timer, &tv);
	}
	r->due = now + ms / 1000.0;
	LOG_I(vm->spec.name, "%s: restarting in %u ms (policy %s)", vm_state_name(vm->state), ms,
	      vm->spec.restart);
}

void vm_restart_release(struct vm *vm)
{
	struct restart *r = vm->restart_state;

	if (!r)
		return;
	if (r->timer)
		event_free(r->timer);
	free(r->stamps);
	free(r);
	vm->restart_state = NULL;
}

bool vm_restart_pending(const struct vm *vm)
{
	const struct restart *r = vm->restart_state;

	return r && r->due;
}

void vm_restart_status(const struct vm *vm, struct json_object *o)
{
	const struct restart *r = vm->restart_state;
	double left = r && r->due ? r->due - now_mono() : -1;

	json_object_object_add(o, "restart_pending_s",
			       r && r->due ? json_object_new_double(left > 0 ? left : 0) : NULL);
}
