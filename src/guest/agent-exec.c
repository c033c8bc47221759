#include "src/guest/agent-internal.h"

#include <stdlib.h>

/* ---- exec ---- */

static int64_t exec_call(void *ctx, const char *cmd, struct json_object *args, unsigned timeout_ms,
			 qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	return agent_call(ctx, cmd, args, timeout_ms, fn, arg, err);
}

static void exec_done(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct execop *op = arg, **pp;

	for (pp = &op->a->execs; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	op->cb(res, err, op->arg);
	free(op);
}

struct gexec *agent_exec(struct agent *a, const char *const *argv, const void *input, size_t len,
			 unsigned timeout_ms, gexec_done_fn cb, void *arg, struct qmp_error *err)
{
	struct gexec_request req = {argv, NULL, input, len, timeout_ms, a->cmd_timeout_ms};
	struct execop *op;

	if (a->st != AGENT_READY) {
		qmp_error_set(err, AGENT_ERR_NOT_READY, "agent not ready");
		return NULL;
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		qmp_error_set(err, "InternalError", "out of memory");
		return NULL;
	}
	op->a = a;
	op->cb = cb;
	op->arg = arg;
	op->g = gexec_start(a->base, exec_call, a, &req, exec_done, op, err);
	if (!op->g) {
		free(op);
		return NULL;
	}
	op->next = a->execs;
	a->execs = op;
	return op->g;
}
