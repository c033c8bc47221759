/*
 * A QMP or QGA session: one socket, one stream parser, the commands waiting
 * for a reply and the event subscribers. Everything runs on the caller's
 * event_base; callbacks may free the session, so every entry point from
 * libevent holds a reference while it runs.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "qmp/qmp.h"

enum state {
	ST_NEW,	      /* no socket yet */
	ST_HANDSHAKE, /* QMP: greeting and qmp_capabilities; QGA: first sync */
	ST_READY,
	ST_CLOSED,
};

struct cmd {
	TAILQ_ENTRY(cmd) link;
	struct qmp_session *s;
	int64_t id;
	struct json_object *msg; /* kept until written */
	struct event *timer;
	qmp_reply_fn fn;
	void *arg;
	int noreply;
	int sent;
	unsigned timeout_ms;
	char name[64]; /* for error messages */
};
TAILQ_HEAD(cmd_list, cmd);

struct sub {
	int handle;
	qmp_event_fn fn; /* NULL once unsubscribed */
	void *arg;
};

struct qmp_session {
	struct event_base *base;
	enum qmp_kind kind;
	size_t max_message;
	unsigned timeout_ms;
	enum state state;
	int refs;
	int freed;

	struct bufferevent *bev;
	struct qmp_parser *parser;

	qmp_ready_fn ready_fn;
	void *ready_arg;
	int ready_reported;
	qmp_close_fn close_fn;
	void *close_arg;

	/* QMP */
	struct json_object *greeting;
	char version[48];
	int oob;
	struct event *hs_timer; /* greeting + capabilities deadline */
	int64_t caps_id;

	int64_t next_id;
	/* QMP: commands in submission order, sent or held until ready.
	 * QGA: the queue; only its head can be in flight. */
	struct cmd_list cmds;
	struct cmd *inflight; /* QGA: head of cmds once written */

	/* QGA resynchronisation */
	int need_sync;
	int syncing;
	int64_t sync_id;
	struct event *sync_timer;

	struct sub *subs;
	size_t nsubs;
	int next_handle;
	int dispatching; /* nesting depth of event dispatch */
};

static void session_end(struct qmp_session *s, const struct qmp_error *why);
static void qga_pump(struct qmp_session *s);

static void ref(struct qmp_session *s)
{
	s->refs++;
}

static void unref(struct qmp_session *s)
{
	if (--s->refs > 0)
		return;
	if (s->hs_timer)
		event_free(s->hs_timer);
	if (s->sync_timer)
		event_free(s->sync_timer);
	qmp_parser_free(s->parser);
	json_object_put(s->greeting);
	free(s->subs);
	free(s);
}

static int alive(const struct qmp_session *s)
{
	return !s->freed && s->state != ST_CLOSED;
}

static struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

