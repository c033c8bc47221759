/*
 * Private to libqmp's session files: the structures they share and the
 * functions one of them calls in another. qmp/qmp.h stays the whole public
 * interface; nothing declared here is exported from the shared library.
 *
 *   session.c   lifetime, references, connect, socket I/O and framing
 *   command.c   the command queue: ids, pending commands, timeouts
 *   qga.c       guest agent: guest-sync-delimited, one command at a time
 *   monitor.c   QMP: greeting, qmp_capabilities, replies, events
 *   inband.c    QMP: in-band commands sent without an id, replies in order
 */
#ifndef QMP_SESSION_INTERNAL_H
#define QMP_SESSION_INTERNAL_H

#include <stdint.h>
#include <sys/queue.h>
#include <sys/time.h>

#include "qmp/qmp.h"

/* The library is built without -fvisibility=hidden; these functions cross
 * files but must not become symbols of libqmp.so (same ABI as before). */
#define QMP_HIDDEN __attribute__((visibility("hidden")))

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
	int fd; /* >= 0: passed with the command (qmp_call_fd; borrowed) */
	unsigned timeout_ms;
	char name[64]; /* for error messages */
	int inband;    /* QMP: "execute", answered in order (inband.c) */
	int bare;      /* QMP: sent without an id */
	uint64_t seq;  /* QMP: place among the in-band commands written */
};
TAILQ_HEAD(cmd_list, cmd);

/* A QMP command sent with an id that timed out before its reply. */
struct ghost {
	int64_t id;
	uint64_t seq;
};

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

	struct bufferevent *bev; /* writes, and write errors */
	struct event *rd_ev;	 /* reads: straight into the parser */
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

	/* QMP: in-band commands may go without an id (QEMU >= 3.0) */
	int bare_ids;
	/* QMP: in-band commands written and answered so far (inband.c) */
	uint64_t ib_sent, ib_answered;
	struct ghost *ghosts;
	size_t nghosts, cap_ghosts;

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

/* Not freed and not closed: callbacks may have done either, so every
 * caller checks again after calling out. */
static inline int session_alive(const struct qmp_session *s)
{
	return !s->freed && s->state != ST_CLOSED;
}

static inline struct timeval ms_tv(unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

static inline int is_int(struct json_object *o)
{
	return o && json_object_is_type(o, json_type_int);
}

/* session.c */
QMP_HIDDEN void session_ref(struct qmp_session *s);
QMP_HIDDEN void session_unref(struct qmp_session *s);
QMP_HIDDEN void session_end(struct qmp_session *s, const struct qmp_error *why);
QMP_HIDDEN void session_end_write_failed(struct qmp_session *s);
QMP_HIDDEN int session_report_ready(struct qmp_session *s, const struct qmp_error *err);
QMP_HIDDEN int session_write(struct qmp_session *s, struct json_object *msg, int sentinel, int fd);
QMP_HIDDEN int session_write_text(struct qmp_session *s, const char *str, size_t len, int sentinel,
				  int fd);

/* command.c */
QMP_HIDDEN struct json_object *cmd_make(const char *cmd, struct json_object *args);
QMP_HIDDEN int cmd_send(struct qmp_session *s, struct cmd *c);
QMP_HIDDEN void cmd_finish(struct qmp_session *s, struct cmd *c, struct json_object *ret,
			   const struct qmp_error *err);
QMP_HIDDEN void cmd_flush_held(struct qmp_session *s);
QMP_HIDDEN void cmd_fail_all(struct qmp_session *s, const struct qmp_error *why);
QMP_HIDDEN void cmd_reply_error(struct json_object *error, struct qmp_error *err);

/* inband.c */
QMP_HIDDEN int inband_bare_ok(const char *str, size_t len);
QMP_HIDDEN void inband_sent(struct qmp_session *s, struct cmd *c);
/* -1: too many commands left unanswered, the session should end */
QMP_HIDDEN int inband_timed_out(struct qmp_session *s, const struct cmd *c);
/* The command a QMP reply answers (id: its "id" member, or NULL), or NULL
 * for a late reply to a command that timed out or to none of ours. */
QMP_HIDDEN struct cmd *inband_match(struct qmp_session *s, struct json_object *id);

/* qga.c */
QMP_HIDDEN void qga_start_sync(struct qmp_session *s);
QMP_HIDDEN void qga_pump(struct qmp_session *s);
QMP_HIDDEN void qga_value(struct qmp_session *s, struct json_object *v);
QMP_HIDDEN void qga_on_sync_timeout(evutil_socket_t fd, short what, void *arg);

/* monitor.c */
QMP_HIDDEN void mon_value(struct qmp_session *s, struct json_object *v);
QMP_HIDDEN void mon_on_hs_timeout(evutil_socket_t fd, short what, void *arg);

#endif
