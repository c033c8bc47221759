#include "src/core/vm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"
#include "src/core/restart.h"
#include "src/core/module.h"

static const char *const state_names[VM_NSTATES] = {
    "defined", "starting", "running", "paused", "stopping", "stopped", "crashed", "failed",
};

static const char *const op_names[VM_NOPS] = {
    "start", "pause", "resume", "stop", "kill", "reset", "destroy", "qmp",
};

#define B(s) (1u << (s))

/* to-states reachable from each state; events and exits drive these */
static const unsigned transitions[VM_NSTATES] = {
    [VM_DEFINED] = B(VM_STARTING) | B(VM_FAILED),
    [VM_STARTING] = B(VM_RUNNING) | B(VM_PAUSED) | B(VM_STOPPING) | B(VM_STOPPED) | B(VM_CRASHED) |
		    B(VM_FAILED),
    [VM_RUNNING] = B(VM_PAUSED) | B(VM_STOPPING) | B(VM_STOPPED) | B(VM_CRASHED),
    [VM_PAUSED] = B(VM_RUNNING) | B(VM_STOPPING) | B(VM_STOPPED) | B(VM_CRASHED),
    [VM_STOPPING] = B(VM_STOPPED) | B(VM_CRASHED),
    [VM_STOPPED] = B(VM_STARTING) | B(VM_FAILED),
    [VM_CRASHED] = B(VM_STARTING) | B(VM_FAILED),
    [VM_FAILED] = B(VM_STARTING) | B(VM_FAILED),
};

/* states in which each operation may be asked for */
static const unsigned allowed[VM_NOPS] = {
    [VM_OP_START] = B(VM_DEFINED) | B(VM_STOPPED) | B(VM_CRASHED) | B(VM_FAILED),
    [VM_OP_PAUSE] = B(VM_RUNNING),
    [VM_OP_RESUME] = B(VM_PAUSED),
    [VM_OP_STOP] = B(VM_STARTING) | B(VM_RUNNING) | B(VM_PAUSED) | B(VM_STOPPING),
    [VM_OP_KILL] = B(VM_STARTING) | B(VM_RUNNING) | B(VM_PAUSED) | B(VM_STOPPING),
    [VM_OP_RESET] = B(VM_RUNNING) | B(VM_PAUSED),
    [VM_OP_DESTROY] = B(VM_NSTATES) - 1,
    [VM_OP_QMP] = B(VM_STARTING) | B(VM_RUNNING) | B(VM_PAUSED) | B(VM_STOPPING),
};

const char *vm_state_name(enum vm_state s)
{
	return (unsigned)s < VM_NSTATES ? state_names[s] : "unknown";
}

int vm_state_parse(const char *s)
{
	for (int i = 0; i < VM_NSTATES; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

const char *vm_op_name(enum vm_op op)
{
	return (unsigned)op < VM_NOPS ? op_names[op] : "unknown";
}

bool vm_transition_legal(enum vm_state from, enum vm_state to)
{
	if ((unsigned)from >= VM_NSTATES || (unsigned)to >= VM_NSTATES)
		return false;
	return transitions[from] & B(to);
}

bool vm_op_allowed(enum vm_state s, enum vm_op op)
{
	if ((unsigned)s >= VM_NSTATES || (unsigned)op >= VM_NOPS)
		return false;
	return allowed[op] & B(s);
}

bool vm_state_has_process(enum vm_state s)
{
	return s == VM_STARTING || s == VM_RUNNING || s == VM_PAUSED || s == VM_STOPPING;
}

const char *vm_agent_state_name(enum vm_agent_state s)
{
	switch (s) {
	case VM_AGENT_CONNECTING:
		return "connecting";
	case VM_AGENT_READY:
		return "ready";
	default:
		return "absent";
	}
}

static struct json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* With the 9p mount tag each share has in the guest (src/qemu/argv.c). */
static struct json_object *vm_shares_json(const struct vm *vm)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < vm->spec.nshares; i++) {
		struct json_object *e = json_object_new_object();
		char tag[32];

		snprintf(tag, sizeof(tag), "vmshare%zu", i);
		json_object_object_add(e, "path", json_object_new_string(vm->spec.shares[i].path));
		json_object_object_add(e, "readonly",
				       json_object_new_boolean(vm->spec.shares[i].readonly));
		json_object_object_add(e, "tag", json_object_new_string(tag));
		json_object_array_add(a, e);
	}
	return a;
}

/* The supervisor's monitor connection: null (none), connecting (e.g. while
 * reattaching after a daemon restart), ok, or unresponsive. */
