#include "src/executor/agent_conn.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "src/executor/recordio.h"

#define PATH "/api/v1/executor"
/* The stream may be quiet for long (no heartbeats from older agents): its
 * read timeout only has to catch a dead peer. Calls answer quickly. */
#define STREAM_TIMEOUT_S (24 * 3600)
#define CALL_TIMEOUT_S	 30

struct agent_conn {
	struct event_base *base;
	char *host;
	uint16_t port;
	char *auth; /* "Bearer TOKEN", or NULL */
	const struct agent_conn_ops *ops;
	void *ctx;
	struct evhttp_connection *stream;
	struct evhttp_connection *calls;
	struct recordio *rio;
	int status;	   /* of the SUBSCRIBE reply, 0 before headers */
	char errbody[256]; /* start of a non-200 reply body, for the log */
	size_t errlen;
	int closing; /* stream being torn down: ignore its callbacks */
	char *why;
	struct event *close_ev;
};

static void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_msg(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("mesos-vm-executor: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Runs from the loop, never inside an evhttp callback, because freeing the
 * connection there would pull it from under libevent. */
static void on_close(evutil_socket_t fd, short what, void *arg)
{
	struct agent_conn *c = arg;
	char *why = c->why;

	if (c->stream) {
		evhttp_connection_free(c->stream);
		c->stream = NULL;
	}
	recordio_free(c->rio);
	c->rio = NULL;
	c->why = NULL;
	c->closing = 0;
	c->ops->closed(c->ctx, why ? why : "stream closed");
	free(why);
}

static void schedule_close(struct agent_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void schedule_close(struct agent_conn *c, const char *fmt, ...)
{
	va_list ap;
	struct timeval now = {0, 0};

	if (c->closing)
		return;
	c->closing = 1;
	va_start(ap, fmt);
	if (vasprintf(&c->why, fmt, ap) < 0)
		c->why = NULL;
	va_end(ap);
	event_add(c->close_ev, &now);
}

void agent_conn_abort(struct agent_conn *c, const char *why)
{
	schedule_close(c, "%s", why);
}

static int on_record(const char *data, size_t len, void *arg)
{
	struct agent_conn *c = arg;
	c->ops->record(c->ctx, data, len);
	/* The handler may have aborted the stream: stop feeding it. */
	return c->closing ? 1 : 0;
}

static int on_header(struct evhttp_request *req, void *arg)
{
	struct agent_conn *c = arg;
	const char *ct;

	if (c->closing)
		return 0;
	c->status = evhttp_request_get_response_code(req);
	if (c->status != 200)
		return 0; /* the body says why; read it for the log */
	ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (!ct || strncasecmp(ct, "application/json", 16) != 0)
		schedule_close(c, "SUBSCRIBE reply has Content-Type %s, not application/json",
			       ct ? ct : "(none)");
	return 0;
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
	struct agent_conn *c = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	char *err = NULL;

	if (c->closing || c->status != 200) {
		size_t n = evbuffer_get_length(in);
		if (!c->closing && c->errlen < sizeof(c->errbody) - 1) {
			size_t k = sizeof(c->errbody) - 1 - c->errlen;
			if (k > n)
				k = n;
			evbuffer_copyout(in, c->errbody + c->errlen, k);
			c->errlen += k;
			c->errbody[c->errlen] = '\0';
		}
		evbuffer_drain(in, n);
		return;
	}
	while (evbuffer_get_length(in) > 0 && !c->closing) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		int rc = recordio_feed(c->rio, v.iov_base, v.iov_len, on_record, c, &err);
		evbuffer_drain(in, v.iov_len);
		if (rc < 0) {
			schedule_close(c, "protocol error in the event stream: %s",
				       err ? err : "bad framing");
			free(err);
			err = NULL;
		}
	}
	evbuffer_drain(in, evbuffer_get_length(in));
}

/* The agent authenticates executors (--authenticate_http_executors). */
static const char *unauth_why(const struct agent_conn *c)
{
	return c->auth ? "the agent did not accept MESOS_EXECUTOR_AUTHENTICATION_TOKEN"
		       : "the agent requires executor authentication and "
			 "MESOS_EXECUTOR_AUTHENTICATION_TOKEN is not set";
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct agent_conn *c = arg;
	char *err = NULL;

	if (c->closing)
		return;
	if (!req || c->status == 0) {
		schedule_close(c, "cannot reach the agent at %s:%u", c->host, c->port);
	} else if (c->status == 401) {
		schedule_close(c, "SUBSCRIBE refused: HTTP 401 Unauthorized: %s", unauth_why(c));
	} else if (c->status != 200) {
		schedule_close(c, "SUBSCRIBE refused: HTTP %d %s", c->status, c->errbody);
	} else {
		/* Bytes may still sit in the input buffer if no chunk cb ran. */
		on_chunk(req, c);
		if (!c->closing && recordio_finish(c->rio, &err) < 0)
			schedule_close(c, "event stream ended badly: %s", err ? err : "?");
		else
			schedule_close(c, "the agent closed the event stream");
		free(err);
	}
}

static void on_error(enum evhttp_request_error e, void *arg)
{
	struct agent_conn *c = arg;
	static const char *const names[] = {"timeout", "connection closed", "request error",
					    "cancelled", "data too long"};
	schedule_close(c, "event stream: %s",
		       (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "error");
}

struct agent_conn *agent_conn_new(struct event_base *base, const char *host, uint16_t port,
				  const char *token, const struct agent_conn_ops *ops, void *ctx)
{
	struct agent_conn *c = calloc(1, sizeof(*c));
	if (!c || !(c->host = strdup(host)))
		goto bad;
	if (token && asprintf(&c->auth, "Bearer %s", token) < 0) {
		c->auth = NULL;
		goto bad;
	}
	c->base = base;
	c->port = port;
	c->ops = ops;
	c->ctx = ctx;
	c->close_ev = evtimer_new(base, on_close, c);
	c->calls = evhttp_connection_base_new(base, NULL, host, port);
	if (!c->close_ev || !c->calls)
		goto bad;
	evhttp_connection_set_timeout(c->calls, CALL_TIMEOUT_S);
	return c;
bad:
	agent_conn_free(c);
	return NULL;
}

void agent_conn_free(struct agent_conn *c)
{
	if (!c)
		return;
	if (c->stream)
		evhttp_connection_free(c->stream);
	if (c->calls)
		evhttp_connection_free(c->calls);
	if (c->close_ev)
		event_free(c->close_ev);
	recordio_free(c->rio);
	free(c->why);
	free(c->auth);
	free(c->host);
	free(c);
}

static struct evhttp_request *make_req(struct agent_conn *c,
				       void (*cb)(struct evhttp_request *, void *), void *arg,
				       struct json_object *call)
{
	struct evhttp_request *req = evhttp_request_new(cb, arg);
	struct evkeyvalq *h;
	const char *body;
	char hostport[300];

	if (!req)
		return NULL;
	h = evhttp_request_get_output_headers(req);
	snprintf(hostport, sizeof(hostport), "%s:%u", c->host, c->port);
	evhttp_add_header(h, "Host", hostport);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Accept", "application/json");
	if (c->auth)
		evhttp_add_header(h, "Authorization", c->auth);
	body = json_object_to_json_string_ext(call, JSON_C_TO_STRING_PLAIN);
	evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
	return req;
}

int agent_conn_unauthorized(const struct agent_conn *c)
{
	return c->status == 401;
}

int agent_conn_subscribe(struct agent_conn *c, struct json_object *call)
{
	struct evhttp_request *req;

	if (c->stream) {
		evhttp_connection_free(c->stream);
		c->stream = NULL;
	}
	recordio_free(c->rio);
	c->status = 0;
	c->errlen = 0;
	c->errbody[0] = '\0';
	c->rio = recordio_new(0);
	c->stream = evhttp_connection_base_new(c->base, NULL, c->host, c->port);
	if (!c->rio || !c->stream)
		goto bad;
	evhttp_connection_set_timeout(c->stream, STREAM_TIMEOUT_S);
	/* A broken stream is a disconnect to handle, not to retry blindly. */
	evhttp_connection_set_retries(c->stream, 0);
	req = make_req(c, on_done, c, call);
	if (!req)
		goto bad;
	evhttp_request_set_header_cb(req, on_header);
	evhttp_request_set_chunked_cb(req, on_chunk);
	evhttp_request_set_error_cb(req, on_error);
	if (evhttp_make_request(c->stream, req, EVHTTP_REQ_POST, PATH) < 0)
		goto bad; /* libevent freed req */
	return 0;
bad:
	schedule_close(c, "cannot start SUBSCRIBE to %s:%u", c->host, c->port);
	return -1;
}

struct call_ctx {
	const struct agent_conn *c;
	char what[64];
	agent_call_done_fn done;
	void *arg;
};

static void on_call_done(struct evhttp_request *req, void *arg)
{
	struct call_ctx *cc = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;

	if (code == 0) {
		log_msg("%s: no reply from the agent", cc->what);
	} else if (code == 401) {
		log_msg("%s: agent answered HTTP 401 Unauthorized: %s", cc->what,
			unauth_why(cc->c));
	} else if (code != 202) {
		char buf[256] = "";
		struct evbuffer *in = evhttp_request_get_input_buffer(req);
		size_t n = evbuffer_copyout(in, buf, sizeof(buf) - 1) > 0 ? strlen(buf) : 0;
		(void)n;
		log_msg("%s: agent answered HTTP %d %s", cc->what, code, buf);
	}
	if (cc->done)
		cc->done(cc->arg, code);
	free(cc);
}

/* A call that could not even be queued fails from the loop, like any other,
 * so the caller never sees its callback run inside agent_conn_call. */
static void on_call_unsent(evutil_socket_t fd, short what, void *arg)
{
	on_call_done(NULL, arg);
}

void agent_conn_call(struct agent_conn *c, struct json_object *call, const char *what,
		     agent_call_done_fn done, void *arg)
{
	struct call_ctx *cc = calloc(1, sizeof(*cc));
	struct evhttp_request *req;

	if (!cc) {
		log_msg("%s: out of memory", what);
		if (done)
			done(arg, 0);
		return;
	}
	cc->c = c;
	snprintf(cc->what, sizeof(cc->what), "%s", what);
	cc->done = done;
	cc->arg = arg;
	req = make_req(c, on_call_done, cc, call);
	if (!req || evhttp_make_request(c->calls, req, EVHTTP_REQ_POST, PATH) < 0) {
		log_msg("%s: cannot send", what);
		if (event_base_once(c->base, -1, EV_TIMEOUT, on_call_unsent, cc, NULL) < 0) {
			if (done)
				done(arg, 0);
			free(cc);
		}
	}
}
