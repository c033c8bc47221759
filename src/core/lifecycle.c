/* A VM's state changes, its error, and its record in the state dir. */
#include "src/core/sup-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/core/statefile.h"
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

void sup_save_now(struct vm *vm)
{
	char *err = NULL;

	if (vm->save_timer)
		evtimer_del(vm->save_timer);
	if (vm_statefile_write(vm->sup->cfg.state_dir, vm, &err)) {
		LOG_E(vm->spec.name, "state file: %s", err);
		/* kept for the status: the VM runs on, but would not survive a restart */
		free(vm->save_error);
		vm->save_error = err;
		save_retry(vm);
	} else if (vm->save_error) {
		LOG_I(vm->spec.name, "state file written again");
		free(vm->save_error);
		vm->save_error = NULL;
	}
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
}
