#include "src/metrics/vm-stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/util/log.h"
#include "src/core/supervisor.h"
#include "src/limits/vm-limits.h"
#include "src/core/vm.h"

void vmsup_stats_init(struct vmsup_stats *s)
{
	memset(s, 0, sizeof(*s));
	metrics_qmp_hist_init(&s->qmp_rt);
	s->started_mono = vmsup_stats_now();
}

double vmsup_stats_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct timed {
	struct vm *vm;
	struct vmsup_stats *stats; /* NULL: not timed */
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

	if (answered && t->stats)
		metrics_qmp_observe(&t->stats->qmp_rt, vmsup_stats_now() - t->sent);
	/* a hung qemu (SIGSTOP, stuck monitor) shows in the status; the next
	 * answer clears it. Disconnected may come from freeing the VM: no touch */
	if (err && !strcmp(err->cls, QMP_ERR_TIMEOUT)) {
		if (!t->vm->qmp_unresponsive)
			LOG_W(t->vm->spec.name, "QMP unresponsive: %s", err->desc);
		t->vm->qmp_unresponsive = true;
	} else if (answered) {
		t->vm->qmp_unresponsive = false;
	}
	if (t->fn)
		t->fn(s, ret, err, t->arg);
	free(t);
}

static struct vmsup_stats *stats_of(struct vm *vm)
{
	struct vm_limits *l = vm->sup ? vmsup_limits(vm->sup) : NULL;

	return l ? vm_limits_stats(l) : NULL;
}

static struct timed *timed_new(struct vm *vm, qmp_reply_fn fn, void *arg)
{
	struct vmsup_stats *st = stats_of(vm);
	struct timed *t;

	if (!(t = malloc(sizeof(*t))))
		return NULL; /* unwatched: the call itself still goes out */
	t->vm = vm;
	t->stats = st;
	t->sent = vmsup_stats_now();
	t->fn = fn;
	t->arg = arg;
	return t;
}

int64_t vm_qmp_call(struct vm *vm, const char *cmd, struct json_object *args, unsigned timeout_ms,
		    qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct timed *t = timed_new(vm, fn, arg);
	int64_t id;

	if (!t)
		return qmp_call(vm->qmp, cmd, args, timeout_ms, fn, arg, err);
	id = qmp_call(vm->qmp, cmd, args, timeout_ms, on_timed_reply, t, err);
	if (id < 0)
		free(t);
	return id;
}

int64_t vm_qmp_call_raw(struct vm *vm, struct json_object *cmd, unsigned timeout_ms,
			qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct timed *t = timed_new(vm, fn, arg);
	int64_t id;

	if (!t)
		return qmp_call_raw(vm->qmp, cmd, timeout_ms, fn, arg, err);
	id = qmp_call_raw(vm->qmp, cmd, timeout_ms, on_timed_reply, t, err);
	if (id < 0)
		free(t);
	return id;
}
