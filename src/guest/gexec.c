#include "src/guest/gexec.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "src/util/b64.h"

/* A quick command (`true`) has exited within a round trip or two: the
 * first polls come sub-millisecond, then back off to the bound. */
#define POLL_FIRST_US 250
#define POLL_MAX_US   50000 /* the bound on polling */

struct gexec {
	struct event_base *base;
	gexec_call_fn call;
	void *ctx;
	gexec_done_fn done;
	void *arg;
	unsigned call_timeout_ms;
	unsigned timeout_ms;
	struct timeval start;
	struct event *timer; /* next poll, or the deferred start error */
	unsigned poll_us;
	int64_t pid;
	int inflight; /* a QGA command's reply is pending and points at us */
	int finished; /* done called; free when nothing points at us */
};

static void release(struct gexec *g)
{
	if (g->inflight)
		return;
	if (g->timer)
		event_free(g->timer);
	free(g);
}

static void finish(struct gexec *g, const struct gexec_result *res, const struct qmp_error *err)
{
	if (g->finished)
		return;
	g->finished = 1;
	if (g->timer)
		evtimer_del(g->timer);
	g->done(res, err, g->arg);
	release(g);
}

void gexec_result_clear(struct gexec_result *res)
{
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
}

/*
 * A base64 field of st, decoded. In place: where json-c keeps the text
 * (st is the caller's alone and dropped after this), so an output of
 * many megabytes is not held twice; else into a malloc'd buffer.
 */
static int decode_field(struct json_object *st, const char *key, bool in_place, unsigned char **out,
			size_t *len, struct qmp_error *err)
{
	static unsigned char none[1];
	struct json_object *v;
	const char *s;
	size_t n;

	if (!json_object_object_get_ex(st, key, &v) || !v) {
		*out = in_place ? none : calloc(1, 1);
		*len = 0;
		return *out ? 0 : -1;
	}
	if (!json_object_is_type(v, json_type_string)) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "guest-exec-status: %s is not a string", key);
		return -1;
	}
	s = json_object_get_string(v);
	n = (size_t)json_object_get_string_len(v);
	if (in_place) {
		*out = (unsigned char *)s;
		if (b64_decode_into(s, n, *out, len))
			*out = NULL;
	} else {
		*out = b64_decode(s, n, len);
	}
	if (!*out) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "guest-exec-status: %s is not base64", key);
		return -1;
	}
	return 0;
}

static int get_int(struct json_object *o, const char *key, int *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	*out = json_object_get_int(v);
	return 0;
}

static int get_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

static int parse_status(struct json_object *st, bool in_place, struct gexec_result *res,
			struct qmp_error *err)
{
	int code, sig;

	memset(res, 0, sizeof(*res));
	if (!json_object_is_type(st, json_type_object)) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "guest-exec-status did not return an object");
		return -1;
	}
	res->exitcode = -1;
	if (get_int(st, "signal", &sig) == 0 && sig > 0) {
		res->signal = sig;
		res->status = 128 + sig;
	} else if (get_int(st, "exitcode", &code) == 0) {
		res->exitcode = code;
		res->status = code;
	} else {
		qmp_error_set(err, QMP_ERR_PROTOCOL,
			      "guest-exec-status: neither exitcode nor signal");
		return -1;
	}
	if (decode_field(st, "out-data", in_place, &res->out, &res->out_len, err) < 0 ||
	    decode_field(st, "err-data", in_place, &res->err, &res->err_len, err) < 0) {
		if (in_place)
			memset(res, 0, sizeof(*res));
		else
			gexec_result_clear(res);
		return -1;
	}
	res->out_truncated = get_bool(st, "out-truncated");
	res->err_truncated = get_bool(st, "err-truncated");
	return 0;
}

int gexec_parse_status(struct json_object *st, struct gexec_result *res, struct qmp_error *err)
{
	return parse_status(st, false, res, err);
}

static long elapsed_ms(const struct gexec *g)
{
	struct timeval now, d;

	event_base_gettimeofday_cached(g->base, &now);
	timersub(&now, &g->start, &d);
	return d.tv_sec * 1000 + d.tv_usec / 1000;
}

