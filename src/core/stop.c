/*
 * Stopping a VM: ACPI power-off with a grace period, then QMP quit, then
 * SIGKILL; and stopping every VM at daemon shutdown.
 */
#include "src/core/sup-internal.h"

#include <signal.h>
#include <string.h>

#include "src/util/err.h"
#include "src/util/log.h"

static void on_stop_timer(evutil_socket_t fd, short what, void *arg);

static void ignore_reply(struct qmp_session *s, struct json_object *ret,
			 const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	if (err && strcmp(err->cls, QMP_ERR_DISCONNECTED) != 0)
		LOG_W(vm->spec.name, "%s: %s", err->cls, err->desc);
}

static void stop_arm(struct vm *vm, unsigned seconds)
{
	struct timeval tv = {seconds, 0};

	if (!vm->stop_timer)
		vm->stop_timer = evtimer_new(vm->sup->base, on_stop_timer, vm);
	if (vm->stop_timer)
		evtimer_add(vm->stop_timer, &tv);
}

bool sup_send_cmd(struct vm *vm, const char *cmd)
{
	struct qmp_error e;

	if (!vm->qmp || !qmp_is_ready(vm->qmp))
		return false;
	return vm_qmp_call(vm, cmd, NULL, 0, ignore_reply, vm, &e) > 0;
}

static void stop_stage(struct vm *vm, int stage, unsigned grace)
{
	vm->stop_stage = stage;
	switch (stage) {
	case 1:
		LOG_I(vm->spec.name, "ACPI power-off, %u s grace", grace);
		if (sup_send_cmd(vm, "system_powerdown")) {
			stop_arm(vm, grace);
			break;
		}
		stage = 2;
		vm->stop_stage = 2;
		/* fallthrough */
	case 2:
		LOG_I(vm->spec.name, "quit");
		/* quit is an orderly exit: qemu sends SHUTDOWN itself */
		if (sup_send_cmd(vm, "quit")) {
			stop_arm(vm, QUIT_TO_KILL_S);
			break;
		}
		vm->stop_stage = 3;
		/* fallthrough */
	default:
		LOG_W(vm->spec.name, "SIGKILL");
		vm->kill_requested = true;
		if (vm->pid > 0)
			kill(vm->pid, SIGKILL);
		break;
	}
}

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	if (vm->pid > 0)
		stop_stage(vm, vm->stop_stage + 1, 0);
}

/*
 * Begin a stop unless one is under way. ACPI power-off only where a guest
 * may answer it: not for a guest-less VM, nor a guest whose agent (where
 * the agent module watches one) never answered: it has not booted, or
 * has no agent, or is hung; waiting the grace for it waits for nothing.
 */
void sup_vm_stop(struct vm *vm, unsigned grace)
{
	bool guest = (vm->spec.kernel || vm->spec.disk) && (!vm->agent || vm->agent_seen);
	enum vm_state was = vm->state;

	if (vm->pid <= 0)
		return;
	if (vm->stop_stage) {
		/* a shorter deadline than the running one wins */
		if (vm->stop_stage == 1 && grace == 0)
			stop_stage(vm, 2, 0);
		return;
	}
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->state == VM_STARTING)
		sup_set_state(vm, VM_STOPPING);
	/* no (live) guest OS, a paused or half-started VM: nobody would
	 * answer ACPI */
	if (!guest || grace == 0 || was != VM_RUNNING || !vm->qmp_ready_once)
		stop_stage(vm, 2, 0);
	else
		stop_stage(vm, 1, grace);
}

void sup_vm_kill_now(struct vm *vm)
{
	if (vm->pid <= 0)
		return;
	if (vm->stop_timer)
		evtimer_del(vm->stop_timer);
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->state == VM_STARTING)
		sup_set_state(vm, VM_STOPPING);
	LOG_I(vm->spec.name, "force: SIGKILL pid %d", (int)vm->pid);
	vm->stop_stage = 3;
	vm->kill_requested = true;
	kill(vm->pid, SIGKILL);
}

void sup_maybe_shutdown_done(struct vmsup *sup)
{
	void (*done)(void *);

	if (!sup->shutting_down || !sup->shutdown_done)
		return;
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		if (vm->pid > 0)
			return;
	done = sup->shutdown_done;
	sup->shutdown_done = NULL;
	done(sup->shutdown_arg);
}

void vmsup_shutdown(struct vmsup *sup, void (*done)(void *arg), void *arg)
{
	sup->shutting_down = true;
	sup->shutdown_done = done;
	sup->shutdown_arg = arg;
	LOG_I(NULL, "stopping %zu VMs", sup->nvms);
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		if (vm->pid > 0)
			sup_vm_stop(vm, sup->cfg.stop_grace_s);
	sup_maybe_shutdown_done(sup);
}

void vmsup_detach(struct vmsup *sup)
{
	sup->shutting_down = true;
	LOG_I(NULL, "leaving %zu VMs running for the next daemon", sup->nvms);
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		sup_waiters_fail(vm, VMSUP_EC_SHUTTING_DOWN,
				 "the daemon is exiting (the VM runs on; ask the next daemon)");
}

bool vmsup_vm_stopping(const struct vm *vm)
{
	return vm->kill_requested || vm->stop_stage || vm->shutdown_seen;
}
