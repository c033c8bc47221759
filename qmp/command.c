/*
 * The command queue: every command gets the session's next id, a timer for
 * its deadline and a place in s->cmds until it is answered, times out or
 * the connection ends. Each callback runs exactly once.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "qmp/session-internal.h"

static void cmd_free(struct cmd *c)
{
	if (c->timer)
		event_free(c->timer);
	json_object_put(c->msg);
	free(c);
}

/* Take c off the list and call its callback exactly once. */
void cmd_finish(struct qmp_session *s, struct cmd *c, struct json_object *ret,
		const struct qmp_error *err)
{
	qmp_reply_fn fn = c->fn;
	void *arg = c->arg;

	TAILQ_REMOVE(&s->cmds, c, link);
	if (s->inflight == c)
		s->inflight = NULL;
	cmd_free(c);
	if (fn)
		fn(s, err ? NULL : ret, err, arg);
}

int cmd_send(struct qmp_session *s, struct cmd *c)
{
	const char *str = NULL;
	size_t len = 0;
	int rc;

	/* QMP's in-band commands go without an id where they can (inband.c) */
	if (s->kind == QMP_KIND_QMP && !json_object_object_get_ex(c->msg, "exec-oob", NULL)) {
		if (s->bare_ids)
			str =
			    json_object_to_json_string_length(c->msg, JSON_C_TO_STRING_PLAIN, &len);
		c->bare = str && inband_bare_ok(str, len);
		inband_sent(s, c);
	}
	if (c->bare) {
		rc = session_write_text(s, str, len, 0, c->fd);
	} else {
		json_object_object_add(c->msg, "id", json_object_new_int64(c->id));
		rc = session_write(s, c->msg, 0, c->fd);
	}
	c->fd = -1;
	json_object_put(c->msg);
	c->msg = NULL;
	c->sent = 1;
	return rc;
}

static void on_cmd_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct cmd *c = arg;
	struct qmp_session *s = c->s;
	struct qmp_error err;
	int was_inflight = s->inflight == c;

	qmp_error_set(&err, QMP_ERR_TIMEOUT, "no reply to %s (id %" PRId64 ") within %u ms",
		      c->name, c->id, c->timeout_ms);
	session_ref(s);
	/* A QGA reply that arrives late would be taken for the next
	 * command's; resynchronise before sending anything else. */
	if (s->kind == QMP_KIND_QGA && was_inflight)
		s->need_sync = 1;
	int lost = s->kind == QMP_KIND_QMP && c->sent && inband_timed_out(s, c) < 0;
	cmd_finish(s, c, NULL, &err);
	if (lost && session_alive(s)) {
		qmp_error_set(&err, QMP_ERR_TIMEOUT, "the QMP monitor stopped answering");
		session_end(s, &err);
	}
	if (s->kind == QMP_KIND_QGA && session_alive(s))
		qga_pump(s);
	session_unref(s);
}

/* QMP: send what was submitted during the handshake, in order. */
void cmd_flush_held(struct qmp_session *s)
{
	struct cmd *c;

	TAILQ_FOREACH(c, &s->cmds, link)
	{
		if (!c->sent && cmd_send(s, c) < 0) {
			session_end_write_failed(s);
			return;
		}
	}
}

void cmd_fail_all(struct qmp_session *s, const struct qmp_error *why)
{
	struct cmd *c;

	while (!TAILQ_EMPTY(&s->cmds)) {
		c = TAILQ_FIRST(&s->cmds);
		cmd_finish(s, c, NULL, why);
	}
}

/* Fill err from a reply's "error" member; QEMU's class passes through. */
void cmd_reply_error(struct json_object *error, struct qmp_error *err)
{
	struct json_object *cls = NULL, *desc = NULL;

	json_object_object_get_ex(error, "class", &cls);
	json_object_object_get_ex(error, "desc", &desc);
	qmp_error_set(err,
		      cls && json_object_is_type(cls, json_type_string)
			  ? json_object_get_string(cls)
			  : "GenericError",
		      "%s", desc ? json_object_get_string(desc) : "");
}

/* ---- submitting --------------------------------------------------------- */

struct json_object *cmd_make(const char *cmd, struct json_object *args)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(msg, "arguments", args);
	return msg;
}

/* The command's name member: "execute", or "exec-oob" for out-of-band. */
static int get_execute(struct json_object *msg, struct json_object **x)
{
	return json_object_object_get_ex(msg, "execute", x) ||
	       json_object_object_get_ex(msg, "exec-oob", x);
}