struct qmp_session *qmp_session_new(struct event_base *base, enum qmp_kind kind,
				    const struct qmp_options *opt)
{
	struct qmp_session *s;
	struct sigaction sa;

	if (!base || (kind != QMP_KIND_QMP && kind != QMP_KIND_QGA))
		return NULL;
	/* libevent writes with writev(), so a peer that went away would kill
	 * the process with SIGPIPE; the library reports it as an error instead.
	 * An application that installed its own handler keeps it. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->kind = kind;
	s->max_message = opt && opt->max_message ? opt->max_message : QMP_DEFAULT_MAX_MESSAGE;
	s->timeout_ms =
	    opt && opt->default_timeout_ms ? opt->default_timeout_ms : QMP_DEFAULT_TIMEOUT_MS;
	s->refs = 1;
	s->next_id = 1;
	s->next_handle = 1;
	TAILQ_INIT(&s->cmds);
	s->parser = qmp_parser_new(s->max_message);
	if (!s->parser) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---- commands ---------------------------------------------------------- */

static void cmd_free(struct cmd *c)
{
	if (c->timer)
		event_free(c->timer);
	json_object_put(c->msg);
	free(c);
}

/* Take c off the list and call its callback exactly once. */
static void cmd_finish(struct qmp_session *s, struct cmd *c, struct json_object *ret,
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

static int write_msg(struct qmp_session *s, struct json_object *msg, int sentinel)
{
	size_t len;
	const char *str = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);
	struct iovec iov[3];
	int n = 0;

	if (!str)
		return -1;
	if (sentinel)
		iov[n++] = (struct iovec){.iov_base = "\xff", .iov_len = 1};
	iov[n++] = (struct iovec){.iov_base = (void *)str, .iov_len = len};
	iov[n++] = (struct iovec){.iov_base = "\n", .iov_len = 1};
	/* With nothing queued, write straight to the socket: going through the
	 * bufferevent costs an extra poll round (and epoll_ctl calls) per
	 * command. What the socket does not take is queued; errors are left
	 * to the bufferevent, which reports them through on_event. */
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w = sendmsg(bufferevent_getfd(s->bev), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		for (int i = 0; i < n && w > 0; i++) {
			size_t take = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			w -= (ssize_t)take;
		}
	}
	for (int i = 0; i < n; i++)
		if (iov[i].iov_len &&
		    bufferevent_write(s->bev, iov[i].iov_base, iov[i].iov_len) < 0)
			return -1;
	return 0;
}

static int cmd_send(struct qmp_session *s, struct cmd *c)
{
	int rc;

	json_object_object_add(c->msg, "id", json_object_new_int64(c->id));
	rc = write_msg(s, c->msg, 0);
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
	ref(s);
	/* A QGA reply that arrives late would be taken for the next
	 * command's; resynchronise before sending anything else. */
	if (s->kind == QMP_KIND_QGA && was_inflight)
		s->need_sync = 1;
	cmd_finish(s, c, NULL, &err);
	if (s->kind == QMP_KIND_QGA && alive(s))
		qga_pump(s);
	unref(s);
}

static void qmp_flush_held(struct qmp_session *s)
{
	struct cmd *c;

	TAILQ_FOREACH(c, &s->cmds, link)
	{
		if (!c->sent && cmd_send(s, c) < 0) {
			struct qmp_error err;

			qmp_error_set(&err, QMP_ERR_DISCONNECTED, "write failed");
			session_end(s, &err);
			return;
		}
	}
}

static int64_t submit(struct qmp_session *s, struct json_object *msg, unsigned timeout_ms,
		      int noreply, qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct cmd *c;
	struct timeval tv;

	if (s->freed || s->state == ST_CLOSED || s->state == ST_NEW) {
		qmp_error_set(err, QMP_ERR_DISCONNECTED, "session is not connected");
		json_object_put(msg);
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "out of memory");
		json_object_put(msg);
		return -1;
	}
	c->s = s;
	c->id = s->next_id++;
	c->msg = msg;
	c->fn = fn;
	c->arg = arg;
	c->noreply = noreply;
	c->timeout_ms = timeout_ms ? timeout_ms : s->timeout_ms;
	struct json_object *x;
	if (json_object_object_get_ex(msg, "execute", &x) ||
	    json_object_object_get_ex(msg, "exec-oob", &x))
		snprintf(c->name, sizeof(c->name), "%s", json_object_get_string(x));
	/* The deadline counts from submission: time spent queued behind other
	 * QGA commands or the handshake is part of what the caller waits. */
	if (!noreply || s->kind == QMP_KIND_QMP) {
		c->timer = evtimer_new(s->base, on_cmd_timeout, c);
		if (!c->timer) {
			qmp_error_set(err, QMP_ERR_PROTOCOL, "cannot create timer");
			cmd_free(c);
			return -1;
		}
		tv = ms_tv(c->timeout_ms);
		evtimer_add(c->timer, &tv);
	}
	TAILQ_INSERT_TAIL(&s->cmds, c, link);
	int64_t id = c->id;
	if (s->kind == QMP_KIND_QGA) {
		qga_pump(s);
	} else if (s->state == ST_READY && cmd_send(s, c) < 0) {
		struct qmp_error e;

		qmp_error_set(&e, QMP_ERR_DISCONNECTED, "write failed");
		session_end(s, &e);
	}
	return id;
}

