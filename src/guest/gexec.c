#include "src/guest/gexec-internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "src/util/b64.h"

/* A quick command (`true`) has exited within a round trip or two: the
 * first polls come sub-millisecond, then back off to the bound. */
#define POLL_MAX_US 50000 /* the bound on polling */

void gexec_release(struct gexec *g)
{
	if (g->inflight || !g->over)
		return;
	if (g->timer)
		event_free(g->timer);
	json_object_put(g->fallback);
	free(g->cmd);
	free(g);
}

/* Nothing more goes through ctx: tell the owner, free when no reply is due. */
void gexec_wind_up(struct gexec *g)
{
	if (g->over)
		return;
	g->over = 1;
	if (g->timer)
		evtimer_del(g->timer);
	if (g->end)
		g->end(g->end_arg);
	gexec_release(g);
}

/* Call done once; 1 if g ended meanwhile (then freed, unless a reply is due). */
static int call_done(struct gexec *g, const struct gexec_result *res, const struct qmp_error *err)
{
	if (!g->finished) {
		g->finished = 1;
		if (g->timer)
			evtimer_del(g->timer);
		/* held over done: it may free the agent, whose abort then ends g */
		g->inflight++;
		g->done(res, err, g->arg);
		g->inflight--;
	}
	if (!g->over)
		return 0;
	gexec_release(g);
	return 1;
}

void gexec_finish(struct gexec *g, const struct gexec_result *res, const struct qmp_error *err)
{
	if (g->finished)
		return;
	if (!call_done(g, res, err))
		gexec_files_cleanup(g);
}

/* Send cmd; its reply goes to fn with g. 0, or -1 with err. */
int gexec_send(struct gexec *g, const char *cmd, struct json_object *args, qmp_reply_fn fn,
	       struct qmp_error *err)
{
	if (g->call(g->ctx, cmd, args, g->call_timeout_ms, fn, g, err) < 0)
		return -1;
	g->inflight++;
	return 0;
}

/*
 * A reply to g came: 1 if the caller goes on with it. Else g is over (and
 * maybe freed), or done was called meanwhile (gexec_drop) and the cleanup
 * takes over instead of the step this reply was for.
 */
