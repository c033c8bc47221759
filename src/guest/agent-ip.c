#include "src/guest/agent-internal.h"

#include <stdlib.h>

#define IDLE_REQUERY_MAX_MS    2000u
#define IDLE_REQUERY_BUDGET_MS 120000u

/* ---- waiters ---- */

static void waiter_free(struct waiter *w)
{
	struct waiter **pp;

	for (pp = &w->a->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	if (w->ev)
		event_free(w->ev);
	json_object_put(w->res);
	free(w);
}

void agent_waiter_deliver(struct waiter *w)
{
	agent_ip_fn cb = w->cb;
	void *arg = w->arg;
	struct json_object *res = json_object_get(w->res);
	struct qmp_error e = w->err;
	int has_err = w->has_err;

	waiter_free(w);
	cb(has_err ? NULL : res, has_err ? &e : NULL, arg);
	json_object_put(res);
}

void agent_waiter_settle(struct waiter *w, struct json_object *res, const struct qmp_error *err)
{
	w->has_result = 1;
	if (err) {
		w->err = *err;
		w->has_err = 1;
	} else {
		w->res = json_object_get(res);
	}
	agent_after_ms(w->ev, 0);
}

static int has_address(struct json_object *ip)
{
	struct json_object *v;

	return ip && json_object_object_get_ex(ip, "ip", &v) && v;
}

/*
 * The guest answered before it had an address (its agent starts before
 * its DHCP lease, as systemd guests on a bridge do) and no one waits: ask
 * again, backing off from the 50 ms poll to IDLE_REQUERY_MAX_MS, so the
 * status and the events show the address once it comes, for up to
 * IDLE_REQUERY_BUDGET_MS (a guest with no IPv4 at all is not asked forever).
 */
static void requery_idle(struct agent *a)
{
	if (a->idle_requery_spent_ms >= IDLE_REQUERY_BUDGET_MS)
		return;
	a->idle_requery_ms = a->idle_requery_ms ? a->idle_requery_ms * 2 : a->retry_ms;
	if (a->idle_requery_ms > IDLE_REQUERY_MAX_MS)
		a->idle_requery_ms = IDLE_REQUERY_MAX_MS;
	a->idle_requery_spent_ms += a->idle_requery_ms;
	agent_after_ms(a->requery_ev, a->idle_requery_ms);
}

void agent_idle_requery_reset(struct agent *a)
{
	a->idle_requery_ms = 0;
	a->idle_requery_spent_ms = 0;
}

void agent_serve_waiters(struct agent *a, int final)
{
	struct waiter *w;
	int pending = 0;

	for (w = a->waiters; w; w = w->next) {
		if (w->has_result)
			continue;
		if (has_address(a->ip) || w->immediate || (final && a->ip))
			agent_waiter_settle(w, a->ip, NULL);
		else
			pending = 1;
	}
	/* No event tells us when DHCP finishes: ask again, at most every 50 ms. */
	if (pending && a->st == AGENT_READY)
		agent_after_ms(a->requery_ev, a->retry_ms);
	else if (a->st == AGENT_READY && a->ip && !has_address(a->ip))
		requery_idle(a);
}

static void waiter_cb(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;
	struct qmp_error e;

	if (!w->has_result) {
		if (w->a->st != AGENT_READY)
			qmp_error_set(&e, AGENT_ERR_NOT_READY, "agent not ready after %u ms",
				      w->wait_ms);
		else if (!w->a->ip)
			qmp_error_set(&e, QMP_ERR_TIMEOUT,
				      "guest agent did not report interfaces within %u ms",
				      w->wait_ms);
		if (w->a->st == AGENT_READY && w->a->ip)
			agent_waiter_settle(w, w->a->ip, NULL);
		else
			agent_waiter_settle(w, NULL, &e);
	}
	agent_waiter_deliver(w);
}

int agent_get_ip(struct agent *a, unsigned wait_ms, agent_ip_fn cb, void *arg)
{
	struct waiter *w;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -1;
	w->a = a;
	w->cb = cb;
	w->arg = arg;
	w->wait_ms = wait_ms;
	w->ev = evtimer_new(a->base, waiter_cb, w);
	if (!w->ev) {
		free(w);
		return -1;
	}
	w->next = a->waiters;
	a->waiters = w;

	if (a->st == AGENT_READY && has_address(a->ip)) {
		agent_waiter_settle(w, a->ip, NULL);
	} else if (wait_ms == 0) {
		if (a->st != AGENT_READY) {
			struct qmp_error e;
			qmp_error_set(&e, AGENT_ERR_NOT_READY, "agent not ready");
			agent_waiter_settle(w, NULL, &e);
		} else {
			w->immediate = 1;
			w->wait_ms = a->cmd_timeout_ms;
			agent_after_ms(w->ev, w->wait_ms);
			agent_start_ifq(a);
		}
	} else {
		agent_after_ms(w->ev, wait_ms);
		if (a->st == AGENT_READY)
			agent_start_ifq(a);
		else if (a->st == AGENT_ABSENT && !a->port_open)
			agent_probe(a, wait_ms);
	}
	return 0;
}

void agent_invalidate(struct agent *a)
{
	agent_idle_requery_reset(a);
	agent_set_ip(a, NULL);
	agent_start_ifq(a);
}
