/* Lifecycle operations the API asks for on one VM (vmsup_op). */
#include "src/core/sup-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/qemu/qmp-guard.h"
#include "src/util/bounds.h"
#include "src/util/err.h"
#include "src/util/log.h"

static unsigned timeout_arg(struct vmsup *sup, struct json_object *args, int *bad)
{
	struct json_object *t;
	int64_t n;

	*bad = 0;
	if (!args || !json_object_object_get_ex(args, "timeout_s", &t) ||
	    json_object_is_type(t, json_type_null))
		return sup->cfg.stop_grace_s;
	if (!json_object_is_type(t, json_type_int) || (n = json_object_get_int64(t)) < 0 ||
	    n > VMSUP_TIMEOUT_MAX_S) {
		*bad = 1;
		return 0;
	}
	return (unsigned)n;
}

static void on_qmp_passthrough(struct qmp_session *s, struct json_object *ret,
			       const struct qmp_error *err, void *arg)
{
	struct waiter *w = arg;

	if (err) {
		/* qemu's own class (or Timeout, Disconnected): the daemon maps it */
		sup_finish(w, err->cls, err->desc, NULL);
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "return",
				       ret ? json_object_get(ret) : json_object_new_object());
		sup_finish(w, NULL, NULL, o);
		json_object_put(o);
	}
	sup_waiter_free(w);
}

static void on_reset(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	struct waiter *w = arg;

	if (err)
		sup_finish(w, err->cls, err->desc, NULL);
	else if (w->vm) {
		struct json_object *o = vm_to_json(w->vm);
		sup_finish(w, NULL, NULL, o);
		json_object_put(o);
	}
	sup_waiter_free(w);
}

/* A QMP call on behalf of a request; the waiter is freed in cb. */
static struct waiter *qmp_request(struct vm *vm, const char *cmd, struct json_object *raw,
				  qmp_reply_fn cb, vmsup_done_fn done, void *arg)
{
	struct waiter *w;
	struct qmp_error e;
	int64_t id;

	if (!vm->qmp || !qmp_is_ready(vm->qmp)) {
		json_object_put(raw);
		sup_reply_err(done, arg, VMSUP_EC_CONFLICT, "VM '%s' has no QMP connection yet",
			      vm->spec.name);
		return NULL;
	}
	if (!(w = sup_waiter_add(vm, W_QMP, 0, false, 0, done, arg))) {
		json_object_put(raw);
		sup_reply_err(done, arg, VMSUP_EC_INTERNAL, "out of memory");
		return NULL;
	}
	id =
	    raw ? vm_qmp_call_raw(vm, raw, 0, cb, w, &e) : vm_qmp_call(vm, cmd, NULL, 0, cb, w, &e);
	if (id < 0) {
		sup_finish(w, VMSUP_EC_INVALID, e.desc, NULL);
		sup_waiter_free(w);
		return NULL;
	}
	return w;
}

/* destroy's {"force": true}: 1, 0 (absent, null, false), -1 not a boolean. */
static int force_arg(struct json_object *args)
{
	struct json_object *f;

	if (!args || !json_object_object_get_ex(args, "force", &f) ||
	    json_object_is_type(f, json_type_null))
		return 0;
	if (!json_object_is_type(f, json_type_boolean))
		return -1;
	return json_object_get_boolean(f) ? 1 : 0;
}

/* Stopped, crashed or failed: a stop has nothing to do (a VM never
 * started, "defined", still refuses one). */
static bool already_down(const struct vm *vm)
{
	return vm->state == VM_STOPPED || vm->state == VM_CRASHED || vm->state == VM_FAILED;
}

struct waiter *vmsup_op(struct vmsup *sup, const char *name, enum vm_op op,
			struct json_object *args, vmsup_done_fn done, void *arg)
{
	struct vm *vm = vmsup_find(sup, name);
	struct waiter *w = NULL;
	unsigned grace;
	char *why = NULL;
	int bad, force;