static struct json_object *make_cmd(const char *cmd, struct json_object *args)
{
	struct json_object *msg = json_object_new_object();

	json_object_object_add(msg, "execute", json_object_new_string(cmd));
	if (args)
		json_object_object_add(msg, "arguments", args);
	return msg;
}

static int check_cmd(const char *cmd, struct json_object *args, struct qmp_error *err)
{
	if (!cmd || !*cmd) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "empty command name");
		return -1;
	}
	if (args && !json_object_is_type(args, json_type_object)) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "arguments of %s must be an object", cmd);
		return -1;
	}
	return 0;
}

int64_t qmp_call(struct qmp_session *s, const char *cmd, struct json_object *args,
		 unsigned timeout_ms, qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	if (!s || check_cmd(cmd, args, err) < 0) {
		if (!s)
			qmp_error_set(err, QMP_ERR_DISCONNECTED, "no session");
		json_object_put(args);
		return -1;
	}
	return submit(s, make_cmd(cmd, args), timeout_ms, 0, fn, arg, err);
}

int64_t qmp_call_noreply(struct qmp_session *s, const char *cmd, struct json_object *args,
			 struct qmp_error *err)
{
	if (!s || check_cmd(cmd, args, err) < 0) {
		if (!s)
			qmp_error_set(err, QMP_ERR_DISCONNECTED, "no session");
		json_object_put(args);
		return -1;
	}
	return submit(s, make_cmd(cmd, args), 0, 1, NULL, NULL, err);
}

int64_t qmp_call_raw(struct qmp_session *s, struct json_object *cmd, unsigned timeout_ms,
		     qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct json_object *x = NULL;

	if (!s || !cmd || !json_object_is_type(cmd, json_type_object) ||
	    !((json_object_object_get_ex(cmd, "execute", &x) ||
	       json_object_object_get_ex(cmd, "exec-oob", &x)) &&
	      json_object_is_type(x, json_type_string))) {
		qmp_error_set(err, QMP_ERR_PROTOCOL,
			      "a command must be an object with a string \"execute\"");
		json_object_put(cmd);
		return -1;
	}
	/* The caller's id (if any) is replaced: ids must stay unique per session. */
	json_object_object_del(cmd, "id");
	return submit(s, cmd, timeout_ms, 0, fn, arg, err);
}

static void fail_all(struct qmp_session *s, const struct qmp_error *why)
{
	struct cmd *c;

	while (!TAILQ_EMPTY(&s->cmds)) {
		c = TAILQ_FIRST(&s->cmds);
		cmd_finish(s, c, NULL, why);
	}
}

/* ---- QGA ---------------------------------------------------------------- */

static void qga_sync_done(struct qmp_session *s, const struct qmp_error *err)
{
	s->syncing = 0;
	evtimer_del(s->sync_timer);
	if (!err) {
		s->need_sync = 0;
		s->state = ST_READY;
	}
	if (!s->ready_reported) {
		s->ready_reported = 1;
		if (s->ready_fn)
			s->ready_fn(s, err, s->ready_arg);
	}
	if (alive(s))
		qga_pump(s);
}

static void on_sync_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_session *s = arg;
	struct qmp_error err;

	qmp_error_set(&err, QMP_ERR_TIMEOUT, "guest agent did not answer guest-sync-delimited");
	ref(s);
	qga_sync_done(s, &err);
	unref(s);
}

