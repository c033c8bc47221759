/*
 * libevent 2.1 (Debian 12) has no connection limit, no whole-request
 * deadline (its timeout restarts with every byte read) and no hook for the
 * error pages it writes itself (evhttp_set_errorcb and
 * evhttp_set_max_connections came in 2.2). So the API makes each
 * connection's bufferevent (evhttp_set_bevcb) and watches it:
 *
 * - its closecb (taken once the evhttp connection exists, on the loop turn
 *   after the accept, before anything is read) counts it out;
 * - an evbuffer callback on its input starts the request's deadline at the
 *   first byte; one on its output stops it when the answer starts;
 * - the output callback also turns libevent's HTML error page, the only
 *   text/html that is ever written, into a JSON error.
 */
#include "src/daemon/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "src/daemon/api.h"
#include "src/daemon/http.h"
#include "src/util/log.h"

struct api_conns {
	struct event_base *base;
	unsigned max;
	struct timeval read_timeout;
	size_t count;
	struct vmsup_log_limit lim;
};

struct conn {
	struct api_conns *cs;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* NULL until adopted */
	struct event *ev;		 /* adoption, then the request deadline */
	struct evbuffer_cb_entry *in_cb, *out_cb;
	void (*closecb)(struct evhttp_connection *, void *);
	void *closecb_arg;
	bool over;	/* beyond max_connections: answered 503 */
	bool seen;	/* the client has sent something */
	bool armed;	/* a request has begun and not been answered */
	bool rewriting; /* our own change to the output */
	struct conn *next;
};

/* Every watched connection, for api_conn_set_closecb (one API per process). */
static struct conn *conns;

unsigned api_conns_auto_max(void)
{
	struct rlimit rl;
	rlim_t n = API_CONNS_AUTO_MAX * 4;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n)
		n = rl.rlim_cur;
	n /= 4;
	return n < API_CONNS_MIN ? API_CONNS_MIN : (unsigned)n;
}

static void conn_free(struct conn *c)
{
	for (struct conn **pp = &conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->in_cb)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->in_cb);
	if (c->out_cb)
		evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->out_cb);
	event_free(c->ev);
	c->cs->count--;
	free(c);
}

static void on_close(struct evhttp_connection *evcon, void *arg)
{
	struct conn *c = arg;

	if (c->closecb)
		c->closecb(evcon, c->closecb_arg);
	conn_free(c);
}

void api_conn_set_closecb(struct evhttp_connection *evcon,
			  void (*cb)(struct evhttp_connection *, void *), void *arg)
{
	for (struct conn *c = conns; c; c = c->next)
		if (c->evcon == evcon) {
			c->closecb = cb;
			c->closecb_arg = arg;
			return;
		}
	/* not watched (the watch could not adopt it): the slot is free */
	evhttp_connection_set_closecb(evcon, cb, arg);
}

/* Still reading a request: evhttp's read callback set and reading on
 * (while a handler has the request, reading is off; while the answer is
 * written, the read callback is unset). */
static bool reading(struct conn *c)
{
	bufferevent_data_cb r;

	bufferevent_getcb(c->bev, &r, NULL, NULL, NULL);
	return r && (bufferevent_get_enabled(c->bev) & EV_READ);
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	(void)buf;
	if (info->n_added)
		c->seen = true;
	if (info->n_added && !c->armed && c->evcon && reading(c)) {
		evtimer_add(c->ev, &c->cs->read_timeout);
		c->armed = true;
	}
}

static void json_error_page(struct evbuffer *out, const char *ver, int status)
{
	const char *cls, *desc, *reason;
	char body[256];

	switch (status) {
	case 400:
		cls = "InvalidParameter", reason = "Bad Request";
		desc = "malformed HTTP request";
		break;
	case 404:
		cls = "NotFound", reason = "Not Found", desc = "no such path";
		break;
	case 405:
	case 501:
		cls = "MethodNotAllowed", reason = "Method Not Allowed";
		desc = "method not supported";
		status = 405;
		break;
	case 413:
		cls = "TooLarge", reason = "Payload Too Large";
		desc = "request headers or body over the limit";
		break;
	default:
		cls = "InternalError", reason = "Error", desc = "HTTP error";
	}
	snprintf(body, sizeof(body), "{\"error\":{\"class\":\"%s\",\"desc\":\"%s\"}}\n", cls, desc);
	evbuffer_add_printf(out,
			    "%.8s %d %s\r\nContent-Type: application/json\r\nConnection: close\r\n"
			    "Content-Length: %zu\r\n\r\n%s",
			    ver, status, reason, strlen(body), body);
}

