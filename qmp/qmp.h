/*
 * libqmp: an asynchronous client for the two JSON protocols QEMU speaks on
 * sockets, QMP (the monitor) and QGA (the guest agent), on libevent and
 * json-c. The library carries no VM policy.
 *
 * Every failure is reported as a struct qmp_error: QEMU's own error classes
 * ("GenericError", "CommandNotFound", ...) pass through unchanged; failures
 * found on this side use the QMP_ERR_* classes below.
 */
#ifndef QMP_QMP_H
#define QMP_QMP_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <event2/event.h>

#define QMP_ERR_TIMEOUT	     "Timeout"	     /* no reply within the command's timeout */
#define QMP_ERR_DISCONNECTED "Disconnected"  /* peer closed, or session freed */
#define QMP_ERR_PROTOCOL     "ProtocolError" /* bad JSON, bad UTF-8, oversize, bad shape */
#define QMP_ERR_CONNECT	     "ConnectError"  /* socket could not be opened */

#define QMP_DEFAULT_MAX_MESSAGE (16u * 1024 * 1024)
#define QMP_DEFAULT_TIMEOUT_MS	10000u

struct qmp_error {
	char cls[64];
	char desc[256];
};

/* Fill err (if non-NULL) with a class and a printf-style description. */
void qmp_error_set(struct qmp_error *err, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

enum qmp_kind {
	QMP_KIND_QMP, /* monitor: greeting, qmp_capabilities, ids, events */
	QMP_KIND_QGA, /* guest agent: no greeting; guest-sync-delimited framing */
};

struct qmp_options {
	size_t max_message;	     /* largest message accepted; 0 = 16 MiB */
	unsigned default_timeout_ms; /* used when a call passes 0; 0 = 10 s */
};

struct qmp_session;

/*
 * Called exactly once per command. On success err is NULL and ret is the
 * reply's "return" member (borrowed: json_object_get() it to keep it). On
 * failure ret is NULL and err says why.
 */
typedef void (*qmp_reply_fn)(struct qmp_session *s, struct json_object *ret,
			     const struct qmp_error *err, void *arg);

/* An asynchronous QMP event; data may be NULL; sec/usec from "timestamp". */
typedef void (*qmp_event_fn)(struct qmp_session *s, const char *name, struct json_object *data,
			     int64_t sec, int64_t usec, void *arg);

/*
 * The session is usable (QMP: greeting read and qmp_capabilities accepted;
 * QGA: the first guest-sync-delimited answered), or err says why not.
 * QMP: on error the connection is already closed. QGA: an agent that is not
 * up yet gives err Timeout but the session stays open; the next command
 * resynchronises first (so callers may simply retry e.g. guest-ping).
 */
typedef void (*qmp_ready_fn)(struct qmp_session *s, const struct qmp_error *err, void *arg);

/*
 * The connection ended; every pending command has already been failed
 * (with the same error). Only called after ready was called; an end during
 * the handshake is reported through ready alone.
 */
typedef void (*qmp_close_fn)(struct qmp_session *s, const struct qmp_error *why, void *arg);

/* opt may be NULL for the defaults. */
struct qmp_session *qmp_session_new(struct event_base *base, enum qmp_kind kind,
				    const struct qmp_options *opt);

/*
 * Connect to a unix socket and start the handshake; ready is called once.
 * Returns -1 (and fills err) only on an immediate failure.
 */
int qmp_connect(struct qmp_session *s, const char *path, qmp_ready_fn ready, void *arg,
		struct qmp_error *err);

/* As qmp_connect, on an already connected stream socket; fd is taken
 * over (closed with the session, or at once on failure). */
int qmp_attach_fd(struct qmp_session *s, int fd, qmp_ready_fn ready, void *arg,
		  struct qmp_error *err);

/*
 * Subscribe to events (QMP only); several subscribers may be registered.
 * Returns a handle for qmp_unsubscribe, or -1.
 */
int qmp_subscribe(struct qmp_session *s, qmp_event_fn fn, void *arg);
void qmp_unsubscribe(struct qmp_session *s, int handle);

void qmp_on_close(struct qmp_session *s, qmp_close_fn fn, void *arg);

/*
 * Send a command. args (may be NULL) is taken over by the library, also on
 * failure. timeout_ms 0 means the session default; the deadline counts from
 * this call (time queued behind other commands included). fn may be NULL.
 * QMP commands issued before the handshake completes are held until then. Returns the command's id
 * (> 0), or -1 if it could not be queued (fn is then not called, err set).
 * On QMP the id is the library's handle: a short in-band command goes
 * without one (QEMU reads its monitor a byte at a time, and answers in-band
 * commands in order, so the reply is matched by its place); out-of-band
 * commands, and commands over 1 KiB or not plain ASCII, carry it.
 * On a QGA session commands are sent one at a time, in order; after a
 * timeout the session resynchronises with guest-sync-delimited before the
 * next command.
 */
int64_t qmp_call(struct qmp_session *s, const char *cmd, struct json_object *args,
		 unsigned timeout_ms, qmp_reply_fn fn, void *arg, struct qmp_error *err);

/*
 * As qmp_call, with fd passed along (SCM_RIGHTS) for the commands that take
 * one (getfd, add-fd). Only on a ready QMP session with nothing unsent (the
 * descriptor must go with the command's first byte), else -1 with err.
 * fd stays the caller's: the kernel gives qemu a copy.
 */
int64_t qmp_call_fd(struct qmp_session *s, const char *cmd, struct json_object *args, int fd,
		    unsigned timeout_ms, qmp_reply_fn fn, void *arg, struct qmp_error *err);

/*
 * For commands that give no reply on success (QGA guest-shutdown,
 * guest-suspend-*): sent in order like qmp_call, never answered. On QGA
 * the session resynchronises before the next command, so a late error
 * reply is discarded. Returns the id, or -1 with err.
 */
int64_t qmp_call_noreply(struct qmp_session *s, const char *cmd, struct json_object *args,
			 struct qmp_error *err);

/* Send a raw command object as given (for passthrough). An id the caller
 * put there is dropped: ids are the library's, added as qmp_call says. */
int64_t qmp_call_raw(struct qmp_session *s, struct json_object *cmd, unsigned timeout_ms,
		     qmp_reply_fn fn, void *arg, struct qmp_error *err);

int qmp_is_ready(const struct qmp_session *s);
/* QMP greeting (borrowed, NULL before it arrives or on QGA). */
struct json_object *qmp_greeting(const struct qmp_session *s);
/* "major.minor.micro" from the greeting, or "" */
const char *qmp_version(const struct qmp_session *s);
int qmp_has_oob(const struct qmp_session *s);

/*
 * Read and dispatch, now, whatever the peer has already written (replies,
 * events). For a caller about to drop the session because the peer's
 * process exited: its last events (QMP's SHUTDOWN before a quit) may still
 * be unread when the exit is noticed first. Never blocks.
 */
void qmp_session_drain(struct qmp_session *s);

/*
 * Close the connection and free the session. Pending commands are failed
 * with QMP_ERR_DISCONNECTED before it returns (their callbacks must not
 * free the session again). The close callback is not called.
 */
void qmp_session_free(struct qmp_session *s);

/*
 * Note: a session ignores SIGPIPE for the process if its disposition is still
 * the default (a closed peer is reported as Disconnected, not a signal).
 */

/* Synchronous convenience layer for tools and tests: each call runs a
 * private event loop until the reply, the event or the timeout. */
struct qmp_sync;

struct qmp_sync *qmp_sync_open(const char *path, enum qmp_kind kind, unsigned timeout_ms,
			       struct qmp_error *err);
/* *ret receives a new reference to "return" (caller puts it); args taken. */
int qmp_sync_call(struct qmp_sync *c, const char *cmd, struct json_object *args,
		  unsigned timeout_ms, struct json_object **ret, struct qmp_error *err);
/*
 * Wait for the event called name (events received since the last wait are
 * queued and searched first). *data (may be NULL) receives a new reference
 * to the event's data, or NULL if it had none.
 */
int qmp_sync_wait_event(struct qmp_sync *c, const char *name, unsigned timeout_ms,
			struct json_object **data, struct qmp_error *err);
/* The session underneath, for qmp_call, qmp_subscribe or qmp_on_close
 * (which the sync layer does not need); do not free it. */
struct qmp_session *qmp_sync_session(struct qmp_sync *c);
void qmp_sync_close(struct qmp_sync *c);

/*
 * The stream parser on its own (exposed for the fuzz target and tests):
 * feed bytes, get whole JSON values. For QGA it drops everything up to and
 * including a 0xFF sentinel when told to resynchronise.
 */
struct qmp_parser;
/* value borrowed (NULL for a JSON null); return <0 to stop feeding. */
typedef int (*qmp_value_fn)(struct json_object *value, void *arg);
struct qmp_parser *qmp_parser_new(size_t max_message);
/* 0 on success; -1 with err on malformed input (parser must then be reset). */
int qmp_parser_feed(struct qmp_parser *p, const char *buf, size_t len, qmp_value_fn fn, void *arg,
		    struct qmp_error *err);
void qmp_parser_expect_sentinel(struct qmp_parser *p);
void qmp_parser_reset(struct qmp_parser *p);
void qmp_parser_free(struct qmp_parser *p);

#endif