static struct json_object *qmp_status(const struct vm *vm)
{
	if (!vm->qmp)
		return NULL;
	if (!qmp_is_ready(vm->qmp))
		return json_object_new_string("connecting");
	return json_object_new_string(vm->qmp_unresponsive ? "unresponsive" : "ok");
}

struct json_object *vm_cached_json(const struct vm *vm)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(vm->spec.name));
	json_object_object_add(o, "state", json_object_new_string(vm_state_name(vm->state)));
	json_object_object_add(o, "pid", vm->pid > 0 ? json_object_new_int64(vm->pid) : NULL);
	json_object_object_add(o, "accel", str_or_null(vm->accel_used));
	json_object_object_add(o, "accel_requested", json_object_new_string(vm->spec.accel));
	json_object_object_add(o, "mem_mib", json_object_new_int64(vm->spec.mem_mib));
	json_object_object_add(
	    o, "balloon_mib", vm->balloon_mib >= 0 ? json_object_new_int64(vm->balloon_mib) : NULL);
	json_object_object_add(o, "cpus", json_object_new_int64(vm->spec.cpus));
	json_object_object_add(o, "qmp_ops_socket", str_or_null(vm->ops_sock));
	json_object_object_add(o, "qga_socket", str_or_null(vm->qga_sock));
	json_object_object_add(o, "console_log", str_or_null(vm->console_log));
	json_object_object_add(o, "ssh_port",
			       vm->ssh_port > 0 ? json_object_new_int64(vm->ssh_port) : NULL);
	json_object_object_add(o, "mac", json_object_new_string(vm->mac));
	json_object_object_add(o, "net_mode",
			       json_object_new_string(vm_net_mode_name(&vm->spec.net)));
	json_object_object_add(o, "egress", json_object_new_boolean(vm->spec.net.egress));
	json_object_object_add(o, "ports", vm_net_ports_json(&vm->spec.net));
	json_object_object_add(o, "guest",
			       json_object_new_boolean(vm->spec.kernel || vm->spec.disk));
	json_object_object_add(o, "shares", vm_shares_json(vm));
	json_object_object_add(o, "exit_status",
			       vm->exit_code >= 0 ? json_object_new_int64(vm->exit_code) : NULL);
	json_object_object_add(
	    o, "exit_signal", vm->exit_signal >= 0 ? json_object_new_int64(vm->exit_signal) : NULL);
	json_object_object_add(o, "error", str_or_null(vm->error));
	json_object_object_add(o, "exit_reason", str_or_null(vm->exit_reason));
	json_object_object_add(o, "qmp", qmp_status(vm));
	json_object_object_add(o, "log_tail", str_or_null(vm->log_tail));
	json_object_object_add(o, "restarts", json_object_new_int64(vm->restarts));
	json_object_object_add(o, "pool_member", json_object_new_boolean(vm->pool_member));
	json_object_object_add(o, "restart", json_object_new_string(vm->spec.restart));
	json_object_object_add(o, "autostart", json_object_new_boolean(vm->spec.autostart));
	/* the features' own fields: limits, agent, template */
	vmsup_modules_status(vm, o);
	json_object_object_add(o, "created", json_object_new_double(vm->created));
	json_object_object_add(o, "owner", json_object_new_int64(vm->owner));
	return o;
}

struct json_object *vm_record_json(const struct vm *vm)
{
	struct json_object *o = vm_cached_json(vm);

	/* a countdown: changes with the clock, not with an event */
	vm_restart_status(vm, o);
	return o;
}

void vm_live_json(const struct vm *vm, struct json_object *o)
{
	json_object_object_add(o, "state_file_error", str_or_null(vm->save_error));
	json_object_object_add(o, "state_unsaved", json_object_new_boolean(vm->save_error != NULL));
	/* a reattached VM whose files went while the daemon was down runs on;
	 * its next start would fail on these. Looked up on each read, as the
	 * files may go at any time; the state file does not carry it */
	json_object_object_add(o, "missing", vm_spec_missing(&vm->spec));
}

void vm_release_fields(struct vm *vm)
{
	vm_spec_release(&vm->spec);
	free(vm->run_dir);
	free(vm->qmp_sock);
	free(vm->ops_sock);
	free(vm->ops_qemu_sock);
	free(vm->qga_sock);
	free(vm->pidfile);
	free(vm->console_log);
	free(vm->qemu_log);
	free(vm->accel_used);
	free(vm->error);
	free(vm->fatal);
	free(vm->log_tail);
	free(vm->save_error);
	free(vm->status_text);
}

struct json_object *vm_to_json(const struct vm *vm)
{
	struct json_object *o = vm_record_json(vm);

	vm_live_json(vm, o);
	return o;
}