#define PAGE_START     "<HTML><HEAD>\n<TITLE>"
#define ERROR_HEAD_MAX 512 /* libevent's status line and headers for its page */

/*
 * evhttp_send_error writes the status line and headers, then the page
 * in one piece: when that piece arrives, the whole answer is still in
 * the buffer (nothing is written before the loop turns), and is replaced.
 */
static void rewrite_error_page(struct conn *c, struct evbuffer *buf, size_t start_of_added)
{
	struct evbuffer_ptr p, last;
	char head[sizeof(PAGE_START) - 1], line[16], head_text[ERROR_HEAD_MAX + 1];
	struct evbuffer *keep;
	int status;

	if (evbuffer_ptr_set(buf, &p, start_of_added, EVBUFFER_PTR_SET) ||
	    evbuffer_copyout_from(buf, &p, head, sizeof(head)) != (ev_ssize_t)sizeof(head) ||
	    memcmp(head, PAGE_START, sizeof(head)))
		return;
	/* the answer's status line: the last one before the page */
	last.pos = -1;
	for (p = evbuffer_search(buf, "HTTP/1.", 7, NULL);
	     p.pos >= 0 && (size_t)p.pos < start_of_added;) {
		last = p;
		if (evbuffer_ptr_set(buf, &p, 1, EVBUFFER_PTR_ADD))
			break;
		p = evbuffer_search(buf, "HTTP/1.", 7, &p);
	}
	/* and libevent's headers for it: nothing else here is HTML */
	if (last.pos < 0 || start_of_added - (size_t)last.pos > ERROR_HEAD_MAX ||
	    evbuffer_copyout_from(buf, &last, head_text, start_of_added - (size_t)last.pos) !=
		(ev_ssize_t)(start_of_added - (size_t)last.pos))
		return;
	head_text[start_of_added - (size_t)last.pos] = '\0';
	if (!strstr(head_text, "\r\nContent-Type: text/html\r\n"))
		return;
	memcpy(line, head_text, sizeof(line));
	line[sizeof(line) - 1] = '\0';
	status = atoi(line + 9);
	if (!(keep = evbuffer_new()))
		return;
	c->rewriting = true;
	evbuffer_remove_buffer(buf, keep, (size_t)last.pos); /* answers before this one */
	evbuffer_drain(buf, evbuffer_get_length(buf));
	json_error_page(keep, line, status);
	evbuffer_add_buffer(buf, keep);
	c->rewriting = false;
	evbuffer_free(keep);
	LOG_D(NULL, "API: libevent's %d page answered as JSON", status);
}

static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct conn *c = arg;

	if (!info->n_added || c->rewriting)
		return;
	if (c->armed) {
		evtimer_del(c->ev);
		c->armed = false;
	}
	if (info->n_added >= sizeof(PAGE_START) - 1)
		rewrite_error_page(c, buf, info->orig_size);
}

#define REFUSED_DESC "the API serves at most %u connections at a time"

static void log_refused(struct conn *c)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%zu connections open, max_connections = %u: refused",
		 c->cs->count, c->cs->max);
	vmsup_log_limited(&c->cs->lim, VMSUP_LOG_WARN, msg);
}

bool api_conn_refused(struct evhttp_request *req)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);

	for (struct conn *c = conns; c; c = c->next)
		if (c->evcon == evcon) {
			if (!c->over)
				return false;
			log_refused(c);
			evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
					  "close");
			http_send_error(req, 503, "TooManyConnections", REFUSED_DESC, c->cs->max);
			return true;
		}
	return false;
}

/*
 * A client beyond the limit that has said nothing within
 * OVER_LIMIT_WAIT_MS is told before it is closed: written straight to
 * the socket, whose buffer, empty, takes it whole.
 */
