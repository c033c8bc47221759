/*
 * bench/scale: N guest-less VMs (64 MiB each) on one vmsupd.
 *   - total time to create them (8 API clients in parallel), per-create p99
 *   - vmsupd RSS growth per VM (VmRSS with N live vs with 1 live)
 *   - API QMP round trip (query-status), GET /v1/vms and GET /v1/vms/NAME
 *     p99 with N live vs with 1 live
 *   - event delivery: stop/cont on a VM's ops socket until /v1/events
 *     shows the STOP/RESUME event, with 1 and with N live
 *   - vmsupd CPU time and context switches over an idle window with N live
 * Without KVM the other VMs are paused once created, so N TCG vCPUs do not
 * load the host; the measured VM stays running. N is scaled down (with a
 * note) when MemAvailable cannot hold N x (64 MiB + qemu overhead).
 *
 *   bench/scale [--quick] [-n VMS] [-m MIB]   (default 100 VMs of 64 MiB, --quick 10)
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "bench/benchlib.h"
#include "bench/rawspawn.h"
#include "bench/scale-events.h"
#include "src/client/client.h"

#define VM_MIB	     64	  /* -m: the guest memory of each VM */
#define OVERHEAD_MIB 48	  /* qemu's own per guest-less VM (measured: 38-48 MiB VmRSS with 64 MiB) */
#define RESERVE_MIB  2048 /* left for the rest of the machine */
#define PARALLEL     8
#define CHUNK	     25 /* VMs created per turn, API and bare spawns alternating */
#define PROBE_VM     "s0"

static struct bl_daemon d;
static int vm_mib = VM_MIB;
static struct rs_tmpl tmpl; /* the argv vmsupd ran PROBE_VM with: the bare spawns' */

/* ---- parallel create / pause / destroy -------------------------------- */

enum job { JOB_CREATE, JOB_PAUSE, JOB_DESTROY, JOB_BARE };

