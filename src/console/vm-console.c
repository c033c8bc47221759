#include "src/console/vm-console.h"

#include <stdlib.h>

#include "src/console/console-log.h"
#include "src/core/supervisor.h"
#include "src/util/err.h"
#include "src/util/log.h"

struct vm_console {
	struct vmsup *sup;
	struct event *tick;
	off_t threshold;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct vm_console *c = arg;

	(void)fd;
	(void)what;
	for (struct vm *vm = vmsup_first(c->sup); vm; vm = vm->next) {
		char *err = NULL;
		/* a log without a qemu writing it does not grow: it is kept as
		 * it is for vmctl logs until the VM is destroyed */
		if (!vm->console_log || !vm_state_has_process(vm->state))
			continue;
		if (console_log_rotate(vm->console_log, c->threshold, &err) < 0)
			LOG_W(vm->spec.name, "console log not rotated: %s", err);
		free(err);
	}
}

struct vm_console *vm_console_new(struct event_base *base, struct vmsup *sup, char **err)
{
	struct vm_console *c = calloc(1, sizeof(*c));
	const struct timeval tv = {0, VM_CONSOLE_CHECK_MS * 1000};

	if (!c) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	c->sup = sup;
	/* rotate with a quarter of the cap to spare for the next check */
	c->threshold = (off_t)vmsup_config(sup)->console_log_max / 4 * 3;
	c->tick = event_new(base, -1, EV_PERSIST, on_tick, c);
	if (!c->tick || event_add(c->tick, &tv)) {
		vmsup_err(err, "cannot add the console log timer");
		vm_console_free(c);
		return NULL;
	}
	return c;
}

void vm_console_free(struct vm_console *c)
{
	if (!c)
		return;
	if (c->tick)
		event_free(c->tick);
	free(c);
}
