/*
 * The guest agent's protocol. QGA has no greeting and no ids it must echo,
 * and its channel may hold output from an earlier client, so the session
 * synchronises with guest-sync-delimited (whose answer follows a 0xFF
 * sentinel) before the first command and after anything that can leave a
 * stale answer behind. Commands go one at a time, from the queue's head.
 */
#include <stdlib.h>
#include <sys/random.h>

#include <event2/event.h>

#include "qmp/session-internal.h"

static void qga_sync_done(struct qmp_session *s, const struct qmp_error *err)
{
	s->syncing = 0;
	evtimer_del(s->sync_timer);
	if (!err) {
		s->need_sync = 0;
		s->state = ST_READY;
	}
	session_report_ready(s, err);
	if (session_alive(s))
		qga_pump(s);
}

void qga_on_sync_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_session *s = arg;
	struct qmp_error err;

	qmp_error_set(&err, QMP_ERR_TIMEOUT, "guest agent did not answer guest-sync-delimited");
	session_ref(s);
	qga_sync_done(s, &err);
	session_unref(s);
}

/* Random so that a reply to an earlier, abandoned sync (still queued in
 * the guest's channel) is never mistaken for this one. */
static int64_t new_sync_id(int64_t last)
{
	uint32_t r = 0;

	do {
		if (getrandom(&r, sizeof(r), 0) != sizeof(r))
			r = (uint32_t)random();
		r &= 0x7fffffff;
	} while (r == 0 || (int64_t)r == last);
	return r;
}

void qga_start_sync(struct qmp_session *s)
{
	struct json_object *msg, *args;
	struct timeval tv = ms_tv(s->timeout_ms);

	s->sync_id = new_sync_id(s->sync_id);
	s->syncing = 1;
	args = json_object_new_object();
	json_object_object_add(args, "id", json_object_new_int64(s->sync_id));
	msg = cmd_make("guest-sync-delimited", args);
	qmp_parser_expect_sentinel(s->parser);
	/* The leading 0xFF makes the agent drop any half-read input. */
	int rc = session_write(s, msg, 1, -1);
	json_object_put(msg);
	if (rc < 0) {
		session_end_write_failed(s);
		return;
	}
	evtimer_add(s->sync_timer, &tv);
}

/* Send the head of the queue when nothing is in flight. */
void qga_pump(struct qmp_session *s)
{
	struct cmd *c;

	while (session_alive(s) && !s->syncing && !s->inflight && !TAILQ_EMPTY(&s->cmds)) {
		if (s->need_sync) {
			qga_start_sync(s);
			return;
		}
		c = TAILQ_FIRST(&s->cmds);
		if (cmd_send(s, c) < 0) {
			session_end_write_failed(s);
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

void qga_value(struct qmp_session *s, struct json_object *v)
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

		cmd_reply_error(error, &err);
		cmd_finish(s, s->inflight, NULL, &err);
	} else {
		cmd_finish(s, s->inflight, ret, NULL);
	}
	if (session_alive(s))
		qga_pump(s);
}
