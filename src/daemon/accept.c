/*
 * With no descriptor left (EMFILE, ENFILE), accept() fails at once and the
 * connection stays in the backlog: libevent's listener, still readable,
 * retries on every turn of the loop (some 30,000 times a second, one core
 * busy) and warns each time. Instead, pause the listener for
 * ACCEPT_PAUSE_MS and say so, at most ten times a second; the clients wait
 * in the backlog and are served once descriptors come back.
 */
#include "src/daemon/accept.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/listener.h>
#include <event2/util.h>

#include "src/util/log.h"

struct accept_guard {
	struct evconnlistener *lev;
	struct event *resume;
	struct vmsup_log_limit lim;
	struct accept_guard *next;
};

/* libevent hands the error callback the listener's own (evhttp's) pointer:
 * find the guard by its listener (one per API socket). */
static struct accept_guard *guards;

static struct accept_guard *guard_of(struct evconnlistener *lev)
{
	for (struct accept_guard *g = guards; g; g = g->next)
		if (g->lev == lev)
			return g;
	return NULL;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct accept_guard *g = arg;

	(void)fd, (void)what;
	evconnlistener_enable(g->lev);
}

static void on_accept_error(struct evconnlistener *lev, void *ctx)
{
	struct accept_guard *g = guard_of(lev);
	struct timeval tv = {0, ACCEPT_PAUSE_MS * 1000};
	int e = EVUTIL_SOCKET_ERROR();
	char msg[256];

	(void)ctx;
	if (!g)
		return;
	snprintf(msg, sizeof(msg), "%s; new connections wait %d ms in the backlog", strerror(e),
		 ACCEPT_PAUSE_MS);
	vmsup_log_limited(&g->lim, VMSUP_LOG_WARN, msg);
	evconnlistener_disable(lev);
	evtimer_add(g->resume, &tv);
}

struct accept_guard *accept_guard_new(struct event_base *base, struct evhttp_bound_socket *bound)
{
	struct accept_guard *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->lev = evhttp_bound_socket_get_listener(bound);
	g->resume = evtimer_new(base, on_resume, g);
	if (!g->lev || !g->resume) {
		if (g->resume)
			event_free(g->resume);
		free(g);
		return NULL;
	}
	g->lim.what = "API: accept";
	g->lim.per_s = 10;
	g->next = guards;
	guards = g;
	evconnlistener_set_error_cb(g->lev, on_accept_error);
	return g;
}

void accept_guard_free(struct accept_guard *g)
{
	if (!g)
		return;
	for (struct accept_guard **pp = &guards; *pp; pp = &(*pp)->next)
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	evconnlistener_set_error_cb(g->lev, NULL);
	event_free(g->resume);
	vmsup_log_limit_flush(&g->lim, VMSUP_LOG_WARN);
	free(g);
}
