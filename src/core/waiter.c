/*
 * API requests waiting on a VM (start until running, stop until gone,
 * destroy until removed, a QMP reply). Each gets exactly one reply.
 */
#include "src/core/sup-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/err.h"

void sup_finish(struct waiter *w, const char *cls, const char *desc, struct json_object *body)
{
	struct vmsup_result r = {cls, desc, body, w->created};

	if (w->done && !cls) {
		/* what the reply reports must be on disk before it is sent */
		sup_save_flush(w->vm);
		if ((w->vm || w->name) &&
		    sup_hold_reply(w, w->vm ? w->vm->spec.name : w->name, body))
			return;
	}
	if (w->done)
		w->done(&r, w->arg);
	w->done = NULL;
}

void sup_reply_err(vmsup_done_fn done, void *arg, const char *cls, const char *fmt, ...)
{
	char desc[512];
	va_list ap;
	struct vmsup_result r = {cls, desc, NULL, false};

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	done(&r, arg);
}

static struct waiter *waiter_new(struct vm *vm, enum waiter_kind kind, unsigned mask, bool created,
				 vmsup_done_fn done, void *arg)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->sup = vm->sup;
	w->vm = vm;
	w->kind = kind;
	w->mask = mask;
	w->created = created;
	w->done = done;
	w->arg = arg;
	return w;
}

struct waiter *sup_reply_vm(vmsup_done_fn done, void *arg, bool created, struct vm *vm)
{
	return sup_reply_body(done, arg, created, vm, NULL);
}

struct waiter *sup_reply_body(vmsup_done_fn done, void *arg, bool created, struct vm *vm,
			      struct json_object *body)
{
	struct json_object *o = body ? json_object_get(body) : vm_to_json(vm);
	struct waiter *w = waiter_new(vm, W_STATE, 0, created, done, arg);
	struct vmsup_result r = {NULL, NULL, o, created};

	if (!w) {
		/* out of memory: answered now, as before the writer thread */
		done(&r, arg);
		json_object_put(o);
		return NULL;
	}
	sup_finish(w, NULL, NULL, o);
	json_object_put(o);
	/* held: the caller's handle to cancel it, freed once replied */
	if (w->durable) {
		w->orphan = true;
		return w;
	}
	sup_waiter_free(w);
	return NULL;
}

void sup_waiter_unlink(struct waiter *w)
{
	if (w->in_list && w->vm) {
		for (struct waiter **pp = &w->vm->waiters; *pp; pp = &(*pp)->next)
			if (*pp == w) {
				*pp = w->next;
				break;
			}
	}
	w->in_list = false;
}

void sup_waiter_free(struct waiter *w)
{
	sup_waiter_unlink(w);
	if (w->timer)
		event_free(w->timer);
	w->timer = NULL;
	if (w->durable || w->pinned) {
		/* its reply still waits for the disk (sup_saved frees it), or
		 * its owner looks at it once more (op.c) */
		w->orphan = true;
		return;
	}
	json_object_put(w->body);
	free(w->name);
	free(w);
}

void vmsup_cancel(struct waiter *w)
{
	if (!w)
		return;
	w->done = NULL;
	/* a QMP waiter is freed by its reply callback, which will come */
	if (w->kind != W_QMP)
		sup_waiter_free(w);
}

static void on_waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	sup_finish(w, VMSUP_EC_TIMEOUT, "the VM did not reach the expected state in time", NULL);
	sup_waiter_free(w);
}

struct waiter *sup_waiter_add(struct vm *vm, enum waiter_kind kind, unsigned mask, bool created,
			      unsigned timeout_ms, vmsup_done_fn done, void *arg)
{
	struct waiter *w = waiter_new(vm, kind, mask, created, done, arg);

	if (!w)
		return NULL;
	if (timeout_ms) {
		struct timeval tv = sup_tv_ms(timeout_ms);
		w->timer = evtimer_new(vm->sup->base, on_waiter_timeout, w);
		if (!w->timer) {
			free(w);
			return NULL;
		}
		evtimer_add(w->timer, &tv);
	}
	if (kind != W_QMP) {
		w->next = vm->waiters;
		vm->waiters = w;
		w->in_list = true;
	}
	return w;
}

void sup_waiters_fail(struct vm *vm, const char *cls, const char *desc)
{
	while (vm->waiters) {
		struct waiter *w = vm->waiters;
		sup_waiter_unlink(w);
		sup_finish(w, cls, desc, NULL);
		sup_waiter_free(w);
	}
}

static bool waiter_hit(const struct waiter *w, const struct vm *vm)
{
	bool alive = vm->pid > 0;

	switch (w->kind) {
	case W_START:
		/* a start that ran out of descriptors ends when its qemu is gone */
		if (vm->start_exhausted && alive)
			return false;
		return vm->state != VM_STARTING || !alive;
	case W_STATE:
		return (w->mask & (1u << vm->state)) || !alive;
	case W_GONE:
	case W_DESTROY:
		return !alive;
	case W_QMP:
		break;
	}
	return false;
}

static void reply_state(struct waiter *w, struct vm *vm)
{
	if (w->kind == W_STATE && !(w->mask & (1u << vm->state))) {
		sup_finish(w, VMSUP_EC_CONFLICT, "the VM's qemu exited", NULL);
	} else {
		struct json_object *o = vm_to_json(vm);
		sup_finish(w, NULL, NULL, o);
		json_object_put(o);
	}
}

/*
 * Waiters that are satisfied leave vm->waiters for one of two private
 * lists: those answered now, and destroy waiters, answered once the VM is
 * removed. Each node is freed only after it has left every list, so a
 * destroy racing a state change (a kill of a pool VM the pool destroys)
 * never walks a freed node.
 */
void sup_check_waiters(struct vm *vm)
{
	struct waiter *w, *now = NULL, *destroy = NULL;
	char why[512];

	/* called after each thing that happened to the VM: so may its record */
	vm_status_changed(vm);
	for (struct waiter **pp = &vm->waiters; (w = *pp);) {
		/* a create that ran out of descriptors leaves nothing behind:
		 * it is answered once the VM is removed, as a destroy is */
		bool removes = w->kind == W_DESTROY || (w->kind == W_START && w->created &&
							vm->start_exhausted && vm->pid <= 0);
		if (!waiter_hit(w, vm) || (removes && vm->busy)) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->in_list = false;
		if (removes) {
			w->next = destroy;
			destroy = w;
		} else {
			w->next = now;
			now = w;
		}
	}
	while ((w = now)) {
		now = w->next;
		reply_state(w, vm);
		sup_waiter_free(w);
	}
	if (!destroy)
		return;
	sup_exhausted_desc(vm->spec.name, vm->error, why, sizeof(why));
	vm->destroying = true; /* no state file written on the way out */
	/* the replies wait for the file's removal, by name: vm is freed */
	for (w = destroy; w; w = w->next)
		if (!w->name)
			w->name = strdup(vm->spec.name);
	sup_vm_remove(vm);
	while ((w = destroy)) {
		struct json_object *o = json_object_new_object();
		destroy = w->next;
		w->vm = NULL;
		if (w->kind == W_START)
			sup_finish(w, VMSUP_EC_EXHAUSTED, why, NULL);
		else
			sup_finish(w, NULL, NULL, o);
		json_object_put(o);
		sup_waiter_free(w);
	}
}

void sup_exhausted_desc(const char *name, const char *cause, char *buf, size_t size)
{
	snprintf(buf, size,
		 "cannot create VM '%s': vmsupd is out of file descriptors (%s); nothing was "
		 "kept, retry when fewer are in use",
		 name ? name : "", cause ? cause : "EMFILE");
}