static void tell_idle_refused(struct conn *c)
{
	char head[160], body[160];
	int n;

	snprintf(body, sizeof(body),
		 "{\"error\":{\"class\":\"TooManyConnections\",\"desc\":\"" REFUSED_DESC "\"}}\n",
		 c->cs->max);
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
		     "Connection: close\r\nContent-Length: %zu\r\n\r\n",
		     strlen(body));
	if (write(bufferevent_getfd(c->bev), head, (size_t)n) == n &&
	    write(bufferevent_getfd(c->bev), body, strlen(body)) < 0) {
		/* the client went away already: nothing to tell */
	}
	log_refused(c);
}

static void on_deadline(struct conn *c)
{
	c->armed = false;
	if (c->over && !c->seen)
		tell_idle_refused(c);
	else if (!reading(c))
		return; /* the request is whole, a handler has it */
	LOG_D(NULL, "API: a request took over %ld s to arrive: connection closed",
	      (long)c->cs->read_timeout.tv_sec);
	evhttp_connection_free(c->evcon); /* on_close frees c */
}

/*
 * The loop turn after the accept: evhttp has made the connection (the
 * bufferevent's callback argument) or, failing, freed it (its callbacks
 * unset; our reference kept it, and its descriptor, until now).
 */
static void adopt(struct conn *c)
{
	bufferevent_event_cb ecb;
	void *arg;
	struct bufferevent *bev = c->bev;

	bufferevent_getcb(bev, NULL, NULL, &ecb, &arg);
	if (!ecb || !arg || evhttp_connection_get_bufferevent(arg) != bev) {
		conn_free(c);
		bufferevent_decref(bev);
		return;
	}
	c->evcon = arg;
	evhttp_connection_set_closecb(c->evcon, on_close, c);
	bufferevent_decref(bev); /* evhttp's alone again */
	if (c->over) {
		/* its request is answered 503 (api_conn_refused); if none comes
		 * soon, it is told so and closed */
		const struct timeval wait = {0, OVER_LIMIT_WAIT_MS * 1000};
		evtimer_add(c->ev, &wait);
		c->armed = true;
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd, (void)what;
	if (!c->evcon)
		adopt(c);
	else
		on_deadline(c);
}

static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
	struct api_conns *cs = arg;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	struct conn *c = bev ? calloc(1, sizeof(*c)) : NULL;

	/* without a watch the connection is served unwatched */
	if (!c || !(c->ev = evtimer_new(base, on_timer, c)))
		goto unwatched;
	c->in_cb = evbuffer_add_cb(bufferevent_get_input(bev), on_input, c);
	c->out_cb = evbuffer_add_cb(bufferevent_get_output(bev), on_output, c);
	if (!c->in_cb || !c->out_cb) {
		if (c->in_cb)
			evbuffer_remove_cb_entry(bufferevent_get_input(bev), c->in_cb);
		event_free(c->ev);
		goto unwatched;
	}
	c->cs = cs;
	c->bev = bev;
	c->over = cs->count >= cs->max;
	cs->count++;
	c->next = conns;
	conns = c;
	bufferevent_incref(bev); /* until adopted */
	event_active(c->ev, EV_TIMEOUT, 1);
	return bev;
unwatched:
	free(c);
	return bev;
}

struct api_conns *api_conns_new(struct event_base *base, struct evhttp *http,
				unsigned max_connections, unsigned read_timeout_s)
{
	struct api_conns *cs = calloc(1, sizeof(*cs));

	if (!cs)
		return NULL;
	cs->base = base;
	cs->max = max_connections ? max_connections : api_conns_auto_max();
	cs->read_timeout.tv_sec = read_timeout_s;
	cs->lim.what = "API";
	cs->lim.per_s = 1;
	evhttp_set_bevcb(http, on_new_bev, cs);
	LOG_D(NULL, "API: at most %u connections, requests whole within %u s", cs->max,
	      read_timeout_s);
	return cs;
}

void api_conns_free(struct api_conns *cs)
{
	if (!cs)
		return;
	/* evhttp_free closed the connections; any left were never adopted */
	for (struct conn *c = conns, *next; c; c = next) {
		next = c->next;
		if (c->cs == cs) {
			struct bufferevent *bev = c->bev;
			conn_free(c);
			bufferevent_decref(bev);
		}
	}
	vmsup_log_limit_flush(&cs->lim, VMSUP_LOG_WARN);
	free(cs);
}

size_t api_conns_count(const struct api_conns *cs)
{
	return cs ? cs->count : 0;
}