static void on_status(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct gexec *g = arg;
	struct qmp_error e;
	struct gexec_result res;

	g->inflight = 0;
	if (g->finished) {
		release(g);
		return;
	}
	if (err) {
		finish(g, NULL, err);
		return;
	}
	if (!get_bool(ret, "exited")) {
		struct timeval tv;

		if (g->timeout_ms && elapsed_ms(g) >= (long)g->timeout_ms) {
			qmp_error_set(&e, QMP_ERR_TIMEOUT,
				      "guest process %lld did not exit within %u ms",
				      (long long)g->pid, g->timeout_ms);
			finish(g, NULL, &e);
			return;
		}
		tv.tv_sec = 0;
		tv.tv_usec = g->poll_us;
		evtimer_add(g->timer, &tv);
		/* Quick commands are answered quickly; long ones cost ≤ 20 polls/s. */
		g->poll_us = g->poll_us * 2 > POLL_MAX_US ? POLL_MAX_US : g->poll_us * 2;
		return;
	}
	/* the reply is ours until we return: its output is decoded in place
	 * and handed on borrowed, as done's contract says */
	if (parse_status(ret, true, &res, &e) < 0) {
		finish(g, NULL, &e);
		return;
	}
	res.pid = g->pid;
	finish(g, &res, NULL);
}

static void poll_now(evutil_socket_t fd, short what, void *arg)
{
	struct gexec *g = arg;
	struct qmp_error e;
	struct json_object *args;

	args = json_object_new_object();
	json_object_object_add(args, "pid", json_object_new_int64(g->pid));
	if (g->call(g->ctx, "guest-exec-status", args, g->call_timeout_ms, on_status, g, &e) < 0) {
		finish(g, NULL, &e);
		return;
	}
	g->inflight = 1;
}

static void on_started(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		       void *arg)
{
	struct gexec *g = arg;
	struct json_object *pid;
	struct qmp_error e;

	g->inflight = 0;
	if (g->finished) {
		release(g);
		return;
	}
	if (err) {
		finish(g, NULL, err);
		return;
	}
	if (!json_object_object_get_ex(ret, "pid", &pid) ||
	    !json_object_is_type(pid, json_type_int)) {
		qmp_error_set(&e, QMP_ERR_PROTOCOL, "guest-exec returned no pid");
		finish(g, NULL, &e);
		return;
	}
	g->pid = json_object_get_int64(pid);
	poll_now(-1, 0, g);
}

struct gexec *gexec_start(struct event_base *base, gexec_call_fn call, void *ctx,
			  const struct gexec_request *req, gexec_done_fn done, void *arg,
			  struct qmp_error *err)
{
	struct json_object *args = NULL, *a;
	struct gexec *g = NULL;
	size_t i;

	if (!req || !req->argv || !req->argv[0] || !*req->argv[0]) {
		qmp_error_set(err, "InvalidParameter", "guest-exec needs a command");
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		qmp_error_set(err, "InternalError", "out of memory");
		return NULL;
	}
	g->base = base;
	g->call = call;
	g->ctx = ctx;
	g->done = done;
	g->arg = arg;
	g->call_timeout_ms = req->call_timeout_ms;
	g->timeout_ms = req->timeout_ms;
	g->poll_us = POLL_FIRST_US;
	event_base_gettimeofday_cached(base, &g->start);
	g->timer = evtimer_new(base, poll_now, g);
	if (!g->timer) {
		qmp_error_set(err, "InternalError", "out of memory");
		goto fail;
	}
	args = json_object_new_object();
	json_object_object_add(args, "path", json_object_new_string(req->argv[0]));
	a = json_object_new_array();
	for (i = 1; req->argv[i]; i++)
		json_object_array_add(a, json_object_new_string(req->argv[i]));
	json_object_object_add(args, "arg", a);
	if (req->env) {
		a = json_object_new_array();
		for (i = 0; req->env[i]; i++)
			json_object_array_add(a, json_object_new_string(req->env[i]));
		json_object_object_add(args, "env", a);
	}
	if (req->input && req->input_len) {
		char *b = b64_encode(req->input, req->input_len);
		if (!b) {
			qmp_error_set(err, "InternalError", "out of memory");
			goto fail;
		}
		json_object_object_add(args, "input-data", json_object_new_string(b));
		free(b);
	}
	json_object_object_add(args, "capture-output", json_object_new_boolean(1));
	if (call(ctx, "guest-exec", args, req->call_timeout_ms, on_started, g, err) < 0) {
		args = NULL; /* taken by call, also on failure */
		goto fail;
	}
	g->inflight = 1;
	return g;
fail:
	json_object_put(args);
	if (g->timer)
		event_free(g->timer);
	free(g);
	return NULL;
}

void gexec_abort(struct gexec *g, const struct qmp_error *why)
{
	finish(g, NULL, why);
}