static void qga_start_sync(struct qmp_session *s)
{
	uint32_t r = 0;
	struct json_object *msg, *args;
	struct timeval tv = ms_tv(s->timeout_ms);

	/* Random so that a reply to an earlier, abandoned sync (still queued
	 * in the guest's channel) is never mistaken for this one. */
	do {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)random();
		r &= 0x7fffffff;
	} while (r == 0 || (int64_t)r == s->sync_id);
	s->sync_id = r;
	s->syncing = 1;
	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_int64(s->sync_id));
	msg = make_cmd("guest-sync-delimited", args);
	qmp_parser_expect_sentinel(s->parser);
	/* The leading 0xFF makes the agent drop any half-read input. */
	int rc = write_msg(s, msg, 1);
	json_object_put(msg);
	if (rc < 0) {
		struct qmp_error err;

		qmp_error_set(&err, QMP_ERR_DISCONNECTED, "write failed");
		session_end(s, &err);
		return;
	}
	evtimer_add(s->sync_timer, &tv);
}

/* Send the head of the queue when nothing is in flight. */
static void qga_pump(struct qmp_session *s)
{
	struct cmd *c;

	while (alive(s) && !s->syncing && !s->inflight && !TAILQ_EMPTY(&s->cmds)) {
		if (s->need_sync) {
			qga_start_sync(s);
			return;
		}
		c = TAILQ_FIRST(&s->cmds);
		if (cmd_send(s, c) < 0) {
			struct qmp_error err;

			qmp_error_set(&err, QMP_ERR_DISCONNECTED, "write failed");
			session_end(s, &err);
			return;
		}
		if (c->noreply) {
			/* Should it answer after all (an error), the answer is
			 * stale by now: resync before the next command. */
			s->need_sync = 1;
			cmd_finish(s, c, NULL, NULL);
			continue;
		}
		s->inflight = c;
	}
}

static int is_int(struct json_object *o)
{
	return o && json_object_is_type(o, json_type_int);
}

static void qga_value(struct qmp_session *s, struct json_object *v)
{
	struct json_object *ret = NULL, *error = NULL, *id = NULL;

	json_object_object_get_ex(v, "return", &ret);
	json_object_object_get_ex(v, "error", &error);
	if (s->syncing) {
		if (is_int(ret) && json_object_get_int64(ret) == s->sync_id) {
			qga_sync_done(s, NULL);
			return;
		}
		/* Stale: an answer to something we abandoned. The real answer
		 * comes after the next sentinel. */
		qmp_parser_expect_sentinel(s->parser);
		return;
	}
	if (!s->inflight || (!ret && !error))
		return; /* late reply after a timeout, before the next resync */
	if (json_object_object_get_ex(v, "id", &id) && is_int(id) &&
	    json_object_get_int64(id) != s->inflight->id)
		return;
	if (error) {
		struct qmp_error err;
		struct json_object *cls = NULL, *desc = NULL;

		json_object_object_get_ex(error, "class", &cls);
		json_object_object_get_ex(error, "desc", &desc);
		qmp_error_set(&err, cls ? json_object_get_string(cls) : "GenericError", "%s",
			      desc ? json_object_get_string(desc) : "");
		cmd_finish(s, s->inflight, NULL, &err);
	} else {
		cmd_finish(s, s->inflight, ret, NULL);
	}
	if (alive(s))
		qga_pump(s);
}

/* ---- QMP ---------------------------------------------------------------- */

static void qmp_ready(struct qmp_session *s, const struct qmp_error *err)
{
	if (s->hs_timer)
		evtimer_del(s->hs_timer);
	if (err) {
		session_end(s, err);
		return;
	}
	s->state = ST_READY;
	qmp_flush_held(s);
	if (!alive(s))
		return;
	s->ready_reported = 1;
	if (s->ready_fn)
		s->ready_fn(s, NULL, s->ready_arg);
}

static void on_hs_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_session *s = arg;
	struct qmp_error err;

	qmp_error_set(&err, QMP_ERR_TIMEOUT, "no QMP greeting/capabilities within %u ms",
		      s->timeout_ms);
	ref(s);
	session_end(s, &err);
	unref(s);
}

