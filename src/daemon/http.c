/* The API's reply and body format, one implementation for every route file. */
#include "src/daemon/http.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include "src/daemon/api.h"
#include "src/daemon/conn.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/util/peer.h"
#include "src/core/supervisor.h"
#include "src/metrics/vm-stats.h"

void http_send_json(struct evhttp_request *req, int status, struct json_object *o)
{
	struct evbuffer *b = evbuffer_new();
	size_t n = 2;
	const char *s = o ? json_object_to_json_string_length(
				o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n)
			  : "{}";

	/* added by length: a printf "%s" of a large reply scans and copies it twice */
	if (b && (evbuffer_add(b, s, n) || evbuffer_add(b, "\n", 1))) {
		evbuffer_free(b);
		b = NULL;
	}
	http_send_buffer(req, status, b);
	if (b)
		evbuffer_free(b);
}

void http_send_buffer(struct evhttp_request *req, int status, struct evbuffer *b)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, status, status < 400 ? "OK" : "Error", b);
}

void http_send_error(struct evhttp_request *req, int status, const char *cls, const char *fmt, ...)
{
	char desc[1024];
	va_list ap;
	struct json_object *o = json_object_new_object(), *e = json_object_new_object();

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(o, "error", e);
	LOG_D(NULL, "%s -> %d %s", evhttp_request_get_uri(req), status, desc);
	http_send_json(req, status, o);
	json_object_put(o);
}

int http_read_json(struct evhttp_request *req, struct json_object **out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in), used;
	struct json_tokener *tok;
	enum json_tokener_error jerr;
	const char *data;

	*out = NULL;
	if (len > VMSUP_API_BODY_MAX) {
		http_send_error(req, 413, "TooLarge", "request body is %zu bytes, the limit is %d",
				len, VMSUP_API_BODY_MAX);
		return -1;
	}
	data = (const char *)evbuffer_pullup(in, -1);
	while (len && (data[len - 1] == ' ' || data[len - 1] == '\n' || data[len - 1] == '\r' ||
		       data[len - 1] == '\t'))
		len--;
	if (!len)
		return 0;
	if (!(tok = json_tokener_new_ex(64))) {
		http_send_error(req, 500, "InternalError", "out of memory");
		return -1;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	*out = json_tokener_parse_ex(tok, data, (int)len);
	jerr = json_tokener_get_error(tok);
	used = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (jerr != json_tokener_success || !*out || used != len) {
		json_object_put(*out);
		*out = NULL;
		http_send_error(
		    req, 400, "InvalidParameter", "malformed JSON body: %s (at byte %zu)",
		    jerr != json_tokener_success ? json_tokener_error_desc(jerr) : "trailing data",
		    used);
		return -1;
	}
	return 0;
}

/*
 * The one place an error class becomes an HTTP status. Classes not listed
 * are qemu's own (GenericError, CommandNotFound ...) relayed from QMP: the
 * upstream failed, 502.
 */
static const struct {
	const char *cls;
	int status;
} class_status[] = {
    {VMSUP_EC_INVALID, 400},
    {"MethodNotAllowed", 405},
    {VMSUP_EC_FORBIDDEN, 403},
    {VMSUP_EC_NOT_FOUND, 404},
    {VMSUP_EC_CONFLICT, 409},
    {VMSUP_EC_POOL_MEMBER, 409},
    {VMSUP_EC_POOL_MISMATCH, 409},
    {VMSUP_EC_DISCONNECTED, 409},
    {VMSUP_EC_DAMAGED, 409},
    {"DeviceNotActive", 409},
    {"TooLarge", 413},
    {VMSUP_EC_INTERNAL, 500},
    {VMSUP_EC_QEMU, 500},
    {VMSUP_EC_SAVE, 500},
    {VMSUP_EC_SHARE, 500},
    {VMSUP_EC_UNSUPPORTED, 501},
    {VMSUP_EC_AGENT, 502},
    {VMSUP_EC_MOUNT, 502},
    {VMSUP_EC_SHUTTING_DOWN, 503},
    {VMSUP_EC_NO_CGROUP, 503},
    {VMSUP_EC_POOL_EMPTY, 503},
    {VMSUP_EC_EXHAUSTED, 503},
    {VMSUP_EC_TIMEOUT, 504},
};

int http_status_of(const char *cls, bool created)
{
	if (!cls)
		return created ? 201 : 200;
	for (size_t i = 0; i < sizeof(class_status) / sizeof(class_status[0]); i++)
		if (!strcmp(class_status[i].cls, cls))
			return class_status[i].status;
	return 502;
}

void http_send_outcome(struct evhttp_request *req, const char *cls, const char *desc,
		       struct json_object *body, bool created)
{
	int status = http_status_of(cls, created);

	if (cls)
		http_send_error(req, status, cls, "%s", desc ? desc : "");
	else
		http_send_json(req, status, body);
}

void http_send_result(struct evhttp_request *req, const struct vmsup_result *r)
{
	http_send_outcome(req, r->cls, r->desc, r->body, r->created);
}

