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
	struct execop *op = arg;

	op->cb(res, err, op->arg);
}

static void exec_chunk(int stream, const unsigned char *p, size_t n, void *arg)
{
	struct execop *op = arg;

	op->chunk(stream, p, n, op->arg);
}

/* The exec sends nothing more (its guest files removed): off the list. */
static void exec_end(void *arg)
{
	struct execop *op = arg, **pp;

	for (pp = &op->a->execs; *pp; pp = &(*pp)->next) {
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	}
	free(op);
}

struct gexec *agent_exec(struct agent *a, const char *const *argv, const void *input, size_t len,
			 unsigned timeout_ms, gexec_done_fn cb, void *arg, struct qmp_error *err)
{
	struct gexec_request req = {argv, NULL, input, len, timeout_ms, 0, 0, NULL};

	return agent_exec_req(a, &req, cb, arg, err);
}

struct gexec *agent_exec_req(struct agent *a, const struct gexec_request *r, gexec_done_fn cb,
			     void *arg, struct qmp_error *err)
{
	struct gexec_request req = *r;
	struct execop *op;

	if (a->st != AGENT_READY) {
		agent_no_session(a, err);
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
	req.call_timeout_ms = a->cmd_timeout_ms;
	op->chunk = r->chunk;
	if (r->chunk)
		req.chunk = exec_chunk;
	op->g = gexec_start(a->base, exec_call, a, &req, exec_done, op, err);
	if (!op->g) {
		free(op);
		return NULL;
	}
	gexec_on_end(op->g, exec_end, op);
	op->next = a->execs;
	a->execs = op;
	return op->g;
}