static int greeting(struct qmp_session *s, struct json_object *v, struct qmp_error *err)
{
	struct json_object *qmp, *ver = NULL, *q, *caps = NULL, *args, *msg;
	struct json_object *ma = NULL, *mi = NULL, *mc = NULL;

	if (!json_object_object_get_ex(v, "QMP", &qmp) ||
	    !json_object_is_type(qmp, json_type_object)) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "expected a QMP greeting");
		return -1;
	}
	s->greeting = json_object_get(v);
	if (json_object_object_get_ex(qmp, "version", &ver) &&
	    json_object_object_get_ex(ver, "qemu", &q) &&
	    json_object_object_get_ex(q, "major", &ma) &&
	    json_object_object_get_ex(q, "minor", &mi) &&
	    json_object_object_get_ex(q, "micro", &mc))
		snprintf(s->version, sizeof(s->version), "%d.%d.%d", json_object_get_int(ma),
			 json_object_get_int(mi), json_object_get_int(mc));
	if (json_object_object_get_ex(qmp, "capabilities", &caps) &&
	    json_object_is_type(caps, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(caps); i++) {
			const char *c = json_object_get_string(json_object_array_get_idx(caps, i));
			if (c && !strcmp(c, "oob"))
				s->oob = 1;
		}
	}
	args = NULL;
	if (s->oob) {
		struct json_object *en = json_object_new_array();

		json_object_array_add(en, json_object_new_string("oob"));
		args = json_object_new_object();
		json_object_object_add(args, "enable", en);
	}
	msg = make_cmd("qmp_capabilities", args);
	s->caps_id = s->next_id++;
	json_object_object_add(msg, "id", json_object_new_int64(s->caps_id));
	int rc = write_msg(s, msg, 0);
	json_object_put(msg);
	if (rc < 0) {
		qmp_error_set(err, QMP_ERR_DISCONNECTED, "write failed");
		return -1;
	}
	return 0;
}

static void reply_error(struct json_object *error, struct qmp_error *err)
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

static void compact_subs(struct qmp_session *s)
{
	size_t j = 0;

	for (size_t i = 0; i < s->nsubs; i++)
		if (s->subs[i].fn)
			s->subs[j++] = s->subs[i];
	s->nsubs = j;
}

static void dispatch_event(struct qmp_session *s, struct json_object *v, struct json_object *name)
{
	struct json_object *data = NULL, *ts = NULL, *x = NULL;
	int64_t sec = -1, usec = -1;
	const char *ev = json_object_get_string(name);

	json_object_object_get_ex(v, "data", &data);
	if (json_object_object_get_ex(v, "timestamp", &ts)) {
		if (json_object_object_get_ex(ts, "seconds", &x))
			sec = json_object_get_int64(x);
		if (json_object_object_get_ex(ts, "microseconds", &x))
			usec = json_object_get_int64(x);
	}
	/* Subscribers may (un)subscribe from the callback: index, re-read. */
	size_t n = s->nsubs;
	s->dispatching++;
	for (size_t i = 0; i < n && i < s->nsubs && alive(s); i++) {
		struct sub sb = s->subs[i];
		if (sb.fn)
			sb.fn(s, ev, data, sec, usec, sb.arg);
	}
	if (--s->dispatching == 0)
		compact_subs(s);
}

