/*
 * bench/vmsupd-launch: median time from POST /v1/vms to "running" (guest-less VM)
 * against a raw spawn of the same qemu argv plus a minimal QMP client
 * (capabilities + cont acknowledged), alternating, and vmsupd's RSS idle
 * and with 20 VMs.
 *
 * usage: bench/vmsupd-launch [ROUNDS]   (vmsupd from $top_builddir/src/daemon/vmsupd)
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchlib.h"

#include "qmp/qmp.h"
#include "src/qemu/argv.h"
#include "src/qemu/spawn.h"

static char dir[64], sock[128];
static pid_t daemon_pid;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static size_t sink(char *p, size_t s, size_t n, void *a)
{
	(void)p;
	(void)a;
	return s * n;
}

static long http(const char *method, const char *path, const char *body)
{
	CURL *c = curl_easy_init();
	char url[256];
	long st = 0;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_cleanup(c);
	return st;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The raw path: the same argv, spawn, connect, qmp_capabilities, cont. */
static double raw_once(int i)
{
	struct vm_spec s = {.name = "raw",
			    .mem_mib = 64,
			    .cpus = 1,
			    .accel = "tcg",
			    .restart = "never",
			    .start = true};
	char rd[128], q[160], o[160], g[160], pf[160], cl[160], lg[160];
	struct vm_paths p = {rd, q, o, g, pf, cl, 40000 + i, "52:54:00:00:00:01"};
	/* as the daemon starts it: its default tcg_tb_size_mib */
	struct vm_argv_opts opts = {
	    .qemu = "qemu-system-x86_64", .sandbox = true, .qemu_user = NULL, .tcg_tb_mib = 128};
	struct qmp_error e;
	struct qmp_sync *c = NULL;
	struct json_object *ret = NULL;
	char **argv;
	pid_t pid;
	double t0, t;

	snprintf(rd, sizeof(rd), "%s/raw%d", dir, i);
	snprintf(q, sizeof(q), "%s/qmp.sock", rd);
	snprintf(o, sizeof(o), "%s/ops.sock", rd);
	snprintf(g, sizeof(g), "%s/qga.sock", rd);
	snprintf(pf, sizeof(pf), "%s/qemu.pid", rd);
	snprintf(cl, sizeof(cl), "%s/console.log", rd);
	snprintf(lg, sizeof(lg), "%s/qemu.log", rd);
	vm_mkdir(rd, 0700, NULL);
	argv = vm_argv_build(&s, &p, &opts, NULL);
	t0 = now();
	if (vm_spawn(argv, lg, &pid, NULL))
		return -1;
	while (!(c = qmp_sync_open(q, QMP_KIND_QMP, 10000, &e)) && now() - t0 < 20)
		usleep(2000);
	if (c && qmp_sync_call(c, "cont", NULL, 10000, &ret, &e) == 0)
		t = now() - t0;
	else
		t = -1;
	json_object_put(ret);
	qmp_sync_close(c);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	vm_argv_free(argv);
	return t;
}

static double api_once(int i)
{
	char body[128], path[64];
	double t0 = now(), t;

	snprintf(body, sizeof(body),
		 "{\"name\":\"b%d\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64}", i);
	if (http("POST", "/v1/vms", body) != 201)
		return -1;
	t = now() - t0;
	snprintf(path, sizeof(path), "/v1/vms/b%d", i);
	http("DELETE", path, NULL);
	return t;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 15;
	const char *b = getenv("top_builddir");
	char bin[512], state[128], run[128];
	double *ta, *tr;
	long idle, full;
	int n = 0, st;

	if (rounds < 1 || rounds > 1000) {
		fprintf(stderr, "usage: vmsupd-launch [ROUNDS]\n");
		return 2;
	}
	snprintf(bin, sizeof(bin), "%s/src/daemon/vmsupd", b ? b : ".");
	strcpy(dir, "/tmp/vsb-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	if ((daemon_pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 2);
		execl(bin, "vmsupd", "-q", "--socket", sock, "--state-dir", state, "--run-dir", run,
		      (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 3000 && http("GET", "/v1/version", NULL) != 200; i++)
		usleep(10000);
	ta = calloc(rounds, sizeof(double));
	tr = calloc(rounds, sizeof(double));
	api_once(9999); /* warm caches on both paths */
	raw_once(9999);
	for (int i = 0; i < rounds; i++) {
		/* alternate which goes first, so neither always gets the warm cache */
		if (i % 2) {
			tr[i] = raw_once(i);
			ta[i] = api_once(i);
		} else {
			ta[i] = api_once(i);
			tr[i] = raw_once(i);
		}
		if (ta[i] < 0 || tr[i] < 0) {
			fprintf(stderr, "launch: round %d failed\n", i);
			goto out;
		}
		n++;
	}
	qsort(ta, n, sizeof(double), cmp);
	qsort(tr, n, sizeof(double), cmp);
	printf("launch (guest-less, tcg, %d rounds): vmsupd API median %.1f ms, raw spawn+QMP "
	       "median %.1f ms, ratio %.3f\n",
	       n, ta[n / 2] * 1000, tr[n / 2] * 1000, ta[n / 2] / tr[n / 2]);
	idle = bl_rss_kib(daemon_pid);
	for (int i = 0; i < 20; i++) {
		char body[128];
		snprintf(body, sizeof(body),
			 "{\"name\":\"r%d\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":32}", i);
		http("POST", "/v1/vms", body);
	}
	full = bl_rss_kib(daemon_pid);
	printf("vmsupd RSS: idle %ld KiB, with 20 VMs %ld KiB\n", idle, full);
	/* on_exit is keep by default: a SIGTERM alone would leave them running */
	for (int i = 0; i < 20; i++) {
		char path[64];
		snprintf(path, sizeof(path), "/v1/vms/r%d?force=1", i);
		http("DELETE", path, NULL);
	}
out:
	kill(daemon_pid, SIGTERM);
	waitpid(daemon_pid, &st, 0);
	bl_rmrf(dir);
	free(ta);
	free(tr);
	return n == rounds ? 0 : 1;
}