struct pool {
	enum job job;
	int first, n;
	atomic_int next;
	atomic_int failed;
	double *lat; /* per VM, ms */
	pid_t *pids; /* JOB_BARE: the qemus left running */
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
			r = bl_create_guestless(d.sock, name, vm_mib, NULL, NULL, 0, NULL, 0, &err);
		} else if (p->job == JOB_BARE) {
			char dir[300];

			snprintf(name, sizeof(name), "b%d", p->first + i);
			snprintf(dir, sizeof(dir), "%s/raw/%s", d.dir, name);
			r = rs_launch(&tmpl, dir, name, 1, &p->pids[i]) < 0 ? -1 : 0;
			if (r)
				err = strdup("a bare spawn did not reach running (BENCH_KEEP=1 "
					     "keeps its qemu.log)");
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
static double run_pool(enum job job, int first, int n, double *lat, pid_t *pids, char **err)
{
	struct pool p = {.job = job, .first = first, .n = n, .lat = lat, .pids = pids};
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

enum rtt_kind { RTT_QMP, RTT_LIST, RTT_GET, RTT_LIST_RAW };

static size_t count_body(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	*(size_t *)arg += size * n;
	return size * n;
}

/* GET path, the body received and not parsed: the daemon's side and the
 * transfer, without the client's JSON parse. 0 with *status and *bytes. */
static int raw_get(const char *path, long *status, size_t *bytes, char **err)
{
	CURL *c = curl_easy_init();
	char url[256];
	CURLcode rc;

	*bytes = 0;
	if (!c) {
		*err = strdup("curl_easy_init failed");
		return -1;
	}
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d.sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, count_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, bytes);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	if ((rc = curl_easy_perform(c)) != CURLE_OK) {
		if (asprintf(err, "GET %s: %s", path, curl_easy_strerror(rc)) < 0)
			*err = NULL;
		curl_easy_cleanup(c);
		return -1;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	curl_easy_cleanup(c);
	return 0;
}

/* query-status through the API on PROBE_VM, GET /v1/vms (parsed, or only
 * received), or GET /v1/vms/PROBE_VM. *bytes: the last reply's size;
 * *cpu_us: vmsupd's CPU time per call (10 ms ticks over all the calls). */
static int api_rtt(int calls, enum rtt_kind kind, struct bl_stats *st, size_t *bytes,
		   double *cpu_us, char **err)
{
	double cpu0 = bl_cpu_ms(d.pid);
	static const char *const what[] = {"qmp passthrough", "GET /v1/vms", "GET /v1/vms/NAME",
					   "GET /v1/vms"};
	static const char *const path[] = {"/v1/vms/" PROBE_VM "/qmp", "/v1/vms",
					   "/v1/vms/" PROBE_VM, "/v1/vms"};
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

		if (kind == RTT_LIST_RAW) {
			size_t n;
			if (raw_get(path[kind], &s, &n, err))
				goto out;
			if (bytes)
				*bytes = n;
			if (s != 200) {
				if (asprintf(err, "%s: HTTP %ld", what[kind], s) < 0)
					*err = NULL;
				goto out;
			}
		} else if (vmsup_request(d.sock, kind == RTT_QMP ? "POST" : "GET", path[kind],
					 kind == RTT_QMP ? cmd : NULL, 10000, &s, &r, err) ||
			   s != 200) {
			if (!*err && asprintf(err, "%s: HTTP %ld: %s", what[kind], s,
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
	if (cpu_us)
		*cpu_us = (bl_cpu_ms(d.pid) - cpu0) * 1e3 / (calls + 50);
	ret = 0;
out:
	json_object_put(cmd);
	free(v);
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
	struct bl_stats rtt1, rttn, ls1, lsn, get1, getn, raw1, rawn, ev1[EV_SPLITS],
	    evn[EV_SPLITS], cr, br;
	struct watch w = {
	    .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER, .vm = PROBE_VM};
	pthread_t st;
	int stream_started = 0, want, nvm, created = 0, rc = 1, calls, rounds, a;
	size_t bytes1 = 0, bytesn = 0;
	double cpu1_us = -1, cpun_us = -1;
	long avail, rss0, rss1, rssn, ctx0, ctx1, qrss;
	double *lat = NULL, *blat = NULL, *plat = NULL, t_create = 0, t_bare = 0, t_pause = 0,
	       t_destroy = -1, idle_ms, cpu0, cpu1, w0, w1;
	pid_t *bpids = NULL, probe_pid = 0;
	struct rlimit rl;
	char *err = NULL, accel[32] = "", ops[256], la0[64], la1[64], note[512], s1[128], s2[128];

	if ((a = bl_parse_opts(argc, argv, "scale [--quick] [-n VMS] [-m MIB]", &o)) < 0)
		return a == -2 ? 0 : 2;
	if (o.mem_mib)
		vm_mib = o.mem_mib;
	/* vmsupd (which inherits it) holds a few descriptors per VM, and so do
	 * we for the bare spawns' sockets: a 1024 soft limit is too few for 250 */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	want = o.n ? o.n : o.quick ? 10 : 100;
	calls = o.quick ? 200 : 1000;
	rounds = o.quick ? 5 : 20;
	idle_ms = o.quick ? 3000 : 10000;
	nvm = want;
	avail = bl_mem_available_mib();
	if (avail > 0 && (avail - RESERVE_MIB) / (vm_mib + OVERHEAD_MIB) < want) {
		long fit = (avail - RESERVE_MIB) / (vm_mib + OVERHEAD_MIB);

		nvm = fit < 2 ? 2 : (int)fit;
		snprintf(
		    note, sizeof(note),
		    "scaled down from %d to %d VMs: MemAvailable %ld MiB holds %ld x (%d + %d) "
		    "MiB with %d MiB kept free",
		    want, nvm, avail, fit, vm_mib, OVERHEAD_MIB, RESERVE_MIB);
		fprintf(stderr, "scale: NOTE: %s\n", note);
		bl_info("scale.note", note);
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	bl_cleanup_install(&d);
	bl_loadavg(la0, sizeof(la0));
	if (!(lat = calloc((size_t)nvm, sizeof(double))) ||
	    !(blat = calloc((size_t)nvm, sizeof(double))) ||
	    !(plat = calloc((size_t)nvm, sizeof(double))) ||
	    !(bpids = calloc((size_t)nvm, sizeof(pid_t))))
		goto out;
	if (bl_daemon_start(&d, NULL, &err))
		goto out;
	rss0 = bl_rss_kib(d.pid);

	/* one VM live */
	if (bl_create_guestless(d.sock, PROBE_VM, vm_mib, &probe_pid, accel, sizeof(accel), ops,
				sizeof(ops), &err))
		goto out;
	created = 1;
	w.sock = d.sock;
	snprintf(note, sizeof(note), "%s/raw", d.dir);
	mkdir(note, 0700);
	snprintf(note, sizeof(note), "%s/vm/%s", d.run, PROBE_VM);
	if (rs_tmpl_read(probe_pid, PROBE_VM, note, &tmpl)) {
		err = strdup("cannot read the qemu command line vmsupd used");
		goto out;
	}
	/* like for like: the bare spawns share one cgroup's CPU weight, as the VMs do */
	if (rs_cgroup_like(probe_pid, &tmpl, note, sizeof(note)))
		fprintf(stderr, "scale: bare spawns in our own cgroup: %s\n", note);
	bl_info("scale.bare_cgroup", tmpl.cg_dir[0] ? note : "none (see stderr)");
	if (pthread_create(&st, NULL, stream_thread, &w) == 0)
		stream_started = 1;
	if (!stream_started || prime_stream(&w, ops, &err))
		goto out;
	fprintf(stderr, "scale: 1 VM: API round trips\n");
	if (api_rtt(calls, RTT_QMP, &rtt1, NULL, NULL, &err) ||
	    api_rtt(calls, RTT_LIST, &ls1, NULL, NULL, &err) ||
	    api_rtt(calls, RTT_LIST_RAW, &raw1, &bytes1, &cpu1_us, &err) ||
	    api_rtt(calls, RTT_GET, &get1, NULL, NULL, &err) ||
	    event_latency(&w, ops, rounds, ev1, &err))
		goto out;
	rss1 = bl_rss_kib(d.pid);

	/* N live */
	fprintf(stderr,
		"scale: creating %d more VMs, %d at a time, in turns of %d with as many bare "
		"spawns\n",
		nvm - 1, PARALLEL, CHUNK);
	created = nvm; /* the teardown is by name; missing ones are skipped */
	for (int first = 1, turn = 0; first < nvm; first += CHUNK, turn++) {
		int k = nvm - first < CHUNK ? nvm - first : CHUNK;

		/* API then bare, then bare then API: neither always goes first */
		for (int side = 0; side < 2; side++) {
			double t;

			if ((side == 0) == (turn % 2 == 0)) {
				if ((t = run_pool(JOB_CREATE, first, k, lat + first - 1, NULL,
						  &err)) < 0)
					goto out;
				t_create += t;
				/* not timed: N running vCPUs would load the host, not vmsupd */
				if ((t = run_pool(JOB_PAUSE, first, k, plat + first - 1, NULL,
						  &err)) < 0)
					goto out;
				t_pause += t;
			} else {
				t = run_pool(JOB_BARE, first, k, blat + first - 1,
					     bpids + first - 1, &err);
				for (int i = 0; i < k; i++) /* not timed */
					rs_reap(bpids[first - 1 + i]);
				memset(bpids + first - 1, 0, sizeof(pid_t) * (size_t)k);
				if (t < 0)
					goto out;
				t_bare += t;
			}
		}
	}
	bl_stats(lat, nvm - 1, &cr);
	bl_stats(blat, nvm - 1, &br);
	rssn = bl_rss_kib(d.pid);
	qrss = qemu_rss_total_kib(nvm);
	fprintf(stderr, "scale: %d VMs: API round trips\n", nvm);
	if (api_rtt(calls, RTT_QMP, &rttn, NULL, NULL, &err) ||
	    api_rtt(calls, RTT_LIST, &lsn, NULL, NULL, &err) ||
	    api_rtt(calls, RTT_LIST_RAW, &rawn, &bytesn, &cpun_us, &err) ||
	    api_rtt(calls, RTT_GET, &getn, NULL, NULL, &err) ||
	    event_latency(&w, ops, rounds, evn, &err))
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
	t_destroy = run_pool(JOB_DESTROY, 0, nvm, lat, NULL, &err);
	if (t_destroy < 0)
		goto out;
	created = 0;
	bl_loadavg(la1, sizeof(la1));

	bl_info("accel", accel);
	snprintf(note, sizeof(note), "load %s -> %s", la0, la1);
	bl_info("scale.load", note);
	snprintf(note, sizeof(note), "%d", nvm);
	bl_info("scale.vms", note);
	snprintf(note, sizeof(note),
		 "%d in parallel, in turns of %d alternating with as many bare spawns of the same "
		 "argv (%d in parallel, to running, left up during the turn); per create %s ms; "
		 "per bare spawn %s ms; pausing them (not counted): %.0f ms",
		 PARALLEL, CHUNK, PARALLEL, bl_spread(&cr, s1, sizeof(s1)),
		 bl_spread(&br, s2, sizeof(s2)), t_pause);
	bl_result("scale", "create N-1 guest-less VMs, total (baseline: bare spawns)",
		  t_create / 1e3, "s", t_bare / 1e3, "<= 1.1x", note);
	bl_result("scale", "create throughput (baseline: bare spawns)",
		  (nvm - 1) / (t_create / 1e3), "VMs/s", (nvm - 1) / (t_bare / 1e3), NULL, NULL);
	bl_result("scale", "create, per VM p99 (baseline: bare spawn)", cr.p99, "ms", br.p99, NULL,
		  NULL);
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
		  rtt1.p99, "<= 1.5x", note);
	bl_result("scale", "API query-status median, N live (baseline: 1 live)", rttn.median, "us",
		  rtt1.median, NULL, NULL);
	snprintf(note, sizeof(note), "spread in us, with N: %s; with 1: %s",
		 bl_spread(&lsn, s1, sizeof(s1)), bl_spread(&ls1, s2, sizeof(s2)));
	bl_result("scale", "API GET /v1/vms p99, N live (baseline: 1 live)", lsn.p99, "us", ls1.p99,
		  "<= 1.5x", note);
	bl_result("scale", "API GET /v1/vms median, N live (baseline: 1 live)", lsn.median, "us",
		  ls1.median, NULL, NULL);
	snprintf(note, sizeof(note),
		 "the reply received, not parsed (%zu bytes with N, %zu with 1); spread in us, "
		 "with N: %s; with 1: %s",
		 bytesn, bytes1, bl_spread(&rawn, s1, sizeof(s1)),
		 bl_spread(&raw1, s2, sizeof(s2)));
	bl_result("scale", "API GET /v1/vms received p99, N live (baseline: 1 live)", rawn.p99,
		  "us", raw1.p99, NULL, note);
	bl_result("scale", "API GET /v1/vms received median, N live (baseline: 1 live)",
		  rawn.median, "us", raw1.median, NULL, NULL);
	bl_result("scale", "vmsupd CPU per GET /v1/vms, N live (baseline: 1 live)", cpun_us, "us",
		  cpu1_us, NULL, "vmsupd's utime + stime over the received-only calls, per call");
	snprintf(note, sizeof(note), "one VM's record; spread in us, with N: %s; with 1: %s",
		 bl_spread(&getn, s1, sizeof(s1)), bl_spread(&get1, s2, sizeof(s2)));
	bl_result("scale", "API GET /v1/vms/NAME p99, N live (baseline: 1 live)", getn.p99, "us",
		  get1.p99, NULL, note);
	bl_result("scale", "API GET /v1/vms/NAME median, N live (baseline: 1 live)", getn.median,
		  "us", get1.median, NULL, NULL);
	snprintf(note, sizeof(note),
		 "stop/cont on the ops socket -> line on /v1/events; spread in ms, with N: %s; "
		 "with 1: %s",
		 bl_spread(&evn[0], s1, sizeof(s1)), bl_spread(&ev1[0], s2, sizeof(s2)));
	bl_result("scale", "event delivery p99, N live (baseline: 1 live)", evn[0].p99, "ms",
		  ev1[0].p99, "<= 10 ms", note);
	bl_result("scale", "event delivery median, N live (baseline: 1 live)", evn[0].median, "ms",
		  ev1[0].median, NULL, NULL);
	/* where it went: qemu stamps each event (CLOCK_REALTIME) as it emits it */
	snprintf(note, sizeof(note), "command -> qemu's event timestamp; spread in ms, with N: %s",
		 bl_spread(&evn[1], s1, sizeof(s1)));
	bl_result("scale", "event: command -> qemu emits, p99 (baseline: 1 live)", evn[1].p99, "ms",
		  ev1[1].p99, NULL, note);
	snprintf(note, sizeof(note),
		 "qemu's event timestamp -> line on /v1/events; spread in ms, with N: %s",
		 bl_spread(&evn[2], s1, sizeof(s1)));
	bl_result("scale", "event: qemu emits -> /v1/events, p99 (baseline: 1 live)", evn[2].p99,
		  "ms", ev1[2].p99, NULL, note);
	snprintf(note, sizeof(note),
		 "qemu's event timestamp -> the event on the ops socket; spread in ms, with N: %s",
		 bl_spread(&evn[3], s1, sizeof(s1)));
	bl_result("scale", "event: qemu emits -> ops socket, p99 (baseline: 1 live)", evn[3].p99,
		  "ms", ev1[3].p99, NULL, note);
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
	for (int i = 0; bpids && i < nvm; i++)
		rs_reap(bpids[i]);
	if (created) {
		/* best effort: the daemon's own shutdown and the pidfiles catch the rest */
		run_pool(JOB_DESTROY, 0, created, lat, NULL, &err);
		free(err);
	}
	pthread_mutex_lock(&w.lock);
	w.quit = 1;
	pthread_mutex_unlock(&w.lock);
	bl_daemon_stop(&d); /* ends the event stream */
	if (stream_started)
		pthread_join(st, NULL);
	free(lat);
	free(blat);
	free(plat);
	free(bpids);
	rs_cgroup_remove(&tmpl);
	rs_tmpl_free(&tmpl);
	curl_global_cleanup();
	return rc;
}
