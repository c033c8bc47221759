/*
 * bench/load: many API clients at once against one vmsupd with guest-less
 * VMs, over its unix socket only. Each client (a thread with its own
 * keep-alive libcurl handle) issues a mix of reads and lifecycle calls;
 * 409s are expected (pausing a paused VM...), anything else that is not
 * 2xx counts as an error. The daemon's fd count and RSS are taken before
 * and after (all VMs back to running, all clients gone), so a leak shows.
 *
 *   bench/load [--seconds N] [--clients N] [--vms N] [--quick] [--socket PATH]
 *
 * Without --socket a private vmsupd is started (top_builddir/src/daemon/vmsupd or
 * next to this program) in a temp dir and torn down after, qemus included.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchlib.h"

struct opts {
	int seconds, clients, vms;
	const char *socket;
};

struct client {
	int id;
	pthread_t t;
	unsigned seed;
	double *lat; /* seconds, one per request */
	size_t n, cap;
	long ok, conflict, errors, by_status[600];
	char first_error[256];
};

static struct opts cfg = {60, 200, 50, NULL};
static char sock[sizeof(((struct sockaddr_un *)0)->sun_path)], dir[64];
static pid_t daemon_pid; /* ours to stop, 0 if --socket */
static double deadline;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

struct buf {
	char *p;
	size_t n;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	char *q = realloc(b->p, b->n + size * n + 1);

	if (!q)
		return 0;
	memcpy(q + b->n, p, size * n);
	b->p = q;
	b->n += size * n;
	q[b->n] = '\0';
	return size * n;
}

/* One request on handle c; returns the HTTP status, 0 on a transport error. */
static long request(CURL *c, const char *method, const char *path, const char *body,
		    struct buf *out, char *why, size_t why_size)
{
	char url[256];
	long status = 0;
	CURLcode rc;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
	curl_easy_setopt(c, CURLOPT_HTTPGET, 0L);
	if (!strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, out ? collect : sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(why, why_size, "%s %s: %s", method, path, curl_easy_strerror(rc));
		return 0;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

static CURL *handle(void)
{
	CURL *c = curl_easy_init();
	static struct curl_slist *h;

	if (!c)
		return NULL;
	if (!h) /* built before the threads start (main's first call) */
		h = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"),
				      "Expect:");
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	return c;
}

static void record(struct client *cl, double t)
{
	if (cl->n == cl->cap) {
		size_t cap = cl->cap ? cl->cap * 2 : 1024;
		double *l = realloc(cl->lat, cap * sizeof(*l));
		if (!l)
			return;
		cl->lat = l;
		cl->cap = cap;
	}
	cl->lat[cl->n++] = t;
}

/* The mix: mostly reads, with pause/resume, kill/start and QMP passthrough. */
static void *client_main(void *arg)
{
	struct client *cl = arg;
	CURL *c = handle();
	char path[128], why[256];

	if (!c) {
		cl->errors++;
		return NULL;
	}
	while (now() < deadline) {
		int vm = (int)(rand_r(&cl->seed) % (unsigned)cfg.vms),
		    r = (int)(rand_r(&cl->seed) % 100);
		const char *method = "GET", *body = NULL;
		double t0;
		long st;

		if (r < 50) {
			snprintf(path, sizeof(path), "/v1/vms/lv%d", vm);
		} else if (r < 60) {
			snprintf(path, sizeof(path), "/v1/vms");
		} else if (r < 65) {
			snprintf(path, sizeof(path), "/v1/version");
		} else if (r < 75) {
			method = "POST";
			snprintf(path, sizeof(path), "/v1/vms/lv%d/pause", vm);
		} else if (r < 85) {
			method = "POST";
			snprintf(path, sizeof(path), "/v1/vms/lv%d/resume", vm);
		} else if (r < 92) {
			method = "POST";
			body = "{\"execute\":\"query-status\"}";
			snprintf(path, sizeof(path), "/v1/vms/lv%d/qmp", vm);
		} else if (r < 96) {
			method = "POST";
			snprintf(path, sizeof(path), "/v1/vms/lv%d/kill", vm);
		} else {
			method = "POST";
			snprintf(path, sizeof(path), "/v1/vms/lv%d/start", vm);
		}
		t0 = now();
		st = request(c, method, path, body, NULL, why, sizeof(why));
		record(cl, now() - t0);
		if (st >= 0 && st < 600)
			cl->by_status[st]++;
		if (st >= 200 && st < 300) {
			cl->ok++;
		} else if (st == 409) {
			cl->conflict++;
		} else {
			cl->errors++;
			if (!cl->first_error[0]) {
				if (st)
					snprintf(cl->first_error, sizeof(cl->first_error),
						 "%s %s: HTTP %ld", method, path, st);
				else
					snprintf(cl->first_error, sizeof(cl->first_error), "%s",
						 why);
			}
		}
	}
	curl_easy_cleanup(c);
	return NULL;
}

/* ---- the daemon ---- */

static pid_t server_pid(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred uc;
	socklen_t len = sizeof(uc);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pid_t pid = 0;

	memcpy(sa.sun_path, sock, sizeof(sa.sun_path));
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) == 0)
		pid = uc.pid;
	if (fd >= 0)
		close(fd);
	return pid;
}