/* A new command for msg (taken over, also on failure), deadline running. */
static struct cmd *cmd_new(struct qmp_session *s, struct json_object *msg, unsigned timeout_ms,
			   int noreply, qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct cmd *c = calloc(1, sizeof(*c));
	struct json_object *x;
	struct timeval tv;

	if (!c) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "out of memory");
		json_object_put(msg);
		return NULL;
	}
	c->s = s;
	c->fd = -1;
	c->id = s->next_id++;
	c->msg = msg;
	c->fn = fn;
	c->arg = arg;
	c->noreply = noreply;
	c->timeout_ms = timeout_ms ? timeout_ms : s->timeout_ms;
	if (get_execute(msg, &x))
		snprintf(c->name, sizeof(c->name), "%s", json_object_get_string(x));
	/* The deadline counts from submission: time spent queued behind other
	 * QGA commands or the handshake is part of what the caller waits. */
	if (!noreply || s->kind == QMP_KIND_QMP) {
		c->timer = evtimer_new(s->base, on_cmd_timeout, c);
		if (!c->timer) {
			qmp_error_set(err, QMP_ERR_PROTOCOL, "cannot create timer");
			cmd_free(c);
			return NULL;
		}
		tv = ms_tv(c->timeout_ms);
		evtimer_add(c->timer, &tv);
	}
	return c;
}

static int64_t submit(struct qmp_session *s, struct json_object *msg, unsigned timeout_ms,
		      int noreply, qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct cmd *c;
	int64_t id;

	if (s->freed || s->state == ST_CLOSED || s->state == ST_NEW) {
		qmp_error_set(err, QMP_ERR_DISCONNECTED, "session is not connected");
		json_object_put(msg);
		return -1;
	}
	c = cmd_new(s, msg, timeout_ms, noreply, fn, arg, err);
	if (!c)
		return -1;
	TAILQ_INSERT_TAIL(&s->cmds, c, link);
	id = c->id;
	/* QGA sends from the queue's head; QMP holds commands until ready. */
	if (s->kind == QMP_KIND_QGA)
		qga_pump(s);
	else if (s->state == ST_READY && cmd_send(s, c) < 0)
		session_end_write_failed(s);
	return id;
}

/* qmp_call and qmp_call_noreply: check, wrap and queue cmd. */
static int64_t call(struct qmp_session *s, const char *cmd, struct json_object *args,
		    unsigned timeout_ms, int noreply, qmp_reply_fn fn, void *arg,
		    struct qmp_error *err)
{
	if (!s) {
		qmp_error_set(err, QMP_ERR_DISCONNECTED, "no session");
	} else if (!cmd || !*cmd) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "empty command name");
	} else if (args && !json_object_is_type(args, json_type_object)) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "arguments of %s must be an object", cmd);
	} else {
		return submit(s, cmd_make(cmd, args), timeout_ms, noreply, fn, arg, err);
	}
	json_object_put(args);
	return -1;
}

int64_t qmp_call(struct qmp_session *s, const char *cmd, struct json_object *args,
		 unsigned timeout_ms, qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	return call(s, cmd, args, timeout_ms, 0, fn, arg, err);
}

int64_t qmp_call_fd(struct qmp_session *s, const char *cmd, struct json_object *args, int fd,
		    unsigned timeout_ms, qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct cmd *c;
	int64_t id;

	/* the descriptor goes with the command's first byte, so only a
	 * command written at once can carry it */
	if (!s || s->kind != QMP_KIND_QMP || s->state != ST_READY || !s->bev ||
	    evbuffer_get_length(bufferevent_get_output(s->bev)) || fd < 0) {
		qmp_error_set(err, QMP_ERR_PROTOCOL,
			      "a descriptor goes only with a command sent at once, on a ready "
			      "QMP session with nothing unsent");
		json_object_put(args);
		return -1;
	}
	if (!cmd || !*cmd || (args && !json_object_is_type(args, json_type_object))) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "bad command");
		json_object_put(args);
		return -1;
	}
	if (!(c = cmd_new(s, cmd_make(cmd, args), timeout_ms, 0, fn, arg, err)))
		return -1;
	TAILQ_INSERT_TAIL(&s->cmds, c, link);
	id = c->id;
	c->fd = fd;
	if (cmd_send(s, c) < 0)
		session_end_write_failed(s);
	return id;
}

int64_t qmp_call_noreply(struct qmp_session *s, const char *cmd, struct json_object *args,
			 struct qmp_error *err)
{
	return call(s, cmd, args, 0, 1, NULL, NULL, err);
}

int64_t qmp_call_raw(struct qmp_session *s, struct json_object *cmd, unsigned timeout_ms,
		     qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct json_object *x = NULL;

	if (!s || !cmd || !json_object_is_type(cmd, json_type_object) ||
	    !(get_execute(cmd, &x) && json_object_is_type(x, json_type_string))) {
		qmp_error_set(err, QMP_ERR_PROTOCOL,
			      "a command must be an object with a string \"execute\"");
		json_object_put(cmd);
		return -1;
	}
	/* The caller's id (if any) is replaced: ids must stay unique per session. */
	json_object_object_del(cmd, "id");
	return submit(s, cmd, timeout_ms, 0, fn, arg, err);
}
