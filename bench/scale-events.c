/*
 * bench/scale's event delivery (see scale-events.h). qemu stamps each
 * event with CLOCK_REALTIME as it emits it; the ops socket connection
 * that sent the command gets the same event, relayed by vmsupd, so the
 * time splits into qemu's share, vmsupd's event path and its byte relay.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "bench/scale-events.h"
#include "src/client/client.h"

static double realtime_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Where one event's time went, in ms: the command until qemu stamped the
 * event, qemu's stamp until the line came through /v1/events, and until
 * the same event came on the ops socket (relayed by vmsupd too). */
struct ev_split {
	double total, to_qemu, qemu_to_api, qemu_to_ops;
};

/* An event line on the ops socket: when it came, and qemu's stamp of it. */
struct ops_seen {
	char want[64];
	double at, stamp;
};

static void ops_line(const char *line, void *arg)
{
	struct ops_seen *os = arg;
	struct json_object *o, *ts, *v;

	if (os->at || !strstr(line, os->want))
		return;
	os->at = bl_now_ms();
	if ((o = json_tokener_parse(line)) && json_object_object_get_ex(o, "timestamp", &ts)) {
		if (json_object_object_get_ex(ts, "seconds", &v))
			os->stamp = (double)json_object_get_int64(v) * 1e3;
		if (json_object_object_get_ex(ts, "microseconds", &v))
			os->stamp += (double)json_object_get_int64(v) / 1e3;
	}
	json_object_put(o);
}

/* Writes cmd on the ops socket and reads to its reply, noting when event
 * came (monotonic ms) and qemu's own stamp of it (realtime ms). */
static int ops_call(struct bl_raw *r, const char *cmd, const char *event, double *ev_at,
		    double *ev_stamp)
{
	struct ops_seen os = {.at = 0};
	int rc;

	snprintf(os.want, sizeof(os.want), "\"event\": \"%s\"", event);
	rc = bl_raw_call_seen(r, cmd, 10000, ops_line, &os);
	*ev_at = os.at;
	*ev_stamp = os.stamp;
	return rc;
}

static int on_line(const char *line, void *arg)
{
	struct watch *w = arg;
	struct json_object *o = json_tokener_parse(line), *v;
	double now = bl_now_ms(), now_rt = realtime_ms();
	int quit;

	pthread_mutex_lock(&w->lock);
	if (o && w->want && !w->seen && json_object_object_get_ex(o, "vm", &v) &&
	    !strcmp(json_object_get_string(v), w->vm) &&
	    json_object_object_get_ex(o, "event", &v) &&
	    !strcmp(json_object_get_string(v), w->want)) {
		w->seen = now;
		w->seen_rt = now_rt;
		pthread_cond_broadcast(&w->cond);
	}
	quit = w->quit;
	pthread_mutex_unlock(&w->lock);
	json_object_put(o);
	return quit;
}

void *stream_thread(void *arg)
{
	struct watch *w = arg;
	char *err = NULL;

	if (vmsup_stream(w->sock, "/v1/events", on_line, w, &err))
		snprintf(w->err, sizeof(w->err), "%s", err ? err : "event stream failed");
	free(err);
	pthread_mutex_lock(&w->lock);
	w->ended = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Send cmd on the ops socket; ms until the stream delivered event, or -1.
 * With sp, where the time went. */
static double one_event(struct watch *w, struct bl_raw *ops, const char *cmd, const char *event,
			double timeout_ms, struct ev_split *sp)
{
	struct timespec dl;
	double t0, t0_rt, seen, seen_rt, ev_at, ev_stamp;

	pthread_mutex_lock(&w->lock);
	w->want = event;
	w->seen = 0;
	pthread_mutex_unlock(&w->lock);
	t0 = bl_now_ms();
	t0_rt = realtime_ms();
	if (ops_call(ops, cmd, event, &ev_at, &ev_stamp))
		return -1;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(timeout_ms / 1000) + 1;
	pthread_mutex_lock(&w->lock);
	while (!w->seen && !w->ended)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &dl))
			break;
	seen = w->seen;
	seen_rt = w->seen_rt;
	w->want = NULL;
	pthread_mutex_unlock(&w->lock);
	if (sp && seen && ev_at && ev_stamp) {
		sp->total = seen - t0;
		sp->to_qemu = ev_stamp - t0_rt;
		sp->qemu_to_api = seen_rt - ev_stamp;
		sp->qemu_to_ops = (ev_at - t0) - sp->to_qemu;
	} else if (sp) {
		sp->total = sp->to_qemu = sp->qemu_to_api = sp->qemu_to_ops = -1;
	}
	return seen ? seen - t0 : -1;
}

int event_latency(struct watch *w, const char *ops_sock, int rounds, struct bl_stats st[EV_SPLITS],
		  char **err)
{
	struct bl_raw ops = {.fd = -1};
	double *v = calloc((size_t)rounds * 2 * EV_SPLITS, sizeof(double));
	int ret = -1, n = 0;

	if (!v || bl_raw_open(&ops, ops_sock, 10000)) {
		if (asprintf(err, "cannot open the ops socket %s", ops_sock) < 0)
			*err = NULL;
		goto out;
	}
	for (int i = 0; i < rounds * 2; i++) {
		struct ev_split sp;
		int stop = i % 2 == 0;

		if (one_event(w, &ops,
			      stop ? "{\"execute\":\"stop\"}\n" : "{\"execute\":\"cont\"}\n",
			      stop ? "STOP" : "RESUME", 5000, &sp) < 0 ||
		    sp.total < 0) {
			if (asprintf(err, "event %s not delivered within 5 s%s%s",
				     stop ? "STOP" : "RESUME", w->err[0] ? ": " : "", w->err) < 0)
				*err = NULL;
			goto out;
		}
		v[n] = sp.total;
		v[rounds * 2 + n] = sp.to_qemu;
		v[rounds * 4 + n] = sp.qemu_to_api;
		v[rounds * 6 + n] = sp.qemu_to_ops;
		n++;
	}
	for (int k = 0; k < EV_SPLITS; k++)
		bl_stats(v + (size_t)k * rounds * 2, n, &st[k]);
	ret = 0;
out:
	bl_raw_close(&ops);
	free(v);
	return ret;
}

int prime_stream(struct watch *w, const char *ops_sock, char **err)
{
	struct bl_raw ops = {.fd = -1};
	int ret = -1;

	if (bl_raw_open(&ops, ops_sock, 10000)) {
		if (asprintf(err, "cannot open the ops socket %s", ops_sock) < 0)
			*err = NULL;
		return -1;
	}
	for (int i = 0; i < 40 && ret; i++) {
		if (one_event(w, &ops, "{\"execute\":\"stop\"}\n", "STOP", 250, NULL) >= 0)
			ret = 0;
		bl_raw_call(&ops, "{\"execute\":\"cont\"}\n", 10000);
	}
	if (ret && asprintf(err, "no event ever came through /v1/events%s%s", w->err[0] ? ": " : "",
			    w->err) < 0)
		*err = NULL;
	bl_raw_close(&ops);
	return ret;
}
