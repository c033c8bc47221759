/*
 * Run states that end a VM although its qemu still runs: internal-error
 * (the accelerator cannot go on), guest-panicked (a pvpanic or Hyper-V
 * crash report with the panic action "pause"), and a SHUTDOWN whose
 * reason is guest-panic. qemu cannot run such a guest on, so it is killed;
 * its exit makes the VM crashed with the reason in error (not stopped:
 * the kill is not the user's), and the restart policy applies as for any
 * crash.
 */
#include "src/core/sup-internal.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/log.h"

void vmsup_vm_fatal(struct vm *vm, const char *why, bool kill_qemu)
{
	char *s;

	if (vm->fatal || vm->pid <= 0)
		return; /* the first reason wins; a gone qemu's exit already spoke */
	if (!(s = strdup(why)))
		return;
	vm->fatal = s;
	LOG_E(vm->spec.name, "%s%s", why, kill_qemu ? ": killing qemu" : "");
	if (kill_qemu)
		kill(vm->pid, SIGKILL);
}

/* query-status "status" values qemu cannot leave on its own */
static const char *fatal_status(const char *st)
{
	if (!st)
		return NULL;
	if (!strcmp(st, "internal-error"))
		return "qemu stopped the VM: internal-error (the accelerator could not go on)";
	if (!strcmp(st, "guest-panicked"))
		return "the guest kernel panicked (run state guest-panicked)";
	return NULL;
}

void vmsup_vm_check_status(struct vm *vm, const char *status)
{
	const char *why = fatal_status(status);

	if (why)
		vmsup_vm_fatal(vm, why, true);
}

static void on_status(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct vm *vm = arg;
	struct json_object *st;

	if (!err && json_object_object_get_ex(ret, "status", &st))
		vmsup_vm_check_status(vm, json_object_get_string(st));
}

/* GUEST_PANICKED {"action": "pause"|"poweroff"|"run", "info": {...}} */
static void on_panicked(struct vm *vm, struct json_object *data)
{
	struct json_object *a, *info;
	const char *action =
	    data && json_object_object_get_ex(data, "action", &a) ? json_object_get_string(a) : "";
	char why[512];

	/* "run": the guest goes on by itself (it reboots, say): only a log line */
	if (!strcmp(action, "run")) {
		LOG_W(vm->spec.name, "the guest kernel panicked (qemu's panic action: run)");
		return;
	}
	snprintf(why, sizeof(why), "the guest kernel panicked (GUEST_PANICKED, action %s%s%s)",
		 action, data && json_object_object_get_ex(data, "info", &info) ? ", info " : "",
		 data && json_object_object_get_ex(data, "info", &info)
		     ? json_object_to_json_string_ext(info, JSON_C_TO_STRING_PLAIN)
		     : "");
	/* poweroff: qemu quits by itself after its SHUTDOWN */
	vmsup_vm_fatal(vm, why, strcmp(action, "poweroff") != 0);
}

void sup_fatal_event(struct vm *vm, const char *name, struct json_object *data)
{
	struct json_object *r;
	struct qmp_error e;

	if (!strcmp(name, "GUEST_PANICKED")) {
		on_panicked(vm, data);
	} else if (!strcmp(name, "SHUTDOWN")) {
		/* {"guest": true, "reason": "guest-panic"} */
		if (data && json_object_object_get_ex(data, "reason", &r) &&
		    !strcmp(json_object_get_string(r), "guest-panic"))
			vmsup_vm_fatal(
			    vm, "the guest kernel panicked (SHUTDOWN, reason guest-panic)", false);
	} else if (!strcmp(name, "STOP") && !vm->fatal) {
		/* STOP carries no reason: the run state tells a pause from an
		 * internal error */
		if (vm_qmp_call(vm, "query-status", NULL, 0, on_status, vm, &e) < 0)
			LOG_W(vm->spec.name, "query-status after STOP: %s", e.desc);
	}
}