static int count_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static int start_daemon(const char *argv0)
{
	char bin[PATH_MAX + 32], conf[128], state[128], run[128], logp[128];
	const char *b = getenv("top_builddir");
	FILE *f;
	double until;

	if (b)
		snprintf(bin, sizeof(bin), "%s/src/daemon/vmsupd", b);
	else {
		char self[PATH_MAX], *slash;
		snprintf(self, sizeof(self), "%s", argv0);
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(bin, sizeof(bin), "%s/../src/daemon/vmsupd", slash ? self : ".");
	}
	strcpy(dir, "/tmp/vsl-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(conf, sizeof(conf), "%s/vmsupd.conf", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	snprintf(logp, sizeof(logp), "%s/daemon.log", dir);
	if (!(f = fopen(conf, "w"))) {
		perror(conf);
		return -1;
	}
	fprintf(f, "stop_grace_s = 2\nlog_level = info\n");
	fclose(f);
	daemon_pid = fork();
	if (daemon_pid < 0) {
		perror("fork");
		return -1;
	}
	if (daemon_pid == 0) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		execl(bin, "vmsupd", "-c", conf, "--socket", sock, "--state-dir", state,
		      "--run-dir", run, "-f", (char *)NULL);
		_exit(127);
	}
	for (until = now() + 60; now() < until; usleep(20000)) {
		if (server_pid() > 0)
			return 0;
		if (waitpid(daemon_pid, NULL, WNOHANG) == daemon_pid) {
			fprintf(stderr, "load: %s exited at start-up (log %s)\n", bin, logp);
			daemon_pid = 0;
			return -1;
		}
	}
	fprintf(stderr, "load: vmsupd did not listen within 60 s\n");
	return -1;
}

/* Every qemu whose pidfile lies under our run dir. */
static void kill_qemus(void)
{
	char root[128], pf[512], cmd[256];
	DIR *d;
	struct dirent *e;

	snprintf(root, sizeof(root), "%s/run/vm", dir);
	if (!(d = opendir(root)))
		return;
	while ((e = readdir(d))) {
		FILE *f;
		int pid = 0, fd;
		ssize_t n;
		if (e->d_name[0] == '.')
			continue;
		snprintf(pf, sizeof(pf), "%s/%s/qemu.pid", root, e->d_name);
		if (!(f = fopen(pf, "r")))
			continue;
		if (fscanf(f, "%d", &pid) == 1 && pid > 1) {
			snprintf(cmd, sizeof(cmd), "/proc/%d/cmdline", pid);
			if ((fd = open(cmd, O_RDONLY)) >= 0) {
				n = read(fd, cmd, sizeof(cmd) - 1);
				close(fd);
				if (n > 0 && (cmd[n] = '\0', strstr(cmd, "qemu-system")))
					kill(pid, SIGKILL);
			}
		}
		fclose(f);
	}
	closedir(d);
}

static void stop_daemon(void)
{
	if (daemon_pid > 0) {
		double until = now() + 120;
		kill(daemon_pid, SIGTERM);
		while (now() < until && waitpid(daemon_pid, NULL, WNOHANG) == 0)
			usleep(20000);
		if (waitpid(daemon_pid, NULL, WNOHANG) == 0) {
			kill(daemon_pid, SIGKILL);
			waitpid(daemon_pid, NULL, 0);
		}
		daemon_pid = 0;
	}
	if (dir[0]) {
		kill_qemus();
		if (!getenv("LOAD_KEEP"))
			bl_rmrf(dir);
	}
}

