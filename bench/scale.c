/*
 * bench/scale: N guest-less VMs (64 MiB each) on one vmsupd.
 *   - total time to create them (8 API clients in parallel), per-create p99
 *   - vmsupd RSS growth per VM (VmRSS with N live vs with 1 live)
 *   - API QMP round trip (query-status) p99 with N live vs with 1 live
 *   - event delivery: stop/cont on a VM's ops socket until /v1/events
 *     shows the STOP/RESUME event, with 1 and with N live
 *   - vmsupd CPU time and context switches over an idle window with N live
 * Without KVM the other VMs are paused once created, so N TCG vCPUs do not
 * load the host; the measured VM stays running. N is scaled down (with a
 * note) when MemAvailable cannot hold N x (64 MiB + qemu overhead).
 *
 *   bench/scale [--quick] [-n VMS]     (default 100, --quick 10)
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench/benchlib.h"
#include "src/client/client.h"

#define VM_MIB	     64
#define OVERHEAD_MIB 128  /* qemu's own memory per guest-less VM, generous for TCG */
#define RESERVE_MIB  2048 /* left for the rest of the machine */
#define PARALLEL     8
#define PROBE_VM     "s0"

static struct bl_daemon d;

/* ---- parallel create / pause / destroy -------------------------------- */

enum job { JOB_CREATE, JOB_PAUSE, JOB_DESTROY };

struct pool {
	enum job job;
	int first, n;
	atomic_int next;
	atomic_int failed;
	double *lat; /* per VM, ms */
	char err[512];
	pthread_mutex_t lock;
};

static void *worker(void *arg)
{
	struct pool *p = arg;
	int i;

	while ((i = atomic_fetch_add(&p->next, 1)) < p->n && !atomic_load(&p->failed)) {
		char name[32], path[64], *err = NULL;
		double t0 = bl_now_ms();
		int r;

		snprintf(name, sizeof(name), "s%d", p->first + i);
		if (p->job == JOB_CREATE) {
			r = bl_create_guestless(d.sock, name, VM_MIB, NULL, NULL, 0, NULL, 0, &err);
		} else if (p->job == JOB_PAUSE) {
			struct json_object *rep = NULL;
			long st = 0;

			snprintf(path, sizeof(path), "/v1/vms/%s/pause", name);
			r = bl_api(d.sock, "POST", path, NULL, &st, &rep, &err);
			if (!r && st != 200) {
				r = -1;
				if (asprintf(&err, "pause %s: HTTP %ld: %s", name, st,
					     vmsup_error_desc(rep, st)) < 0)
					err = NULL;
			}
			json_object_put(rep);
		} else {
			r = bl_destroy(d.sock, name, &err);
		}
		p->lat[i] = bl_now_ms() - t0;
		if (r) {
			pthread_mutex_lock(&p->lock);
			if (!atomic_exchange(&p->failed, 1))
				snprintf(p->err, sizeof(p->err), "%s", err ? err : "failed");
			pthread_mutex_unlock(&p->lock);
		}
		free(err);
	}
	return NULL;
}

/* Runs job on VMs s<first> .. s<first+n-1>; wall time in ms, -1 on failure. */
static double run_pool(enum job job, int first, int n, double *lat, char **err)
{
	struct pool p = {.job = job, .first = first, .n = n, .lat = lat};
	pthread_t t[PARALLEL];
	int nt = n < PARALLEL ? n : PARALLEL, started = 0;
	double t0 = bl_now_ms();

	pthread_mutex_init(&p.lock, NULL);
	for (int i = 0; i < nt; i++)
		if (pthread_create(&t[i], NULL, worker, &p) == 0)
			started++;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&p.lock);
	if (!started || atomic_load(&p.failed)) {
		*err = strdup(started ? p.err : "cannot start threads");
		return -1;
	}
	return bl_now_ms() - t0;
}

/* ---- API round trip --------------------------------------------------- */

static int api_rtt(int calls, struct bl_stats *st, char **err)
{
	struct json_object *cmd = json_tokener_parse("{\"execute\":\"query-status\"}");
	double *v = calloc((size_t)calls, sizeof(double));
	int ret = -1;

	if (!cmd || !v) {
		*err = strdup("out of memory");
		goto out;
	}
	for (int i = -50; i < calls; i++) { /* 50 warm-up calls */
		struct json_object *r = NULL;
		long s = 0;
		double t0 = bl_now_ms();

		if (vmsup_request(d.sock, "POST", "/v1/vms/" PROBE_VM "/qmp", cmd, 10000, &s, &r,
				  err) ||
		    s != 200) {
			if (!*err && asprintf(err, "qmp passthrough: HTTP %ld: %s", s,
					      vmsup_error_desc(r, s)) < 0)
				*err = NULL;
			json_object_put(r);
			goto out;
		}
		json_object_put(r);
		if (i >= 0)
			v[i] = (bl_now_ms() - t0) * 1e3;
	}
	bl_stats(v, calls, st);
	ret = 0;
out:
	json_object_put(cmd);
	free(v);
	return ret;
}

