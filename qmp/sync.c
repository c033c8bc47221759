/*
 * Synchronous layer: a private event loop per connection, run only while
 * the caller waits for one reply or one event. For tools and tests.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "qmp/qmp.h"

/* Bound on events kept between waits, so a client that never waits for
 * events does not grow without limit; the oldest are dropped. */
#define SYNC_MAX_EVENTS 4096

struct sync_event {
	char *name;
	struct json_object *data;
};

struct qmp_sync {
	struct event_base *base;
	struct qmp_session *s;
	struct sync_event *evs;
	size_t nevs;
	int closed;
	struct qmp_error close_err;
};

struct waiter {
	int done;
	int failed;
	struct json_object *ret;
	struct qmp_error err;
};

static void on_event(struct qmp_session *s, const char *name, struct json_object *data, int64_t sec,
		     int64_t usec, void *arg)
{
	struct qmp_sync *c = arg;
	struct sync_event *n;

	if (c->nevs == SYNC_MAX_EVENTS) {
		free(c->evs[0].name);
		json_object_put(c->evs[0].data);
		memmove(c->evs, c->evs + 1, (c->nevs - 1) * sizeof(*c->evs));
		c->nevs--;
	}
	n = realloc(c->evs, (c->nevs + 1) * sizeof(*n));
	if (!n)
		return;
	c->evs = n;
	c->evs[c->nevs].name = strdup(name ? name : "");
	c->evs[c->nevs].data = json_object_get(data);
	c->nevs++;
}

static void on_close(struct qmp_session *s, const struct qmp_error *why, void *arg)
{
	struct qmp_sync *c = arg;

	c->closed = 1;
	c->close_err = *why;
}

static void on_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct waiter *w = arg;

	w->done = 1;
	if (err) {
		w->failed = 1;
		w->err = *err;
	}
}

static void on_reply(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	struct waiter *w = arg;

	w->done = 1;
	if (err) {
		w->failed = 1;
		w->err = *err;
	} else {
		w->ret = json_object_get(ret);
	}
}

/* Run the loop until *done; the session's own timers bound the wait. */
static int run(struct qmp_sync *c, const int *done, struct qmp_error *err)
{
	while (!*done) {
		if (event_base_loop(c->base, EVLOOP_ONCE) != 0) {
			qmp_error_set(err, QMP_ERR_DISCONNECTED,
				      "event loop has nothing to wait for");
			return -1;
		}
	}
	return 0;
}

void qmp_sync_close(struct qmp_sync *c)
{
	if (!c)
		return;
	qmp_session_free(c->s);
	for (size_t i = 0; i < c->nevs; i++) {
		free(c->evs[i].name);
		json_object_put(c->evs[i].data);
	}
	free(c->evs);
	if (c->base)
		event_base_free(c->base);
	free(c);
}

struct qmp_sync *qmp_sync_open(const char *path, enum qmp_kind kind, unsigned timeout_ms,
			       struct qmp_error *err)
{
	struct qmp_options opt = {.default_timeout_ms = timeout_ms};
	struct waiter w = {0};
	struct qmp_sync *c = calloc(1, sizeof(*c));

	if (!c) {
		qmp_error_set(err, QMP_ERR_CONNECT, "out of memory");
		return NULL;
	}
	c->base = event_base_new();
	if (c->base)
		c->s = qmp_session_new(c->base, kind, &opt);
	if (!c->s) {
		qmp_error_set(err, QMP_ERR_CONNECT, "cannot create session");
		goto fail;
	}
	if (kind == QMP_KIND_QMP && qmp_subscribe(c->s, on_event, c) < 0) {
		qmp_error_set(err, QMP_ERR_CONNECT, "cannot subscribe to events");
		goto fail;
	}
	qmp_on_close(c->s, on_close, c);
	if (qmp_connect(c->s, path, on_ready, &w, err) < 0)
		goto fail;
	if (run(c, &w.done, err) < 0)
		goto fail;
	if (w.failed) {
		if (err)
			*err = w.err;
		goto fail;
	}
	return c;
fail:
	qmp_sync_close(c);
	return NULL;
}

int qmp_sync_call(struct qmp_sync *c, const char *cmd, struct json_object *args,
		  unsigned timeout_ms, struct json_object **ret, struct qmp_error *err)
{
	struct waiter w = {0};

	if (ret)
		*ret = NULL;
	if (!c) {
		json_object_put(args);
		qmp_error_set(err, QMP_ERR_DISCONNECTED, "no connection");
		return -1;
	}
	if (qmp_call(c->s, cmd, args, timeout_ms, on_reply, &w, err) < 0)
		return -1;
	if (run(c, &w.done, err) < 0)
		return -1;
	if (w.failed) {
		if (err)
			*err = w.err;
		return -1;
	}
	if (ret)
		*ret = w.ret;
	else
		json_object_put(w.ret);
	return 0;
}

static int take_event(struct qmp_sync *c, const char *name, struct json_object **data)
{
	for (size_t i = 0; i < c->nevs; i++) {
		if (strcmp(c->evs[i].name, name))
			continue;
		if (data)
			*data = c->evs[i].data;
		else
			json_object_put(c->evs[i].data);
		free(c->evs[i].name);
		memmove(c->evs + i, c->evs + i + 1, (c->nevs - i - 1) * sizeof(*c->evs));
		c->nevs--;
		return 1;
	}
	return 0;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

int qmp_sync_wait_event(struct qmp_sync *c, const char *name, unsigned timeout_ms,
			struct json_object **data, struct qmp_error *err)
{
	int expired = 0, rc = -1;
	struct event *timer;
	struct timeval tv;

	if (data)
		*data = NULL;
	if (!c || !name) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "no connection or event name");
		return -1;
	}
	if (take_event(c, name, data))
		return 0;
	timer = evtimer_new(c->base, on_deadline, &expired);
	if (!timer) {
		qmp_error_set(err, QMP_ERR_PROTOCOL, "cannot create timer");
		return -1;
	}
	timeout_ms = timeout_ms ? timeout_ms : QMP_DEFAULT_TIMEOUT_MS;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(timer, &tv);
	for (;;) {
		if (take_event(c, name, data)) {
			rc = 0;
			break;
		}
		/* Closed also counts when the caller took qmp_on_close over. */
		if (c->closed || !qmp_is_ready(c->s)) {
			if (c->closed)
				qmp_error_set(err, c->close_err.cls, "waiting for %s: %s", name,
					      c->close_err.desc);
			else
				qmp_error_set(err, QMP_ERR_DISCONNECTED,
					      "waiting for %s: connection closed", name);
			break;
		}
		if (expired) {
			qmp_error_set(err, QMP_ERR_TIMEOUT, "no %s event within %u ms", name,
				      timeout_ms);
			break;
		}
		if (event_base_loop(c->base, EVLOOP_ONCE) != 0) {
			qmp_error_set(err, QMP_ERR_DISCONNECTED,
				      "event loop has nothing to wait for");
			break;
		}
	}
	event_free(timer);
	return rc;
}

struct qmp_session *qmp_sync_session(struct qmp_sync *c)
{
	return c ? c->s : NULL;
}