static void on_signal(int sig)
{
	(void)sig;
	deadline = 0; /* the clients wind down; main cleans up */
}

/* ---- VMs ---- */

static const char *state_of(CURL *c, int i, char *state, size_t size)
{
	char path[64], why[256];
	struct buf b = {0};
	struct json_object *o, *s;

	snprintf(path, sizeof(path), "/v1/vms/lv%d", i);
	state[0] = '\0';
	if (request(c, "GET", path, NULL, &b, why, sizeof(why)) == 200 && b.p &&
	    (o = json_tokener_parse(b.p))) {
		if (json_object_object_get_ex(o, "state", &s))
			snprintf(state, size, "%s", json_object_get_string(s));
		json_object_put(o);
	}
	free(b.p);
	return state;
}

/* All VMs running (resume the paused, start the stopped), bounded. */
static int settle(CURL *c, int timeout_s)
{
	double until = now() + timeout_s;
	char state[32], path[64], why[256];

	for (;;) {
		int notrunning = 0;
		for (int i = 0; i < cfg.vms; i++) {
			state_of(c, i, state, sizeof(state));
			if (!strcmp(state, "running"))
				continue;
			notrunning++;
			if (!strcmp(state, "paused"))
				snprintf(path, sizeof(path), "/v1/vms/lv%d/resume", i);
			else if (!strcmp(state, "stopped") || !strcmp(state, "crashed") ||
				 !strcmp(state, "failed"))
				snprintf(path, sizeof(path), "/v1/vms/lv%d/start", i);
			else
				continue;
			request(c, "POST", path, NULL, NULL, why, sizeof(why));
		}
		if (!notrunning)
			return 0;
		if (now() > until) {
			fprintf(stderr, "load: %d VMs not running after %d s\n", notrunning,
				timeout_s);
			return -1;
		}
		usleep(200000);
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: load [--seconds N] [--clients N] [--vms N] [--quick] [--socket PATH]\n"
		   "  defaults: 60 s, 200 clients, 50 guest-less VMs; --quick: 5 s, 20, 5\n");
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {{"seconds", required_argument, NULL, 's'},
					   {"clients", required_argument, NULL, 'c'},
					   {"vms", required_argument, NULL, 'v'},
					   {"quick", no_argument, NULL, 'q'},
					   {"socket", required_argument, NULL, 'S'},
					   {"help", no_argument, NULL, 'h'},
					   {NULL, 0, NULL, 0}};
	struct client *cl = NULL;
	CURL *c = NULL;
	pid_t pid;
	int opt, ret = 1, fds0, fds1, created = 0;
	long rss0, rss1, ok = 0, conflict = 0, errors = 0, by_status[600] = {0};
	size_t total = 0;
	double *all = NULL, t0, elapsed, sum = 0;
	char why[256], body[256], path[64];

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (parse_int(optarg, 1, 3600, &cfg.seconds))
				goto bad;
			break;
		case 'c':
			if (parse_int(optarg, 1, 2000, &cfg.clients))
				goto bad;
			break;
		case 'v':
			if (parse_int(optarg, 1, 500, &cfg.vms))
				goto bad;
			break;
		case 'q':
			cfg.seconds = 5;
			cfg.clients = 20;
			cfg.vms = 5;
			break;
		case 'S':
			cfg.socket = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (cfg.socket) {
		if (strlen(cfg.socket) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			fprintf(stderr, "load: socket path too long\n");
			return 2;
		}
		snprintf(sock, sizeof(sock), "%s", cfg.socket);
	} else if (start_daemon(argv[0])) {
		goto out;
	}
	if ((pid = server_pid()) <= 0) {
		fprintf(stderr, "load: nobody answers on %s\n", sock);
		goto out;
	}
	if (!(c = handle()))
		goto out;
	for (int i = 0; i < cfg.vms; i++) {
		long st;
		snprintf(body, sizeof(body),
			 "{\"name\":\"lv%d\",\"guest\":false,\"accel\":\"kvm:tcg\",\"mem_mib\":32}",
			 i);
		st = request(c, "POST", "/v1/vms", body, NULL, why, sizeof(why));
		if (st != 201) {
			fprintf(stderr, "load: create lv%d: HTTP %ld %s\n", i, st, st ? "" : why);
			goto out;
		}
		created++;
	}
	if (settle(c, 300))
		goto out;
	fds0 = count_fds(pid);
	rss0 = bl_rss_kib(pid);

	if (!(cl = calloc((size_t)cfg.clients, sizeof(*cl))))
		goto out;
	t0 = now();
	deadline = t0 + cfg.seconds;
	for (int i = 0; i < cfg.clients; i++) {
		cl[i].id = i;
		cl[i].seed = (unsigned)(i * 2654435761u) ^ (unsigned)time(NULL);
		if (pthread_create(&cl[i].t, NULL, client_main, &cl[i])) {
			fprintf(stderr, "load: thread %d: %s\n", i, strerror(errno));
			deadline = 0;
			for (int j = 0; j < i; j++)
				pthread_join(cl[j].t, NULL);
			goto out;
		}
	}
	for (int i = 0; i < cfg.clients; i++)
		pthread_join(cl[i].t, NULL);
	elapsed = now() - t0;

	for (int i = 0; i < cfg.clients; i++) {
		ok += cl[i].ok;
		conflict += cl[i].conflict;
		errors += cl[i].errors;
		total += cl[i].n;
		for (int s = 0; s < 600; s++)
			by_status[s] += cl[i].by_status[s];
	}
	if (!(all = malloc((total ? total : 1) * sizeof(*all))))
		goto out;
	total = 0;
	for (int i = 0; i < cfg.clients; i++) {
		memcpy(all + total, cl[i].lat, cl[i].n * sizeof(*all));
		total += cl[i].n;
	}
	qsort(all, total, sizeof(*all), cmp_d);
	for (size_t i = 0; i < total; i++)
		sum += all[i];

	/* the same VMs in the same states, the clients gone: compare */
	if (settle(c, 300))
		goto out;
	curl_easy_cleanup(c);
	c = NULL;
	usleep(500000); /* the daemon sees the last client connections close */
	fds1 = count_fds(pid);
	rss1 = bl_rss_kib(pid);

	printf("load: %d clients, %d guest-less VMs, %.1f s, socket %s\n", cfg.clients, cfg.vms,
	       elapsed, sock);
	printf("requests        %zu\n", total);
	printf("requests/s      %.1f\n", total / elapsed);
	if (total) {
		printf("latency mean    %.2f ms\n", 1e3 * sum / total);
		printf("latency p50     %.2f ms\n", 1e3 * all[total / 2]);
		printf("latency p99     %.2f ms\n", 1e3 * all[(size_t)(total * 0.99)]);
		printf("latency max     %.2f ms\n", 1e3 * all[total - 1]);
	}
	printf("2xx             %ld\n", ok);
	printf("409 (expected)  %ld\n", conflict);
	printf("errors          %ld\n", errors);
	for (int s = 0; s < 600; s++)
		if (by_status[s] && s != 200 && s != 201 && s != 409)
			printf("  HTTP %-3d      %ld\n", s, by_status[s]);
	for (int i = 0, shown = 0; i < cfg.clients && shown < 5; i++)
		if (cl[i].first_error[0]) {
			printf("  e.g.          %s\n", cl[i].first_error);
			shown++;
		}
	printf("vmsupd fds      %d before, %d after\n", fds0, fds1);
	printf("vmsupd RSS      %ld KiB before, %ld KiB after\n", rss0, rss1);
	printf("BENCH load requests_per_s=%.1f p99_ms=%.2f errors=%ld fds_before=%d "
	       "fds_after=%d rss_before_kib=%ld rss_after_kib=%ld\n",
	       total / elapsed, total ? 1e3 * all[(size_t)(total * 0.99)] : 0.0, errors, fds0, fds1,
	       rss0, rss1);
	ret = errors || fds1 > fds0 ? 3 : 0;
out:
	/* a daemon not ours keeps running: take our VMs away */
	if (cfg.socket && created && (c || (c = handle())))
		for (int i = 0; i < created; i++) {
			snprintf(path, sizeof(path), "/v1/vms/lv%d?timeout=0", i);
			request(c, "DELETE", path, NULL, NULL, why, sizeof(why));
		}
	if (c)
		curl_easy_cleanup(c);
	stop_daemon();
	if (cl)
		for (int i = 0; i < cfg.clients; i++)
			free(cl[i].lat);
	free(cl);
	free(all);
	curl_global_cleanup();
	return ret;
bad:
	usage(stderr);
	return 2;
}
