/*
 * The QMP monitor's protocol: the greeting, qmp_capabilities (with oob
 * when the server offers it), replies matched to commands by id, and
 * asynchronous events passed to the subscribers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "qmp/session-internal.h"

/* The handshake is over: send what was held, then tell the caller. */
static void mon_ready(struct qmp_session *s, const struct qmp_error *err)
{
	if (s->hs_timer)
		evtimer_del(s->hs_timer);
	if (err) {
		session_end(s, err);
		return;
	}
	s->state = ST_READY;
	cmd_flush_held(s);
	if (!session_alive(s))
		return;
	session_report_ready(s, NULL);
}

void mon_on_hs_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_session *s = arg;
	struct qmp_error err;

	qmp_error_set(&err, QMP_ERR_TIMEOUT, "no QMP greeting/capabilities within %u ms",
		      s->timeout_ms);
	session_ref(s);
	session_end(s, &err);
	session_unref(s);
}

/* ---- greeting ----------------------------------------------------------- */

/* "major.minor.micro" from the greeting's version.qemu, if all are there. */
static void read_version(struct qmp_session *s, struct json_object *qmp)
{
	struct json_object *ver = NULL, *q, *ma = NULL, *mi = NULL, *mc = NULL;

	if (json_object_object_get_ex(qmp, "version", &ver) &&
	    json_object_object_get_ex(ver, "qemu", &q) &&
	    json_object_object_get_ex(q, "major", &ma) &&
	    json_object_object_get_ex(q, "minor", &mi) &&
	    json_object_object_get_ex(q, "micro", &mc))
		snprintf(s->version, sizeof(s->version), "%d.%d.%d", json_object_get_int(ma),
			 json_object_get_int(mi), json_object_get_int(mc));
	/* QEMU 2.12 with oob dropped an in-band command when its queue was
	 * full (COMMAND_DROPPED, naming it by id); from 3.0 on it stops
	 * reading instead, and every in-band command is answered in order. */
	s->bare_ids = ma && json_object_get_int(ma) >= 3;
}

static void read_oob(struct qmp_session *s, struct json_object *qmp)
{
	struct json_object *caps = NULL;

	if (json_object_object_get_ex(qmp, "capabilities", &caps) &&
	    json_object_is_type(caps, json_type_array)) {
		for (size_t i = 0; i < json_object_array_length(caps); i++) {
			const char *c = json_object_get_string(json_object_array_get_idx(caps, i));
			if (c && !strcmp(c, "oob"))
				s->oob = 1;
		}
	}
}

/* qmp_capabilities goes before any queued command, under an id of its own. */
static int send_capabilities(struct qmp_session *s, struct qmp_error *err)
{
	struct json_object *args = NULL, *msg;

	if (s->oob) {
		struct json_object *en = json_object_new_array();

		json_object_array_add(en, json_object_new_string("oob"));
		args = json_object_new_object();
		json_object_object_add(args, "enable", en);
	}
	msg = cmd_make("qmp_capabilities", args);
	s->caps_id = s->next_id++;
	json_object_object_add(msg, "id", json_object_new_int64(s->caps_id));
	int rc = session_write(s, msg, 0, -1);
	json_object_put(msg);
	if (rc < 0) {
		qmp_error_set(err, QMP_ERR_DISCONNECTED, "write failed");
		return -1;
	}
	return 0;
}

static int greeting(struct qmp_session *s, struct json_object *v, struct qmp_error *err)
{
	struct json_object *qmp;

	if (!json_object_object_get_ex(v, "QMP", &qmp) ||
	    !json_object_is_type(qmp, json_type_object)) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "expected a QMP greeting");
		return -1;
	}
	s->greeting = json_object_get(v);
	read_version(s, qmp);
	read_oob(s, qmp);
	return send_capabilities(s, err);
}

/* ---- events ------------------------------------------------------------- */

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
	for (size_t i = 0; i < n && i < s->nsubs && session_alive(s); i++) {
		struct sub sb = s->subs[i];
		if (sb.fn)
			sb.fn(s, ev, data, sec, usec, sb.arg);
	}
	if (--s->dispatching == 0)
		compact_subs(s);
}

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

/* ---- replies ------------------------------------------------------------ */

/* A reply (it has "return" or "error"): to qmp_capabilities or a command. */
static void mon_reply(struct qmp_session *s, struct json_object *v, struct json_object *ret,
		      struct json_object *error)
{
	struct json_object *id = NULL;
	struct qmp_error err;
	struct cmd *c;

	json_object_object_get_ex(v, "id", &id);
	if (error)
		cmd_reply_error(error, &err);
	if (s->state == ST_HANDSHAKE) {
		if (is_int(id) && json_object_get_int64(id) == s->caps_id)
			mon_ready(s, error ? &err : NULL);
		return;
	}
	c = inband_match(s, id);
	if (!c)
		return; /* late reply to a command that timed out, or to none */
	if (error)
		cmd_finish(s, c, NULL, &err);
	else
		cmd_finish(s, c, ret, NULL);
}

void mon_value(struct qmp_session *s, struct json_object *v)
{
	struct json_object *ret = NULL, *error = NULL, *ev = NULL;
	struct qmp_error err;

	if (s->state == ST_HANDSHAKE && !s->greeting) {
		if (greeting(s, v, &err) < 0)
			mon_ready(s, &err);
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
	mon_reply(s, v, ret, error);
}

/* ---- accessors ---------------------------------------------------------- */

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