static void qmp_value(struct qmp_session *s, struct json_object *v)
{
	struct json_object *ret = NULL, *error = NULL, *id = NULL, *ev = NULL;
	struct qmp_error err;
	struct cmd *c;

	if (s->state == ST_HANDSHAKE && !s->greeting) {
		if (greeting(s, v, &err) < 0)
			qmp_ready(s, &err);
		return;
	}
	if (json_object_object_get_ex(v, "event", &ev) &&
	    json_object_is_type(ev, json_type_string)) {
		dispatch_event(s, v, ev);
		return;
	}
	json_object_object_get_ex(v, "return", &ret);
	json_object_object_get_ex(v, "error", &error);
	if (!ret && !error) {
		qmp_error_set(&err, QMP_ERR_PROTOCOL, "message is neither a reply nor an event");
		session_end(s, &err);
		return;
	}
	if (error && !json_object_is_type(error, json_type_object)) {
		qmp_error_set(&err, QMP_ERR_PROTOCOL, "\"error\" is not an object");
		session_end(s, &err);
		return;
	}
	/* A reply without our id answers nothing we sent (QEMU failed to
	 * parse a request); nobody waits for it. */
	if (!json_object_object_get_ex(v, "id", &id) || !is_int(id))
		return;
	int64_t n = json_object_get_int64(id);
	if (s->state == ST_HANDSHAKE && n == s->caps_id) {
		if (error) {
			reply_error(error, &err);
			qmp_ready(s, &err);
		} else {
			qmp_ready(s, NULL);
		}
		return;
	}
	TAILQ_FOREACH(c, &s->cmds, link)
	{
		if (c->id == n && c->sent)
			break;
	}
	if (!c)
		return; /* late reply to a command that timed out */
	if (error) {
		reply_error(error, &err);
		cmd_finish(s, c, NULL, &err);
	} else {
		cmd_finish(s, c, ret, NULL);
	}
}

/* ---- I/O ---------------------------------------------------------------- */