/* ---- event delivery --------------------------------------------------- */

struct watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *want; /* QMP event name awaited for PROBE_VM, NULL = none */
	double seen;	  /* when it arrived, 0 = not yet */
	int quit;
	int ended;
	char err[256];
};

static int on_line(const char *line, void *arg)
{
	struct watch *w = arg;
	struct json_object *o = json_tokener_parse(line), *v;
	double now = bl_now_ms();
	int quit;

	pthread_mutex_lock(&w->lock);
	if (o && w->want && !w->seen && json_object_object_get_ex(o, "vm", &v) &&
	    !strcmp(json_object_get_string(v), PROBE_VM) &&
	    json_object_object_get_ex(o, "event", &v) &&
	    !strcmp(json_object_get_string(v), w->want)) {
		w->seen = now;
		pthread_cond_broadcast(&w->cond);
	}
	quit = w->quit;
	pthread_mutex_unlock(&w->lock);
	json_object_put(o);
	return quit;
}

static void *stream_thread(void *arg)
{
	struct watch *w = arg;
	char *err = NULL;

	if (vmsup_stream(d.sock, "/v1/events", on_line, w, &err))
		snprintf(w->err, sizeof(w->err), "%s", err ? err : "event stream failed");
	free(err);
	pthread_mutex_lock(&w->lock);
	w->ended = 1;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Send cmd on the ops socket; ms until the stream delivered event, or -1. */
static double one_event(struct watch *w, struct bl_raw *ops, const char *cmd, const char *event,
			double timeout_ms)
{
	struct timespec dl;
	double t0, seen;

	pthread_mutex_lock(&w->lock);
	w->want = event;
	w->seen = 0;
	pthread_mutex_unlock(&w->lock);
	t0 = bl_now_ms();
	if (bl_raw_call(ops, cmd, 10000))
		return -1;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += (time_t)(timeout_ms / 1000) + 1;
	pthread_mutex_lock(&w->lock);
	while (!w->seen && !w->ended)
		if (pthread_cond_timedwait(&w->cond, &w->lock, &dl))
			break;
	seen = w->seen;
	w->want = NULL;
	pthread_mutex_unlock(&w->lock);
	return seen ? seen - t0 : -1;
}

static int event_latency(struct watch *w, const char *ops_sock, int rounds, struct bl_stats *st,
			 char **err)
{
	struct bl_raw ops = {.fd = -1};
	double *v = calloc((size_t)rounds * 2, sizeof(double));
	int ret = -1, n = 0;

	if (!v || bl_raw_open(&ops, ops_sock, 10000)) {
		if (asprintf(err, "cannot open the ops socket %s", ops_sock) < 0)
			*err = NULL;
		goto out;
	}
	for (int i = 0; i < rounds; i++) {
		double a = one_event(w, &ops, "{\"execute\":\"stop\"}\n", "STOP", 5000);
		double b = one_event(w, &ops, "{\"execute\":\"cont\"}\n", "RESUME", 5000);

		if (a < 0 || b < 0) {
			if (asprintf(err, "event %s not delivered within 5 s%s%s",
				     a < 0 ? "STOP" : "RESUME", w->err[0] ? ": " : "", w->err) < 0)
				*err = NULL;
			goto out;
		}
		v[n++] = a;
		v[n++] = b;
	}
	bl_stats(v, n, st);
	ret = 0;
out:
	bl_raw_close(&ops);
	free(v);
	return ret;
}

/* The stream is subscribed once an event of ours comes through it. */
static int prime_stream(struct watch *w, const char *ops_sock, char **err)
{
	struct bl_raw ops = {.fd = -1};
	int ret = -1;

	if (bl_raw_open(&ops, ops_sock, 10000)) {
		if (asprintf(err, "cannot open the ops socket %s", ops_sock) < 0)
			*err = NULL;
		return -1;
	}
	for (int i = 0; i < 40 && ret; i++) {
		if (one_event(w, &ops, "{\"execute\":\"stop\"}\n", "STOP", 250) >= 0)
			ret = 0;
		bl_raw_call(&ops, "{\"execute\":\"cont\"}\n", 10000);
	}
	if (ret && asprintf(err, "no event ever came through /v1/events%s%s", w->err[0] ? ": " : "",
			    w->err) < 0)
		*err = NULL;
	bl_raw_close(&ops);
	return ret;
}

/* ---- main ------------------------------------------------------------- */

static long qemu_rss_total_kib(int n)
{
	long total = 0;

	for (int i = 0; i < n; i++) {
		char path[512], buf[32];
		FILE *f;

		snprintf(path, sizeof(path), "%s/vm/s%d/qemu.pid", d.run, i);
		if (!(f = fopen(path, "re")))
			continue;
		if (fgets(buf, sizeof(buf), f)) {
			long r = bl_rss_kib((pid_t)atoi(buf));

			total += r > 0 ? r : 0;
		}
		fclose(f);
	}
	return total;
}

int main(int argc, char **argv)
{
	struct bl_opts o;
	struct bl_stats rtt1, rttn, ev1, evn, cr;
	struct watch w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	pthread_t st;
	int stream_started = 0, want, nvm, created = 0, rc = 1, calls, rounds, a;
	long avail, rss0, rss1, rssn, ctx0, ctx1, qrss;
	double *lat = NULL, t_create, t_pause, t_destroy = -1, idle_ms, cpu0, cpu1, w0, w1;
	char *err = NULL, accel[32] = "", ops[256], la0[64], la1[64], note[512], s1[128], s2[128];

	if ((a = bl_parse_opts(argc, argv, "scale [--quick] [-n VMS]", &o)) < 0)
		return a == -2 ? 0 : 2;
	want = o.n ? o.n : o.quick ? 10 : 100;
	calls = o.quick ? 200 : 1000;
	rounds = o.quick ? 5 : 20;
	idle_ms = o.quick ? 3000 : 10000;
	nvm = want;
	avail = bl_mem_available_mib();
	if (avail > 0 && (avail - RESERVE_MIB) / (VM_MIB + OVERHEAD_MIB) < want) {
		long fit = (avail - RESERVE_MIB) / (VM_MIB + OVERHEAD_MIB);

		nvm = fit < 2 ? 2 : (int)fit;
		snprintf(
		    note, sizeof(note),
		    "scaled down from %d to %d VMs: MemAvailable %ld MiB holds %ld x (%d + %d) "
		    "MiB with %d MiB kept free",
		    want, nvm, avail, fit, VM_MIB, OVERHEAD_MIB, RESERVE_MIB);
		fprintf(stderr, "scale: NOTE: %s\n", note);
		bl_info("scale.note", note);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	bl_cleanup_install(&d);
	bl_loadavg(la0, sizeof(la0));
	if (!(lat = calloc((size_t)nvm, sizeof(double))))
		goto out;
	if (bl_daemon_start(&d, NULL, &err))
		goto out;
	rss0 = bl_rss_kib(d.pid);

	/* one VM live */
	if (bl_create_guestless(d.sock, PROBE_VM, VM_MIB, NULL, accel, sizeof(accel), ops,
				sizeof(ops), &err))
		goto out;
	created = 1;
	if (pthread_create(&st, NULL, stream_thread, &w) == 0)
		stream_started = 1;
	if (!stream_started || prime_stream(&w, ops, &err))
		goto out;
	fprintf(stderr, "scale: 1 VM: API round trips\n");
	if (api_rtt(calls, &rtt1, &err) || event_latency(&w, ops, rounds, &ev1, &err))
		goto out;
	rss1 = bl_rss_kib(d.pid);

	/* N live */
	fprintf(stderr, "scale: creating %d more VMs, %d at a time\n", nvm - 1, PARALLEL);
	t_create = run_pool(JOB_CREATE, 1, nvm - 1, lat, &err);
	created = nvm; /* the teardown is by name; missing ones are skipped */
	if (t_create < 0)
		goto out;
	bl_stats(lat, nvm - 1, &cr);
	t_pause = run_pool(JOB_PAUSE, 1, nvm - 1, lat, &err);
	if (t_pause < 0)
		goto out;
	rssn = bl_rss_kib(d.pid);
	qrss = qemu_rss_total_kib(nvm);
	fprintf(stderr, "scale: %d VMs: API round trips\n", nvm);
	if (api_rtt(calls, &rttn, &err) || event_latency(&w, ops, rounds, &evn, &err))
		goto out;
	fprintf(stderr, "scale: %d VMs: %.0f s idle\n", nvm, idle_ms / 1e3);
	cpu0 = bl_cpu_ms(d.pid);
	ctx0 = bl_ctxt_switches(d.pid);
	w0 = bl_now_ms();
	bl_sleep_ms(idle_ms);
	cpu1 = bl_cpu_ms(d.pid);
	ctx1 = bl_ctxt_switches(d.pid);
	w1 = bl_now_ms();

	if (cpu0 < 0 || cpu1 < 0 || ctx0 < 0 || ctx1 < 0) {
		err = strdup("cannot read vmsupd's /proc/PID/stat or status");
		goto out;
	}
	fprintf(stderr, "scale: idle: vmsupd CPU %.0f -> %.0f ms, context switches %ld -> %ld\n",
		cpu0, cpu1, ctx0, ctx1);
	fprintf(stderr, "scale: destroying %d VMs\n", nvm);
	t_destroy = run_pool(JOB_DESTROY, 0, nvm, lat, &err);
	if (t_destroy < 0)
		goto out;
	created = 0;
	bl_loadavg(la1, sizeof(la1));

	bl_info("accel", accel);
	snprintf(note, sizeof(note), "load %s -> %s", la0, la1);
	bl_info("scale.load", note);
	snprintf(note, sizeof(note), "%d", nvm);
	bl_info("scale.vms", note);
	snprintf(note, sizeof(note), "%d in parallel; per create %s ms; pausing them: %.0f ms",
		 PARALLEL, bl_spread(&cr, s1, sizeof(s1)), t_pause);
	bl_result("scale", "create N-1 guest-less VMs, total", t_create / 1e3, "s", -1, NULL, note);
	bl_result("scale", "create, per VM p99", cr.p99, "ms", -1, NULL, NULL);
	snprintf(note, sizeof(note), "vmsupd VmRSS %ld KiB idle, %ld with 1 VM, %ld with %d VMs",
		 rss0, rss1, rssn, nvm);
	bl_result("scale", "vmsupd RSS growth per VM", (double)(rssn - rss1) / (nvm - 1), "KiB", -1,
		  "<= 64 KiB", note);
	snprintf(note, sizeof(note), "qemu VmRSS %.1f MiB per VM (mean of %d)",
		 (double)qrss / 1024 / nvm, nvm);
	bl_info("scale.qemu_rss", note);
	snprintf(note, sizeof(note), "spread in us, with N: %s; with 1: %s",
		 bl_spread(&rttn, s1, sizeof(s1)), bl_spread(&rtt1, s2, sizeof(s2)));
	bl_result("scale", "API query-status p99, N live (baseline: 1 live)", rttn.p99, "us",
		  rtt1.p99, "<= 2x", note);
	bl_result("scale", "API query-status median, N live (baseline: 1 live)", rttn.median, "us",
		  rtt1.median, NULL, NULL);
	snprintf(note, sizeof(note),
		 "stop/cont on the ops socket -> line on /v1/events; spread in ms, with N: %s; "
		 "with 1: %s",
		 bl_spread(&evn, s1, sizeof(s1)), bl_spread(&ev1, s2, sizeof(s2)));
	bl_result("scale", "event delivery p99, N live (baseline: 1 live)", evn.p99, "ms", ev1.p99,
		  "<= 10 ms", note);
	bl_result("scale", "event delivery median, N live (baseline: 1 live)", evn.median, "ms",
		  ev1.median, NULL, NULL);
	snprintf(note, sizeof(note), "%.0f ms CPU in %.1f s; %.1f context switches/s", cpu1 - cpu0,
		 (w1 - w0) / 1e3, (double)(ctx1 - ctx0) * 1e3 / (w1 - w0));
	bl_result("scale", "vmsupd CPU idle with N VMs", (cpu1 - cpu0) / (w1 - w0) * 100,
		  "% of a core", -1, "~0", note);
	bl_result("scale", "destroy all N VMs, total", t_destroy / 1e3, "s", -1, NULL, NULL);
	rc = 0;
out:
	if (err)
		fprintf(stderr, "scale: %s\n", err);
	free(err);
	err = NULL;
	if (created) {
		/* best effort: the daemon's own shutdown and the pidfiles catch the rest */
		run_pool(JOB_DESTROY, 0, created, lat, &err);
		free(err);
	}
	pthread_mutex_lock(&w.lock);
	w.quit = 1;
	pthread_mutex_unlock(&w.lock);
	bl_daemon_stop(&d); /* ends the event stream */
	if (stream_started)
		pthread_join(st, NULL);
	free(lat);
	curl_global_cleanup();
	return rc;
}