int gexec_reply_is_live(struct gexec *g)
{
	g->inflight--;
	if (g->over) {
		gexec_release(g);
		return 0;
	}
	if (g->finished && !g->cleaning) {
		gexec_files_cleanup(g);
		return 0;
	}
	return 1;
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

long gexec_elapsed_ms(const struct gexec *g)
{
	struct timeval now, d;

	event_base_gettimeofday_cached(g->base, &now);
	timersub(&now, &g->start, &d);
	return d.tv_sec * 1000 + d.tv_usec / 1000;
}

/*
 * The fallback's output handed over as through files: each stream's first
 * output_max bytes to chunk, the result keeping only the lengths.
 */
static void hand_over(struct gexec *g, struct gexec_result *res)
{
	unsigned char **buf[2] = {&res->out, &res->err};
	size_t *len[2] = {&res->out_len, &res->err_len};
	int *cut[2] = {&res->out_truncated, &res->err_truncated};

	for (int i = 0; i < 2; i++) {
		if (*len[i] > g->output_max) {
			*len[i] = g->output_max;
			*cut[i] = 1;
		}
		if (*len[i])
			g->chunk(i + 1, *buf[i], *len[i], g->arg);
		*buf[i] = NULL;
	}
}

/* The exit status is in: read the output, or hand it over (capture-output). */
static void exited(struct gexec *g, struct json_object *ret)
{
	struct gexec_result res;
	struct qmp_error e;

	if (!g->output_max || g->captured) {
		/* the reply is ours until we return: its output is decoded in
		 * place and handed on borrowed, as done's contract says */
		if (parse_status(ret, true, &res, &e) < 0) {
			gexec_finish(g, NULL, &e);
			return;
		}
		res.pid = g->pid;
		if (g->captured)
			hand_over(g, &res);
		gexec_finish(g, &res, NULL);
		return;
	}
	if (parse_status(ret, true, &g->res, &e) < 0) {
		gexec_finish(g, NULL, &e);
		return;
	}
	gexec_files_read(g);
}

/* Ask again in a while: quick commands are answered quickly, long ones cost ≤ 20 polls/s. */
static void poll_later(struct gexec *g)
{
	struct timeval tv = {0, (suseconds_t)g->poll_us};

	evtimer_add(g->timer, &tv);
	g->poll_us = g->poll_us * 2 > POLL_MAX_US ? POLL_MAX_US : g->poll_us * 2;
}

static void on_status(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct gexec *g = arg;
	struct qmp_error e;

	if (g->cleaning) {
		g->inflight--;
		if (g->over)
			gexec_release(g);
		else if (err || get_bool(ret, "exited") || gexec_elapsed_ms(g) >= CLEAN_TIMEOUT_MS)
			gexec_wind_up(g); /* rm is done (or out of reach): nothing more to do */
		else
			poll_later(g);
		return;
	}
	if (!gexec_reply_is_live(g))
		return;
	if (err) {
		gexec_finish(g, NULL, err);
		return;
	}
	if (!get_bool(ret, "exited")) {
		if (g->timeout_ms && gexec_elapsed_ms(g) >= (long)g->timeout_ms) {
			qmp_error_set(&e, QMP_ERR_TIMEOUT,
				      "guest process %lld did not exit within %u ms",
				      (long long)g->pid, g->timeout_ms);
			gexec_finish(g, NULL, &e);
			return;
		}
		poll_later(g);
		return;
	}
	exited(g, ret);
}

void gexec_poll_now(evutil_socket_t fd, short what, void *arg)
{
	struct gexec *g = arg;
	struct qmp_error e;
	struct json_object *args;

	args = json_object_new_object();
	json_object_object_add(args, "pid", json_object_new_int64(g->pid));
	if (gexec_send(g, "guest-exec-status", args, on_status, &e) < 0) {
		if (g->cleaning)
			gexec_wind_up(g);
		else
			gexec_finish(g, NULL, &e);
	}
}

int gexec_get_pid(struct gexec *g, struct json_object *ret)
{
	struct json_object *pid;

	if (!json_object_object_get_ex(ret, "pid", &pid) ||
	    !json_object_is_type(pid, json_type_int))
		return -1;
	g->pid = json_object_get_int64(pid);
	return 0;
}

static void on_started(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		       void *arg)
{
	struct gexec *g = arg;
	struct qmp_error e;

	if (!gexec_reply_is_live(g))
		return;
	if (err) {
		gexec_finish(g, NULL, err);
		return;
	}
	if (gexec_get_pid(g, ret) < 0) {
		qmp_error_set(&e, QMP_ERR_PROTOCOL, "guest-exec returned no pid");
		gexec_finish(g, NULL, &e);
		return;
	}
	g->spawned = !g->captured;
	gexec_poll_now(-1, 0, g);
}

int gexec_send_exec(struct gexec *g, struct json_object *args, struct qmp_error *err)
{
	return gexec_send(g, "guest-exec", args, on_started, err);
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
	if (req->output_max && !req->chunk) {
		qmp_error_set(err, "InvalidParameter",
			      "output through files needs a chunk callback");
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g || !(g->cmd = strdup(req->argv[0]))) {
		qmp_error_set(err, "InternalError", "out of memory");
		goto fail;
	}
	g->base = base;
	g->call = call;
	g->ctx = ctx;
	g->done = done;
	g->arg = arg;
	g->call_timeout_ms = req->call_timeout_ms;
	g->timeout_ms = req->timeout_ms;
	g->poll_us = POLL_FIRST_US;
	g->output_max = req->output_max;
	g->chunk = req->chunk;
	g->handle[0] = g->handle[1] = -1;
	if (g->output_max && gexec_files_name(g, err) < 0)
		goto fail;
	event_base_gettimeofday_cached(base, &g->start);
	g->timer = evtimer_new(base, gexec_poll_now, g);
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
	json_object_object_add(args, "capture-output", json_object_new_boolean(1));
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
	if (g->output_max) {
		if (json_object_deep_copy(args, &g->fallback, NULL) < 0) {
			qmp_error_set(err, "InternalError", "out of memory");
			goto fail;
		}
		gexec_files_command(g, args, req->argv);
	}
	if (gexec_send_exec(g, args, err) < 0) {
		args = NULL; /* taken by call, also on failure */
		goto fail;
	}
	return g;
fail:
	json_object_put(args);
	if (g && g->timer)
		event_free(g->timer);
	if (g) {
		json_object_put(g->fallback);
		free(g->cmd);
	}
	free(g);
	return NULL;
}

void gexec_on_end(struct gexec *g, gexec_end_fn end, void *arg)
{
	g->end = end;
	g->end_arg = arg;
}

void gexec_abort(struct gexec *g, const struct qmp_error *why)
{
	/* no cleanup in the guest: the agent is going away under us */
	if (!call_done(g, NULL, why))
		gexec_wind_up(g);
}

void gexec_drop(struct gexec *g, const struct qmp_error *why)
{
	gexec_finish(g, NULL, why);
}