static int on_value(struct json_object *v, void *arg)
{
	struct qmp_session *s = arg;

	if (!alive(s))
		return -1;
	/* An agent still holding old output may send anything before the
	 * sentinel; that is dropped by the parser. After it, only objects. */
	if (!v || !json_object_is_type(v, json_type_object)) {
		struct qmp_error err;

		qmp_error_set(&err, QMP_ERR_PROTOCOL, "message is not a JSON object");
		session_end(s, &err);
		return -1;
	}
	if (s->kind == QMP_KIND_QGA)
		qga_value(s, v);
	else
		qmp_value(s, v);
	return alive(s) ? 0 : -1;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct qmp_session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct qmp_error err;

	ref(s);
	while (alive(s)) {
		size_t n = evbuffer_get_contiguous_space(in);
		if (!n)
			break;
		const char *p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		int rc = qmp_parser_feed(s->parser, p, n, on_value, s, &err);
		if (!alive(s))
			break; /* the bufferevent is gone with the session */
		evbuffer_drain(in, n);
		if (rc < 0) {
			session_end(s, &err);
			break;
		}
	}
	unref(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct qmp_session *s = arg;
	struct qmp_error err;

	if (what & BEV_EVENT_EOF)
		qmp_error_set(&err, QMP_ERR_DISCONNECTED, "peer closed the connection");
	else if (what & BEV_EVENT_ERROR)
		qmp_error_set(&err, QMP_ERR_DISCONNECTED, "socket error: %s",
			      evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		return;
	ref(s);
	session_end(s, &err);
	unref(s);
}

static void session_end(struct qmp_session *s, const struct qmp_error *why)
{
	if (s->state == ST_CLOSED)
		return;
	s->state = ST_CLOSED;
	ref(s);
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->hs_timer)
		evtimer_del(s->hs_timer);
	if (s->sync_timer)
		evtimer_del(s->sync_timer);
	s->syncing = 0;
	fail_all(s, why);
	if (!s->freed) {
		if (!s->ready_reported) {
			s->ready_reported = 1;
			if (s->ready_fn)
				s->ready_fn(s, why, s->ready_arg);
		} else if (s->close_fn) {
			s->close_fn(s, why, s->close_arg);
		}
	}
	unref(s);
}

int qmp_attach_fd(struct qmp_session *s, int fd, qmp_ready_fn ready, void *arg,
		  struct qmp_error *err)
{
	struct timeval tv;

	if (!s || fd < 0) {
		qmp_error_set(err, QMP_ERR_CONNECT, "invalid session or descriptor");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (s->state != ST_NEW) {
		qmp_error_set(err, QMP_ERR_CONNECT, "session is already connected");
		close(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev) {
		qmp_error_set(err, QMP_ERR_CONNECT, "cannot create bufferevent");
		close(fd);
		return -1;
	}
	if (s->kind == QMP_KIND_QMP)
		s->hs_timer = evtimer_new(s->base, on_hs_timeout, s);
	else
		s->sync_timer = evtimer_new(s->base, on_sync_timeout, s);
	if (!s->hs_timer && !s->sync_timer) {
		qmp_error_set(err, QMP_ERR_CONNECT, "cannot create timer");
		bufferevent_free(s->bev);
		s->bev = NULL;
		return -1;
	}
	bufferevent_setcb(s->bev, on_read, NULL, on_event, s);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	s->ready_fn = ready;
	s->ready_arg = arg;
	s->state = ST_HANDSHAKE;
	if (s->kind == QMP_KIND_QMP) {
		tv = ms_tv(s->timeout_ms);
		evtimer_add(s->hs_timer, &tv);
	} else {
		s->need_sync = 1;
		qga_start_sync(s);
	}
	return 0;
}

int qmp_connect(struct qmp_session *s, const char *path, qmp_ready_fn ready, void *arg,
		struct qmp_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (!s || !path || !*path) {
		qmp_error_set(err, QMP_ERR_CONNECT, "no socket path");
		return -1;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		qmp_error_set(err, QMP_ERR_CONNECT, "%s: socket path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		qmp_error_set(err, QMP_ERR_CONNECT, "socket: %s", strerror(errno));
		return -1;
	}
	/* Non-blocking: QEMU listens with a backlog of one, and a monitor that
	 * already has a client must not block the caller's loop. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		qmp_error_set(err, QMP_ERR_CONNECT, "%s: %s", path,
			      errno == EAGAIN ? "busy (another client is connected?)"
					      : strerror(errno));
		close(fd);
		return -1;
	}
	return qmp_attach_fd(s, fd, ready, arg, err);
}

void qmp_session_free(struct qmp_session *s)
{
	struct qmp_error err;

	if (!s || s->freed)
		return;
	s->freed = 1;
	qmp_error_set(&err, QMP_ERR_DISCONNECTED, "session freed");
	session_end(s, &err);
	unref(s);
}

/* ---- events and accessors ------------------------------------------------ */

int qmp_subscribe(struct qmp_session *s, qmp_event_fn fn, void *arg)
{
	struct sub *n;

	if (!s || !fn || s->kind != QMP_KIND_QMP)
		return -1;
	n = realloc(s->subs, (s->nsubs + 1) * sizeof(*n));
	if (!n)
		return -1;
	s->subs = n;
	s->subs[s->nsubs] = (struct sub){.handle = s->next_handle++, .fn = fn, .arg = arg};
	return s->subs[s->nsubs++].handle;
}

void qmp_unsubscribe(struct qmp_session *s, int handle)
{
	if (!s)
		return;
	/* Cleared first; removed only when no dispatch walks the array. */
	for (size_t i = 0; i < s->nsubs; i++)
		if (s->subs[i].handle == handle)
			s->subs[i].fn = NULL;
	if (!s->dispatching)
		compact_subs(s);
}

void qmp_on_close(struct qmp_session *s, qmp_close_fn fn, void *arg)
{
	if (!s)
		return;
	s->close_fn = fn;
	s->close_arg = arg;
}

int qmp_is_ready(const struct qmp_session *s)
{
	return s && !s->freed && s->state == ST_READY;
}

struct json_object *qmp_greeting(const struct qmp_session *s)
{
	return s ? s->greeting : NULL;
}

const char *qmp_version(const struct qmp_session *s)
{
	return s ? s->version : "";
}

int qmp_has_oob(const struct qmp_session *s)
{
	return s && s->oob;
}
