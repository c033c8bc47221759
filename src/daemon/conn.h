/*
 * The API's connections, watched one by one: at most max_connections at
 * a time (beyond, a new connection is answered 503 in JSON and closed),
 * a request must arrive whole within read_timeout_s of its first byte (a
 * client sending a byte a second is dropped), and libevent's own error
 * pages (400, 413, 501 in HTML) go out as the API's JSON errors.
 */
#ifndef VMSUP_CONN_H
#define VMSUP_CONN_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <event2/http.h>

struct api_conns;

/* Watch every connection http accepts from now on; NULL if out of memory. */
struct api_conns *api_conns_new(struct event_base *base, struct evhttp *http,
				unsigned max_connections, unsigned read_timeout_s);
/* After evhttp_free (which closes the connections). */
void api_conns_free(struct api_conns *cs);

/* Connections open now (those being refused included). */
size_t api_conns_count(const struct api_conns *cs);

/*
 * max_connections = 0 (auto): a quarter of the descriptors RLIMIT_NOFILE
 * allows, the rest left for the VMs' sockets, logs and state files; at
 * least API_CONNS_MIN, at most API_CONNS_AUTO_MAX.
 */
unsigned api_conns_auto_max(void);
#define API_CONNS_MIN	   16
#define API_CONNS_AUTO_MAX 4096

/*
 * First thing for each request: true after answering 503 when its
 * connection is beyond max_connections (nothing else is done for it).
 * One that sends nothing is told the same, then closed, after
 * OVER_LIMIT_WAIT_MS.
 */
bool api_conn_refused(struct evhttp_request *req);
#define OVER_LIMIT_WAIT_MS 500

/*
 * For the API's connections instead of evhttp_connection_set_closecb,
 * whose one slot the connection watch holds: cb(evcon, arg) runs when the
 * connection closes; cb NULL clears it.
 */
void api_conn_set_closecb(struct evhttp_connection *evcon,
			  void (*cb)(struct evhttp_connection *, void *), void *arg);

#endif
