/* A VM's state changes, its error, and its record in the state dir. */
#include "src/core/sup-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/core/statefile.h"
#include "src/core/statewriter.h"
#include "src/util/log.h"

static void on_save_timer(evutil_socket_t fd, short what, void *arg);

/*
 * A failed write (disk full, read-only dir) is tried again until it
 * succeeds, not only at the VM's next change: an unsaved VM is one the
 * next daemon start would not know.
 */
static void save_retry(struct vm *vm)
{
	struct timeval tv = sup_tv_ms(SAVE_RETRY_MS);

	if (vm->destroying)
		return;
	if (!vm->save_timer)
		vm->save_timer = evtimer_new(vm->sup->base, on_save_timer, vm);
	if (vm->save_timer)
		evtimer_add(vm->save_timer, &tv);
}

static void save_failed(struct vm *vm, const char *err)
{
	LOG_E(vm->spec.name, "state file: %s", err);
	/* kept for the status: the VM runs on, but would not survive a restart */
	free(vm->save_error);
	vm->save_error = strdup(err);
	save_retry(vm);
}

void sup_save_now(struct vm *vm)
{
	char *text;

	vm_status_changed(vm);
	if (vm->save_timer)
		evtimer_del(vm->save_timer);
	/* serialised here: the struct is the loop's; the writer gets text */
	if (!(text = vm_statefile_text(vm)) ||
	    !statewriter_put(vm->sup->writer, vm->spec.name, text))
		save_failed(vm, "out of memory");
}

void sup_saved(const char *name, uint64_t seq, const char *err, void *arg)
{
	struct vmsup *sup = arg;
	struct vm *vm = vmsup_find(sup, name);
	struct waiter *w, **pp, *ready = NULL;

	if (!vm || vm->destroying) {
		if (err)
			LOG_E(name, "%s", err);
	} else if (err) {
		/* a newer write is queued: it reports for the VM */
		if (!statewriter_pending(sup->writer, name))
			save_failed(vm, err);
	} else if (vm->save_error) {
		LOG_I(vm->spec.name, "state file written again");
		free(vm->save_error);
		vm->save_error = NULL;
	}
	/* the replies this write makes true (a failed one too: the VM runs
	 * on, unsaved, as its status says); collected first, as a reply may
	 * start another operation */
	for (pp = &sup->durable; (w = *pp);) {
		if (strcmp(w->name, name) || w->seq > seq) {
			pp = &w->dnext;
			continue;
		}
		*pp = w->dnext;
		w->dnext = ready;
		ready = w;
	}
	while ((w = ready)) {
		struct vmsup_result r = {NULL, NULL, w->body, w->created};
		ready = w->dnext;
		w->durable = false;
		if (w->done)
			w->done(&r, w->arg);
		w->done = NULL;
		if (w->orphan)
			sup_waiter_free(w);
	}
}

bool sup_hold_reply(struct waiter *w, const char *name, struct json_object *body)
{
	struct vmsup *sup = w->sup;
	uint64_t seq = statewriter_pending(sup->writer, name);

	if (!seq || (!w->name && !(w->name = strdup(name))))
		return false;
	sup_waiter_unlink(w);
	w->vm = NULL;
	if (w->timer)
		evtimer_del(w->timer);
	w->seq = seq;
	w->body = body ? json_object_get(body) : NULL;
	w->durable = true;
	w->dnext = sup->durable;
	sup->durable = w;
	return true;
}

void sup_save_flush(struct vm *vm)
{
	if (vm && !vm->destroying && vm->save_timer && evtimer_pending(vm->save_timer, NULL))
		sup_save_now(vm);
}

static void on_save_timer(evutil_socket_t fd, short what, void *arg)
{
	sup_save_now(arg);
}

/*
 * Record the VM in the state dir shortly after a change: the fsync would
 * otherwise sit between the change and the reply that reports it, and
 * changes that come in bursts (starting, running) share one write.
 */
void sup_save(struct vm *vm)
{
	struct timeval tv = sup_tv_ms(SAVE_DELAY_MS);

	/* what is worth saving the list shows too */
	vm_status_changed(vm);
	if (!vm->save_timer)
		vm->save_timer = evtimer_new(vm->sup->base, on_save_timer, vm);
	if (!vm->save_timer) {
		sup_save_now(vm);
		return;
	}
	/* an unsaved VM's change brings its pending retry forward */
	if (!evtimer_pending(vm->save_timer, NULL) || vm->save_error)
		evtimer_add(vm->save_timer, &tv);
}

void sup_set_state(struct vm *vm, enum vm_state to)
{
	if (vm->state == to)
		return;
	if (!vm_transition_legal(vm->state, to)) {
		LOG_W(vm->spec.name, "ignoring illegal transition %s -> %s",
		      vm_state_name(vm->state), vm_state_name(to));
		return;
	}
	LOG_I(vm->spec.name, "%s -> %s", vm_state_name(vm->state), vm_state_name(to));
	vm->state = to;
	vm->state_since = sup_now_wall();
	vm_status_changed(vm);
	sup_save(vm);
	sup_emit_state(vm);
}

void sup_set_error(struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(vm->error);
	vm->error = s;
	vm_status_changed(vm);
}