void http_request_orphaned(struct evhttp_request *req)
{
	if (req && !evhttp_request_get_connection(req))
		evhttp_request_free(req);
}

/* ---- held requests ---- */

struct http_held {
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	void *job;
	void (*detach)(void *job);
};

struct http_held *http_held_new(struct evhttp_request *req)
{
	struct http_held *h = calloc(1, sizeof(*h));

	if (!h)
		http_send_error(req, 500, "InternalError", "out of memory");
	else
		h->req = req;
	return h;
}

static void on_held_gone(struct evhttp_connection *evcon, void *arg)
{
	struct http_held *h = arg;
	(void)evcon;

	h->detach(h->job);
	http_request_orphaned(h->req);
	free(h);
}

void http_held_done(const struct vmsup_result *r, void *arg)
{
	struct http_held *h = arg;

	if (h->evcon)
		api_conn_set_closecb(h->evcon, NULL, NULL);
	http_send_result(h->req, r);
	free(h);
}

void http_held_outcome(const char *cls, const char *desc, struct json_object *body, void *arg)
{
	struct vmsup_result r = {cls, desc, body, false};

	http_held_done(&r, arg);
}

void http_held_wait(struct http_held *h, void *job, void (*detach)(void *job))
{
	if (!job)
		return; /* http_held_done ran and freed h */
	h->job = job;
	h->detach = detach;
	h->evcon = http_hold(h->req, on_held_gone, h);
}

int http_peer_get(struct evhttp_request *req, struct vmsup_peer *peer)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	char *err = NULL;

	if (!vmsup_peer_get(bufferevent_getfd(evhttp_connection_get_bufferevent(evcon)), peer,
			    &err))
		return 0;
	http_send_error(req, 500, "InternalError", "peer credentials: %s",
			err ? err : "unknown error");
	free(err);
	return -1;
}

int http_peer_files_ok(struct evhttp_request *req, const struct vmsup_peer *peer,
		       struct json_object *spec)
{
	char *err = NULL;
	int rc = vmsup_peer_check_spec(peer, spec, &err);

	if (rc < 0 && vmsup_err_is_fd_exhaustion(err))
		http_send_error(
		    req, 503, VMSUP_EC_EXHAUSTED,
		    "vmsupd is out of file descriptors (%s); retry when fewer are in use", err);
	else if (rc)
		http_send_error(req, rc > 0 ? 403 : 500,
				rc > 0 ? "PermissionDenied" : "InternalError", "%s",
				err ? err : "file access check failed");
	free(err);
	return rc == 0;
}

static void count(struct evhttp_request *req, void *sup)
{
	struct vmsup_stats *st = vm_stats_of(sup);

	if (st)
		metrics_api_count(&st->api, evhttp_request_get_response_code(req));
}

void http_count_on_complete(struct vmsup *sup, struct evhttp_request *req)
{
	evhttp_request_set_on_complete_cb(req, count, sup);
}

struct evhttp_connection *http_hold(struct evhttp_request *req,
				    void (*gone)(struct evhttp_connection *, void *), void *arg)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	api_conn_set_closecb(evcon, gone, arg);
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon), NULL, NULL);
	return evcon;
}

/* ---- streamed replies ---- */

static void on_stream_gone(struct evhttp_connection *evcon, void *arg)
{
	struct http_stream *s = arg;
	struct evhttp_request *req = s->req;

	(void)evcon;
	s->free_owner(s->owner, true);
	http_request_orphaned(req);
}

void http_stream_start(struct http_stream *s, struct vmsup *sup, struct evhttp_request *req,
		       const char *content_type, void (*free_owner)(void *, bool), void *owner)
{
	s->req = req;
	s->free_owner = free_owner;
	s->owner = owner;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", content_type);
	evhttp_send_reply_start(req, 200, "OK");
	evhttp_request_set_on_complete_cb(req, NULL, NULL);
	count(req, sup);
	s->evcon = http_hold(req, on_stream_gone, s);
}

void http_stream_write(struct http_stream *s, const void *data, size_t n)
{
	struct evbuffer *b;

	if (n && (b = evbuffer_new())) {
		evbuffer_add(b, data, n);
		evhttp_send_reply_chunk(s->req, b);
		evbuffer_free(b);
	}
}

void http_stream_printf(struct http_stream *s, const char *fmt, ...)
{
	struct evbuffer *b = evbuffer_new();
	va_list ap;

	if (!b)
		return;
	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
}

size_t http_stream_backlog(const struct http_stream *s)
{
	return evbuffer_get_length(
	    bufferevent_get_output(evhttp_connection_get_bufferevent(s->evcon)));
}

void http_stream_end(struct http_stream *s)
{
	struct evhttp_request *req = s->req;

	api_conn_set_closecb(s->evcon, NULL, NULL);
	/* first: the owner may hold the connection's buffers (a console's
	 * keystrokes), which ending the reply can free */
	s->free_owner(s->owner, false);
	evhttp_send_reply_end(req);
}
