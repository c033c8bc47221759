#include "src/core/reattach-internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "qmp/qmp.h"
#include "src/core/module.h"
#include "src/util/log.h"
#include "src/core/supervisor.h"

#define QMP_RETRY_MS 1000 /* a qemu that does not answer (stopped) */

/* ---- QMP ---- */

static void on_qmp_retry(evutil_socket_t fd, short what, void *arg)
{
	reattach_qmp_connect_again(arg);
}

static void retry_later(struct vm *vm, const char *why)
{
	struct watch *w = vm->watch;
	struct timeval tv = {QMP_RETRY_MS / 1000, (QMP_RETRY_MS % 1000) * 1000};
	char *e = NULL;

	LOG_W(vm->spec.name, "reattach: QMP: %s (retrying)", why);
	vm_status_changed(vm); /* error, qmp */
	if (asprintf(&e, "reattach: QMP: %s", why) >= 0) {
		free(vm->error);
		vm->error = e;
	}
	if (!w)
		return;
	if (!w->qmp_retry && !(w->qmp_retry = evtimer_new(vmsup_base(vm->sup), on_qmp_retry, vm)))
		return;
	evtimer_add(w->qmp_retry, &tv);
}

static void on_ignore(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct vm *vm = arg;

	if (err && strcmp(err->cls, QMP_ERR_DISCONNECTED) != 0)
		LOG_W(vm->spec.name, "%s: %s", err->cls, err->desc);
}

static void on_status(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct vm *vm = arg;
	struct json_object *st, *running;
	struct watch *w = vm->watch;
	struct qmp_error e;

	if (err || vm->pid <= 0)
		return; /* disconnected: the exit watch speaks */
	json_object_object_get_ex(ret, "status", &st);
	json_object_object_get_ex(ret, "running", &running);
	LOG_I(vm->spec.name, "reattached qemu pid %d: %s (%.0f ms)", (int)vm->pid,
	      st ? json_object_get_string(st) : "?",
	      w ? (reattach_now_mono() - w->t0) * 1000 : 0.0);
	/* it went into internal-error or panicked while nobody watched */
	vmsup_vm_check_status(vm, st ? json_object_get_string(st) : NULL);
	if (vm->fatal)
		return;
	if (running && json_object_get_boolean(running)) {
		if (vm->state == VM_STARTING || vm->state == VM_PAUSED)
			vmsup_vm_set_state(vm, VM_RUNNING);
		return;
	}
	/* the daemon died between spawn and cont: finish the start */
	if (vm->state == VM_STARTING && w && w->resume) {
		w->resume = false;
		if (vm_qmp_call(vm, "cont", NULL, 0, on_ignore, vm, &e) < 0)
			LOG_W(vm->spec.name, "cont: %s", e.desc);
		return;
	}
	if (vm->state == VM_RUNNING)
		vmsup_vm_set_state(vm, VM_PAUSED);
}

static void on_balloon(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		       void *arg)
{
	struct vm *vm = arg;
	struct json_object *actual;

	/* no balloon device is no error worth telling */
	if (!err && json_object_object_get_ex(ret, "actual", &actual)) {
		vm->balloon_mib = (int)(json_object_get_int64(actual) >> 20);
		vm_status_changed(vm);
	}
}

static void on_kvm(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		   void *arg)
{
	struct vm *vm = arg;
	struct json_object *en;
	char *a;

	if (err)
		return;
	a = strdup(json_object_object_get_ex(ret, "enabled", &en) && json_object_get_boolean(en)
		       ? "kvm"
		       : "tcg");
	if (a) {
		free(vm->accel_used);
		vm->accel_used = a;
	}
	vmsup_vm_save(vm);
}

static void on_qmp_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct qmp_error e;

	if (err) {
		/* the session is closed; it is freed on the next attempt */
		retry_later(vm, err->desc);
		return;
	}
	/* from now on an exit is a crash (a failed start cannot leave running) */
	vm->qmp_ready_once = true;
	vm_status_changed(vm); /* qmp, error */
	if (vm->error && !strncmp(vm->error, "reattach: ", 10)) {
		free(vm->error);
		vm->error = NULL;
	}
	/* in flight together: qemu answers in order, one round trip; the
	 * status last, so that "running" shows with the rest known */
	if (vm_qmp_call(vm, "query-kvm", NULL, 0, on_kvm, vm, &e) < 0 ||
	    vm_qmp_call(vm, "query-balloon", NULL, 0, on_balloon, vm, &e) < 0 ||
	    vm_qmp_call(vm, "query-status", NULL, 0, on_status, vm, &e) < 0)
		LOG_W(vm->spec.name, "reattach: %s", e.desc);
	/* vm->adopted: the agent module probes a port that may have been open
	 * for long (no VSERPORT_CHANGE will come) */
	vmsup_modules_qmp_ready(vm);
}

void reattach_qmp_connect_again(struct vm *vm)
{
	struct qmp_error e;

	if (vm->pid <= 0)
		return;
	vm_status_changed(vm); /* qmp: connecting */
	if (vm->qmp) {
		struct qmp_session *old = vm->qmp;
		vm->qmp = NULL;
		qmp_session_free(old);
	}
	if (!(vm->qmp = qmp_session_new(vmsup_base(vm->sup), QMP_KIND_QMP, NULL))) {
		retry_later(vm, "out of memory");
		return;
	}
	if (qmp_connect(vm->qmp, vm->qmp_sock, on_qmp_ready, vm, &e) < 0) {
		retry_later(vm, e.desc);
		return;
	}
	vmsup_vm_qmp_attach(vm);
}

static bool connecting(struct vmsup *sup)
{
	for (struct vm *vm = vmsup_first(sup); vm; vm = vm->next)
		if (vm->pid > 0 && !(vm->qmp && qmp_is_ready(vm->qmp)))
			return true;
	return false;
}

static void on_settled(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	*(bool *)arg = true;
}

void vm_reattach_settle(struct vmsup *sup, int max_ms)
{
	struct timeval tv = {max_ms / 1000, (max_ms % 1000) * 1000};
	bool over = false;
	struct event *t = evtimer_new(vmsup_base(sup), on_settled, &over);

	if (!t)
		return;
	evtimer_add(t, &tv);
	/* each pass handles at least one event: the timer bounds the wait */
	while (!over && connecting(sup))
		event_base_loop(vmsup_base(sup), EVLOOP_ONCE);
	event_free(t);
}