	if (!vm) {
		sup_reply_err(done, arg, VMSUP_EC_NOT_FOUND, "no VM named '%s'", name);
		return NULL;
	}
	if (vm->destroying && op != VM_OP_DESTROY) {
		sup_reply_err(done, arg, VMSUP_EC_CONFLICT, "VM '%s' is being destroyed", name);
		return NULL;
	}
	if (vm->pool_member && op != VM_OP_DESTROY && op != VM_OP_KILL && op != VM_OP_QMP) {
		/* a pool VM serves one task, handed out by the pool */
		sup_reply_err(done, arg, VMSUP_EC_POOL_MEMBER,
			      "VM '%s' waits in the warm pool: take one with POST /v1/pool/take",
			      name);
		return NULL;
	}
	if (!vm_op_allowed(vm->state, op) && !(op == VM_OP_STOP && already_down(vm))) {
		sup_reply_err(done, arg, VMSUP_EC_CONFLICT, "cannot %s VM '%s': it is %s",
			      vm_op_name(op), name, vm_state_name(vm->state));
		return NULL;
	}
	if (sup->shutting_down && op == VM_OP_START) {
		sup_reply_err(done, arg, VMSUP_EC_SHUTTING_DOWN, "the daemon is shutting down");
		return NULL;
	}
	switch (op) {
	case VM_OP_START:
		/* a file gone since the create (e.g. while the daemon was down):
		 * refused with the VM left as it is, not a failed spawn */
		if (vm_spec_check_files(&vm->spec, &why)) {
			sup_reply_err(done, arg, VMSUP_EC_CONFLICT, "cannot start VM '%s': %s",
				      name, why);
			free(why);
			return NULL;
		}
		sup_vm_start(vm);
		if (vm->state != VM_STARTING) {
			return sup_reply_vm(done, arg, false, vm);
		}
		w = sup_waiter_add(vm, W_START, 0, false, 0, done, arg);
		break;
	case VM_OP_PAUSE:
	case VM_OP_RESUME:
		if (!sup_send_cmd(vm, op == VM_OP_PAUSE ? "stop" : "cont")) {
			sup_reply_err(done, arg, VMSUP_EC_CONFLICT, "VM '%s' has no QMP connection",
				      name);
			return NULL;
		}
		w = sup_waiter_add(vm, W_STATE, 1u << (op == VM_OP_PAUSE ? VM_PAUSED : VM_RUNNING),
				   false, OP_TIMEOUT_MS, done, arg);
		break;
	case VM_OP_STOP:
		grace = timeout_arg(sup, args, &bad);
		if (bad) {
			sup_reply_err(done, arg, VMSUP_EC_INVALID,
				      "'timeout_s' must be an integer in 0..%u",
				      VMSUP_TIMEOUT_MAX_S);
			return NULL;
		}
		if (already_down(vm)) {
			/* the wanted outcome holds: a stop is idempotent */
			return sup_reply_vm(done, arg, false, vm);
		}
		w = sup_waiter_add(vm, W_GONE, 0, false, 0, done, arg);
		sup_vm_stop(vm, grace);
		break;
	case VM_OP_KILL:
		w = sup_waiter_add(vm, W_GONE, 0, false, 0, done, arg);
		vm->kill_requested = true;
		LOG_I(name, "kill (SIGKILL pid %d)", (int)vm->pid);
		kill(vm->pid, SIGKILL);
		break;
	case VM_OP_RESET:
		return qmp_request(vm, "system_reset", NULL, on_reset, done, arg);
	case VM_OP_QMP:
		if (!args || !json_object_is_type(args, json_type_object)) {
			sup_reply_err(done, arg, VMSUP_EC_INVALID,
				      "the body must be a QMP command object {\"execute\":...}");
			return NULL;
		}
		if (vm_qmp_guard(args, &why)) {
			/* refused before qemu sees it: it would spawn or open a host path */
			LOG_W(name, "%s", why);
			sup_reply_err(done, arg, VMSUP_EC_FORBIDDEN, "%s", why);
			free(why);
			return NULL;
		}
		return qmp_request(vm, NULL, json_object_get(args), on_qmp_passthrough, done, arg);
	case VM_OP_DESTROY:
		grace = timeout_arg(sup, args, &bad);
		if (bad) {
			sup_reply_err(done, arg, VMSUP_EC_INVALID,
				      "'timeout' must be an integer in 0..%u", VMSUP_TIMEOUT_MAX_S);
			return NULL;
		}
		if ((force = force_arg(args)) < 0) {
			sup_reply_err(done, arg, VMSUP_EC_INVALID, "'force' must be a boolean");
			return NULL;
		}
		/* a state file left behind would bring the VM back at the next
		 * start: refuse before anything is stopped, so a retry can succeed */
		if (access(sup->cfg.state_dir, W_OK) < 0) {
			sup_reply_err(done, arg, VMSUP_EC_SAVE,
				      "cannot destroy VM '%s': its state file cannot be removed "
				      "(%s: %s); the VM is kept, retry once it is writable",
				      name, sup->cfg.state_dir, strerror(errno));
			return NULL;
		}
		vm->destroying = true;
		LOG_I(name, "destroy%s", force ? " (force)" : "");
		w = sup_waiter_add(vm, W_DESTROY, 0, false, 0, done, arg);
		if (!w) {
			sup_reply_err(done, arg, VMSUP_EC_INTERNAL, "out of memory");
			return NULL;
		}
		if (vm->pid > 0) {
			/* force: qemu goes at once, whatever it or its guest is doing
			 * (booting, hung, a graceful destroy already waiting) */
			if (force)
				sup_vm_kill_now(vm);
			else
				sup_vm_stop(vm, grace);
			return w;
		}
		if (vm->busy) /* done when the core lets go of it (vm.h) */
			return w;
		/* replies and frees w; pinned, it outlives that to tell
		 * whether its reply waits for the disk (then it is the handle) */
		w->pinned = true;
		sup_check_waiters(vm);
		w->pinned = false;
		if (w->durable || !w->orphan)
			return w;
		sup_waiter_free(w);
		return NULL;
	default:
		sup_reply_err(done, arg, VMSUP_EC_INVALID, "unknown operation");
		return NULL;
	}
	if (!w) {
		sup_reply_err(done, arg, VMSUP_EC_INTERNAL, "out of memory");
		return NULL;
	}
	/* the target may already hold (e.g. the process exited meanwhile) */
	return w;
}
