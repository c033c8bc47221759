/*
 * QMP commands of the supervisor and its modules on vm->qmp, each round
 * trip timed and handed to the modules (the metrics module keeps the
 * histogram), and a hung monitor marked in the VM's status.
 */
#include "src/core/sup-internal.h"

#include <stdlib.h>
#include <string.h>

#include "src/util/log.h"

struct timed {
	struct vm *vm;
	struct vmsup *sup;
	double sent;
	qmp_reply_fn fn;
	void *arg;
};

static void on_timed_reply(struct qmp_session *s, struct json_object *ret,
			   const struct qmp_error *err, void *arg)
{
	struct timed *t = arg;

	/* QEMU's own error replies are round trips too; failures found on
	 * this side (timeout, disconnect, garbage) are not */
	bool answered =
	    !err || (strcmp(err->cls, QMP_ERR_TIMEOUT) && strcmp(err->cls, QMP_ERR_DISCONNECTED) &&
		     strcmp(err->cls, QMP_ERR_PROTOCOL) && strcmp(err->cls, QMP_ERR_CONNECT));

	if (answered && t->sup)
		vmsup_modules_qmp_rtt(t->sup, sup_now_mono() - t->sent);
	/* a hung qemu (SIGSTOP, stuck monitor) shows in the status; the next
	 * answer clears it. Disconnected may come from freeing the VM: no touch */
	if (err && !strcmp(err->cls, QMP_ERR_TIMEOUT)) {
		if (!t->vm->qmp_unresponsive) {
			LOG_W(t->vm->spec.name, "QMP unresponsive: %s", err->desc);
			vm_status_changed(t->vm);
		}
		t->vm->qmp_unresponsive = true;
	} else if (answered && t->vm->qmp_unresponsive) {
		t->vm->qmp_unresponsive = false;
		vm_status_changed(t->vm);
	}
	if (t->fn)
		t->fn(s, ret, err, t->arg);
	free(t);
}

static struct timed *timed_new(struct vm *vm, qmp_reply_fn fn, void *arg)
{
	struct timed *t;

	if (!(t = malloc(sizeof(*t))))
		return NULL; /* unwatched: the call itself still goes out */
	t->vm = vm;
	t->sup = vm->sup;
	t->sent = sup_now_mono();
	t->fn = fn;
	t->arg = arg;
	return t;
}

/* One of cmd (with args) or raw (a whole command object) is given. */
static int64_t timed_call(struct vm *vm, const char *cmd, struct json_object *args,
			  struct json_object *raw, unsigned timeout_ms, qmp_reply_fn fn, void *arg,
			  struct qmp_error *err)
{
	struct timed *t = timed_new(vm, fn, arg);
	qmp_reply_fn cb = t ? on_timed_reply : fn;
	void *cb_arg = t ? (void *)t : arg;
	int64_t id = raw ? qmp_call_raw(vm->qmp, raw, timeout_ms, cb, cb_arg, err)
			 : qmp_call(vm->qmp, cmd, args, timeout_ms, cb, cb_arg, err);

	if (id < 0)
		free(t);
	return id;
}

int64_t vm_qmp_call(struct vm *vm, const char *cmd, struct json_object *args, unsigned timeout_ms,
		    qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	return timed_call(vm, cmd, args, NULL, timeout_ms, fn, arg, err);
}

int64_t vm_qmp_call_raw(struct vm *vm, struct json_object *cmd, unsigned timeout_ms,
			qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	return timed_call(vm, NULL, NULL, cmd, timeout_ms, fn, arg, err);
}
