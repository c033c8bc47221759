/*
 * Replies and request bodies in the API's one format, shared by every
 * route file: JSON bodies, errors as {"error":{"class","desc"}}.
 */
#ifndef VMSUP_HTTP_H
#define VMSUP_HTTP_H

#include <event2/http.h>
#include <stdbool.h>

#include <json-c/json.h>

/* Reply with o as the JSON body ("{}" when o is NULL); o stays the caller's. */
void http_send_json(struct evhttp_request *req, int status, struct json_object *o);
/* A reply whose JSON body is already in b (NULL: none; b stays the caller's). */
void http_send_buffer(struct evhttp_request *req, int status, struct evbuffer *b);

/* Reply with an error object of class cls and a printf-style description. */
void http_send_error(struct evhttp_request *req, int status, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * The body as strict JSON: 0 with *out (NULL for an empty body), or -1
 * after replying 413 (over VMSUP_API_BODY_MAX) or 400 (malformed).
 */
int http_read_json(struct evhttp_request *req, struct json_object **out);

/*
 * From a close callback of a request the handler still holds: libevent
 * 2.1 detaches such a request from its connection and leaves it to the
 * handler, so free it then (else it is the connection's to free).
 */
void http_request_orphaned(struct evhttp_request *req);

struct vmsup_peer;
/*
 * The client's credentials, read once per request from its socket
 * (SO_PEERCRED, SO_PEERGROUPS: what the kernel recorded at connect()).
 * 0, or -1 after replying 500.
 */
int http_peer_get(struct evhttp_request *req, struct vmsup_peer *peer);

/*
 * May the peer (from http_peer_get) read and write the files a spec-like
 * body names (kernel, initrd, disk, shares)? 1, or 0 after replying 403/500.
 */
int http_peer_files_ok(struct evhttp_request *req, const struct vmsup_peer *peer,
		       struct json_object *spec);

struct vmsup_result;
/* Reply with a supervisor result: its error, else its body. */
/* An error class (src/util/err.h, or qemu's own) as an HTTP status; no
 * class: 200, or 201 when created. */
int http_status_of(const char *cls, bool created);
/* Reply with an outcome: the error (cls, desc) or body. */
void http_send_outcome(struct evhttp_request *req, const char *cls, const char *desc,
		       struct json_object *body, bool created);
void http_send_result(struct evhttp_request *req, const struct vmsup_result *r);

struct vmsup;
/* Count the reply to req in the API metrics by its status once sent: set
 * on each request. */
void http_count_on_complete(struct vmsup *sup, struct evhttp_request *req);

/*
 * Hold the request's connection past its reply's start: no idle timeout
 * (a held or streamed request may wait longer), and gone(evcon, arg) when
 * the client closes it. The connection.
 */
struct evhttp_connection *http_hold(struct evhttp_request *req,
				    void (*gone)(struct evhttp_connection *, void *), void *arg);

/*
 * A streamed reply (the events, a log followed, a console): 200 and a body
 * that goes on until the client leaves or the daemon ends it. Its owner
 * embeds it; free_owner(owner, client_left) frees the owner (so the
 * stream) either way, before the request is let go.
 */
struct http_stream {
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	void (*free_owner)(void *owner, bool client_left);
	void *owner;
};
/* Reply 200 with that content type, counted in the API metrics now (the
 * reply has no end to count it at). */
void http_stream_start(struct http_stream *s, struct vmsup *sup, struct evhttp_request *req,
		       const char *content_type, void (*free_owner)(void *, bool), void *owner);
/* n bytes as one chunk (none for n == 0). */
void http_stream_write(struct http_stream *s, const void *data, size_t n);
void http_stream_printf(struct http_stream *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Bytes sent that the client has not read yet. */
size_t http_stream_backlog(const struct http_stream *s);
/* The daemon ends it: the owner is freed, then the reply ends (an
 * HTTP/1.0 connection closes once the last bytes are out). */
void http_stream_end(struct http_stream *s);

/*
 * A request answered later by a job (making a template, taking a pool VM):
 * http_held_new, start the job with http_held_done and the held as its
 * callback and argument, then http_held_wait with the job's handle (NULL:
 * the job already answered, the held is gone). If the client goes away
 * first, detach(job) is called and the job's answer goes nowhere. The
 * connection has no idle timeout while it waits.
 */
struct http_held;
struct http_held *http_held_new(struct evhttp_request *req); /* NULL: replied 500 */
void http_held_done(const struct vmsup_result *r, void *held);
/* The same for a job that reports (cls, desc, body) (vm_limits_done_fn). */
void http_held_outcome(const char *cls, const char *desc, struct json_object *body, void *held);
void http_held_wait(struct http_held *h, void *job, void (*detach)(void *job));

#endif
