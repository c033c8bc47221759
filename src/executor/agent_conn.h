/*
 * The executor's two HTTP connections to the Mesos agent (libevent evhttp):
 * the SUBSCRIBE event stream (200, chunked, RecordIO-framed events) and the
 * connection every other call goes on (202 expected).
 */
#ifndef VMEXEC_AGENT_CONN_H
#define VMEXEC_AGENT_CONN_H

#include <event2/event.h>
#include <json-c/json.h>
#include <stdint.h>

struct agent_conn;

struct agent_conn_ops {
	/* One complete record from the stream (JSON text, NUL-terminated). */
	void (*record)(void *ctx, const char *data, size_t len);
	/* The stream ended or failed; why is a short human text. Not called
	 * after agent_conn_close(). */
	void (*closed)(void *ctx, const char *why);
};

/* token: sent as "Authorization: Bearer TOKEN" on every call; NULL for none. */
struct agent_conn *agent_conn_new(struct event_base *base, const char *host, uint16_t port,
				  const char *token, const struct agent_conn_ops *ops, void *ctx);
void agent_conn_free(struct agent_conn *c);

/* POST the SUBSCRIBE call (borrowed) and start reading the stream.
 * 0, or -1 (then closed() is called from the loop). */
int agent_conn_subscribe(struct agent_conn *c, struct json_object *call);

/* Drop the stream now (protocol error, ERROR event); closed() follows from
 * the loop with why. */
void agent_conn_abort(struct agent_conn *c, const char *why);

/* The last SUBSCRIBE was answered 401: the token is missing or refused, which
 * no retry can change. */
int agent_conn_unauthorized(const struct agent_conn *c);

/* Outcome of a call: the HTTP status, 0 when no reply came. */
typedef void (*agent_call_done_fn)(void *arg, int code);

/* POST a call (borrowed) on the call connection; a reply other than 202 is
 * logged. what names it in logs. done (may be NULL) is called once with the
 * outcome, from the loop; it owns arg. */
void agent_conn_call(struct agent_conn *c, struct json_object *call, const char *what,
		     agent_call_done_fn done, void *arg);

#endif
