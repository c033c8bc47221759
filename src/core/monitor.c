/*
 * The supervisor's QMP session with each qemu: connecting while qemu
 * starts, the handshake, query-kvm and cont, and the events that drive
 * the state machine.
 */
#include "src/core/sup-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/err.h"
#include "src/util/log.h"

void sup_drop_qmp(struct vm *vm)
{
	if (vm->connect_timer) {
		event_free(vm->connect_timer);
		vm->connect_timer = NULL;
	}
	if (vm->qmp) {
		struct qmp_session *s = vm->qmp;
		vm->qmp = NULL;
		qmp_session_free(s);
		vm_status_changed(vm);
	}
}

static void on_qmp_event(struct qmp_session *s, const char *name, struct json_object *data,
			 int64_t sec, int64_t usec, void *arg)
{
	struct vm *vm = arg;
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "vm", json_object_new_string(vm->spec.name));
	json_object_object_add(ev, "type", json_object_new_string("qmp"));
	json_object_object_add(ev, "event", json_object_new_string(name));
	json_object_object_add(ev, "data", data ? json_object_get(data) : json_object_new_object());
	LOG_D(vm->spec.name, "QMP event %s", name);
	sup_fatal_event(vm, name, data);

	if (!strcmp(name, "STOP")) {
		if (vm->state == VM_RUNNING)
			sup_set_state(vm, VM_PAUSED);
	} else if (!strcmp(name, "RESUME")) {
		if (vm->state == VM_STARTING || vm->state == VM_PAUSED)
			sup_set_state(vm, VM_RUNNING);
	} else if (!strcmp(name, "SHUTDOWN")) {
		vm->shutdown_seen = true;
		if (vm->state == VM_STARTING || vm->state == VM_RUNNING || vm->state == VM_PAUSED)
			sup_set_state(vm, VM_STOPPING);
	}
	vmsup_modules_qmp_event(vm, name, data);
	vmsup_emit(vm->sup, vm, ev);
	sup_check_waiters(vm);
}

static void on_qmp_close(struct qmp_session *s, const struct qmp_error *why, void *arg)
{
	struct vm *vm = arg;

	/* the process exit (SIGCHLD) decides the state; this only logs */
	LOG_D(vm->spec.name, "QMP connection closed: %s", why ? why->desc : "");
	vm->qmp = NULL;
	qmp_session_free(s);
	vm_status_changed(vm);
}

static void on_query_kvm(struct qmp_session *s, struct json_object *ret,
			 const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct json_object *en;

	if (err)
		return; /* Disconnected: the exit handler speaks */
	free(vm->accel_used);
	vm->accel_used = strdup(
	    json_object_object_get_ex(ret, "enabled", &en) && json_object_get_boolean(en) ? "kvm"
											  : "tcg");
	vm_status_changed(vm);
}

static void on_cont(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		    void *arg)
{
	struct vm *vm = arg;

	if (err) {
		if (strcmp(err->cls, QMP_ERR_DISCONNECTED) != 0) {
			char why[400];
			snprintf(why, sizeof(why), "cont: %s: %s", err->cls, err->desc);
			sup_fail_start(vm, why);
		}
		return;
	}
	/* RESUME normally came first; this covers a qemu that did not send it */
	if (vm->state == VM_STARTING)
		sup_set_state(vm, VM_RUNNING);
	sup_check_waiters(vm);
}

static void on_qmp_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct qmp_error e;

	if (err) {
		char why[400];
		snprintf(why, sizeof(why), "QMP handshake: %s: %s", err->cls, err->desc);
		sup_fail_start(vm, why);
		return;
	}
	vm->qmp_ready_once = true;
	/* qemu sets up its netdevs before it greets on QMP */
	sup_release_ssh_port(vm);
	vm_status_changed(vm); /* qmp: connecting -> ok */
	/* both in flight at once: qemu answers in order, one round trip */
	if (vm_qmp_call(vm, "query-kvm", NULL, 0, on_query_kvm, vm, &e) < 0 ||
	    /* a VM being restored is resumed by the restore, once its state is in */
	    (!vmsup_modules_hold_cont(vm) &&
	     vm_qmp_call(vm, "cont", NULL, 0, on_cont, vm, &e) < 0)) {
		char why[400];
		snprintf(why, sizeof(why), "QMP: %s", e.desc);
		sup_fail_start(vm, why);
		return;
	}
	vmsup_modules_qmp_ready(vm);
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;
	struct qmp_error e;
	struct timeval tv = sup_tv_ms(CONNECT_RETRY_MS);

	if (!vm->qmp) {
		vm_status_changed(vm); /* qmp: null -> connecting */
		vm->qmp = qmp_session_new(vm->sup->base, QMP_KIND_QMP, NULL);
		if (!vm->qmp) {
			sup_fail_start(vm, "out of memory");
			return;
		}
	}
	if (qmp_connect(vm->qmp, vm->qmp_sock, on_qmp_ready, vm, &e) == 0) {
		qmp_subscribe(vm->qmp, on_qmp_event, vm);
		qmp_on_close(vm->qmp, on_qmp_close, vm);
		event_free(vm->connect_timer);
		vm->connect_timer = NULL;
		return;
	}
	/* no descriptor for the socket: waiting out the deadline would not help */
	if (vmsup_err_is_fd_exhaustion(e.desc)) {
		char why[400];
		snprintf(why, sizeof(why), "QMP connect: %s", e.desc);
		sup_fail_start(vm, why);
		return;
	}
	if (sup_now_mono() > vm->connect_deadline) {
		char why[400];
		snprintf(why, sizeof(why), "QMP socket never came up: %s", e.desc);
		sup_fail_start(vm, why);
		return;
	}
	/* qemu creates its monitor socket early in start-up: poll briefly */
	evtimer_add(vm->connect_timer, &tv);
}

void vmsup_vm_qmp_attach(struct vm *vm)
{
	qmp_subscribe(vm->qmp, on_qmp_event, vm);
	qmp_on_close(vm->qmp, on_qmp_close, vm);
}

/* Poll for qemu's monitor socket from now on; -1 if out of memory. */
int sup_connect_start(struct vm *vm)
{
	struct timeval tv = sup_tv_ms(1);

	vm->connect_deadline = sup_now_mono() + CONNECT_DEADLINE;
	vm->connect_timer = evtimer_new(vm->sup->base, try_connect, vm);
	if (!vm->connect_timer)
		return -1;
	evtimer_add(vm->connect_timer, &tv);
	return 0;
}
