/*
 * bench/restart: vmsupd as a service you restart (issue 20), guest-less
 * 64 MiB VMs, on_exit = keep.
 *   - daemon restart: SIGTERM -> a new vmsupd serving with every VM
 *     reattached (GET /v1/vms lists all N running with "qmp":"ok"), with
 *     N = 10 and N = 100; baseline: the same restart of a daemon with no
 *     VM, interleaved (A B, B A, ...)
 *   - SIGTERM -> exit of the daemon with N VMs (baseline: with none)
 *   - `vmctl shutdown --all` with N VMs running (until it returns, every
 *     qemu gone); baseline: the same N VMs stopped one after the other
 *     with POST /v1/vms/NAME/stop, interleaved
 * The VMs are paused (QMP stop) whenever they are not being stopped: a
 * running guest-less qemu still costs a few % of a CPU (its firmware looks
 * for something to boot), 100 of them fill a shared 2-core machine. A
 * paused VM is reattached as a running one (QMP reconnected) and stopped as
 * a running guest-less one (quit at once). The new daemon's start is seen by
 * polling GET /v1/version every 20 ms (bl_daemon_spawn), then GET /v1/vms
 * every 5 ms. Creates, starts and pauses go 8 at a time. N is scaled down
 * (with a note) when MemAvailable cannot hold N x (64 MiB + qemu overhead).
 *
 *   bench/restart [--quick] [-n ROUNDS]    (sizes 10 and 100, 5 rounds, 3 for
 *                                           the shutdown with 100; --quick:
 *                                           sizes 3 and 10, 2 rounds)
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/benchlib.h"

#define BENCH	     "restart"
#define VM_MIB	     64
#define OVERHEAD_MIB 128
#define RESERVE_MIB  2048
#define CONF	     "on_exit = keep\nstop_grace_s = 30"
#define PARALLEL     8

static struct bl_daemon d, empty;

static const char *vmctl_path(void)
{
	const char *e = getenv("VMCTL");

	if (e && *e)
		return e;
	return access("src/cli/vmctl", X_OK) == 0 ? "src/cli/vmctl" : "vmctl";
}

static int fail(const char *what, char *err)
{
	fprintf(stderr, "bench/restart: %s: %s\n", what, err ? err : "failed");
	free(err);
	return 1;
}

/* How many VMs GET /v1/vms lists as running or paused with their QMP up;
 * -1 on error. */
static int count_reattached(const char *sock)
{
	struct json_object *r = NULL, *vms, *v;
	char *err = NULL;
	long st = 0;
	int n = 0;

	if (bl_api(sock, "GET", "/v1/vms", NULL, &st, &r, &err) || st != 200 ||
	    !json_object_object_get_ex(r, "vms", &vms)) {
		free(err);
		json_object_put(r);
		return -1;
	}
	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);
		if (json_object_object_get_ex(vm, "state", &v) &&
		    (!strcmp(json_object_get_string(v), "running") ||
		     !strcmp(json_object_get_string(v), "paused")) &&
		    json_object_object_get_ex(vm, "qmp", &v) && json_object_get_string(v) &&
		    !strcmp(json_object_get_string(v), "ok"))
			n++;
	}
	json_object_put(r);
	return n;
}

/* SIGTERM x, wait for its exit, start it again and wait until all n VMs are
 * back. *exit_ms: SIGTERM -> exit; *serve_ms: SIGTERM -> serving all n. */
static int restart_round(struct bl_daemon *x, int n, double *exit_ms, double *serve_ms, char **err)
{
	double t0 = bl_now_ms(), end = t0 + 60000;
	int st;

	if (kill(x->pid, SIGTERM) < 0) {
		if (asprintf(err, "kill %d: %s", (int)x->pid, strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	while (waitpid(x->pid, &st, WNOHANG) == 0) {
		if (bl_now_ms() > end) {
			*err = strdup("vmsupd did not exit within 60 s of SIGTERM");
			return -1;
		}
		bl_sleep_ms(1);
	}
	*exit_ms = bl_now_ms() - t0;
	x->pid = 0;
	if (bl_daemon_spawn(x, err))
		return -1;
	while (count_reattached(x->sock) != n) {
		if (bl_now_ms() > end) {
			if (asprintf(err, "only %d of %d VMs back within 60 s",
				     count_reattached(x->sock), n) < 0)
				*err = NULL;
			return -1;
		}
		bl_sleep_ms(5);
	}
	*serve_ms = bl_now_ms() - t0;
	return 0;
}

static int post(const char *name, const char *action, char **err)
{
	char path[64];
	struct json_object *r = NULL;
	long st = 0;

	snprintf(path, sizeof(path), "/v1/vms/%s/%s", name, action);
	/* a pause right after a start may find QMP not quite ready (409):
	 * asked again, for up to 2 s */
	for (int try = 0;; try++) {
		struct json_object *e, *desc;

		if (bl_api(d.sock, "POST", path, NULL, &st, &r, err))
			return -1;
		if (st == 200) {
			json_object_put(r);
			return 0;
		}
		if (st == 409 && try < 40) {
			json_object_put(r);
			r = NULL;
			bl_sleep_ms(50);
			continue;
		}
		if (asprintf(err, "POST %s: HTTP %ld: %s", path, st,
			     r && json_object_object_get_ex(r, "error", &e) &&
				     json_object_object_get_ex(e, "desc", &desc)
				 ? json_object_get_string(desc)
				 : "-") < 0)
			*err = NULL;
		json_object_put(r);
		return -1;
	}
}

/* on a loaded, shared machine a qemu may miss the 10 s QMP handshake: that
 * VM is made again (up to 3 tries) */
static int create(const char *name, char **err)
{
	for (int try = 1;; try++) {
		char *e2 = NULL;

		if (!bl_create_guestless(d.sock, name, VM_MIB, NULL, NULL, 0, NULL, 0, err))
			return 0;
		if (try == 3)
			return -1;
		fprintf(stderr, "bench/restart: %s (try %d of 3)\n", *err, try);
		free(*err);
		*err = NULL;
		bl_destroy(d.sock, name, &e2);
		free(e2);
	}
}

/* Start and pause; a start that fails on a loaded machine (QMP handshake
 * timeout: state failed) is tried again, up to 3 times, saying why. */
static int start_paused(const char *name, char **err)
{
	for (int try = 1;; try++) {
		char path[64];
		struct json_object *vm = NULL, *v;
		long st = 0;
		char *e2 = NULL;

		if (!post(name, "start", err) && !post(name, "pause", err))
			return 0;
		if (try == 3)
			return -1;
		snprintf(path, sizeof(path), "/v1/vms/%s", name);
		if (!bl_api(d.sock, "GET", path, NULL, &st, &vm, &e2) &&
		    json_object_object_get_ex(vm, "error", &v))
			fprintf(stderr, "bench/restart: %s (%s), try %d of 3\n", *err,
				json_object_get_string(v), try);
		json_object_put(vm);
		free(e2);
		free(*err);
		*err = NULL;
	}
}

struct jobs {
	const char *action; /* "create" (then pause), "start" (then pause), "stop" */
	int n;
	atomic_int next, failed;
	pthread_mutex_t lock;
	char err[512];
};

static void *worker(void *arg)
{
	struct jobs *j = arg;
	int i;

	while ((i = atomic_fetch_add(&j->next, 1)) < j->n && !atomic_load(&j->failed)) {
		char name[32], *err = NULL;
		int r;

		snprintf(name, sizeof(name), "r%d", i);
		if (!strcmp(j->action, "create"))
			r = create(name, &err) || post(name, "pause", &err);
		else if (!strcmp(j->action, "start"))
			r = start_paused(name, &err);
		else
			r = post(name, j->action, &err);
		if (r) {
			pthread_mutex_lock(&j->lock);
			if (!atomic_exchange(&j->failed, 1))
				snprintf(j->err, sizeof(j->err), "%s", err ? err : "failed");
			pthread_mutex_unlock(&j->lock);
		}
		free(err);
	}
	return NULL;
}

/* action on VMs r0 .. r(n-1), PARALLEL at a time (1 for a baseline). */
static int each_vm(int n, const char *action, int parallel, char **err)
{
	struct jobs j = {.action = action, .n = n};
	pthread_t t[PARALLEL];
	int nt = n < parallel ? n : parallel, started = 0;

	pthread_mutex_init(&j.lock, NULL);
	for (int i = 0; i < nt; i++)
		if (pthread_create(&t[i], NULL, worker, &j) == 0)
			started++;
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	pthread_mutex_destroy(&j.lock);
	if (!started || atomic_load(&j.failed)) {
		*err = strdup(started ? j.err : "cannot start threads");
		return -1;
	}
	return 0;
}

/* vmctl shutdown --all on d; ms until it returned (exit 0 asserted). */
static double vmctl_shutdown(char **err)
{
	double t0 = bl_now_ms();
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		execl(vmctl_path(), "vmctl", "-q", "--socket", d.sock, "shutdown", "--all",
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		*err = strdup("vmctl shutdown --all failed");
		return -1;
	}
	return bl_now_ms() - t0;
}

static int measure(int n, int rounds)
{
	size_t sz = sizeof(double);
	int sd_rounds = n > 50 && rounds > 3 ? 3 : rounds;
	double *r_a = calloc((size_t)rounds, sz), *r_b = calloc((size_t)rounds, sz),
	       *e_a = calloc((size_t)rounds, sz), *e_b = calloc((size_t)rounds, sz),
	       *s_a = calloc((size_t)rounds, sz), *s_b = calloc((size_t)rounds, sz);
	struct bl_stats ra, rb, ea, eb, sa, sb;
	char *err = NULL, note[256], sp[160], metric[160];
	double t0;

	if (!r_a || !r_b || !e_a || !e_b || !s_a || !s_b)
		return fail("calloc", NULL);
	fprintf(stderr, "bench/restart: creating %d guest-less VMs ...\n", n);
	t0 = bl_now_ms();
	if (each_vm(n, "create", PARALLEL, &err))
		return fail("create", err);
	fprintf(stderr, "bench/restart: %d VMs created in %.0f ms\n", n, bl_now_ms() - t0);
	/* warm-up: one restart of each */
	{
		double x, y;
		if (restart_round(&d, n, &x, &y, &err) || restart_round(&empty, 0, &x, &y, &err))
			return fail("warm-up restart", err);
	}
	for (int i = 0; i < rounds; i++) {
		int first_a = i % 2 == 0;
		for (int k = 0; k < 2; k++) {
			int a = k == 0 ? first_a : !first_a;
			if (a ? restart_round(&d, n, &e_a[i], &r_a[i], &err)
			      : restart_round(&empty, 0, &e_b[i], &r_b[i], &err))
				return fail(a ? "restart" : "restart (empty)", err);
		}
		fprintf(stderr, "bench/restart: N=%d round %d: restart %.0f ms (empty %.0f ms)\n",
			n, i, r_a[i], r_b[i]);
	}
	/* shutdown --all vs one stop after the other; the VMs are started again
	 * between rounds (not timed, and slow with 100: fewer rounds) */
	for (int i = 0; i < sd_rounds; i++) {
		int first_a = i % 2 == 0;
		for (int k = 0; k < 2; k++) {
			int a = k == 0 ? first_a : !first_a;
			if (i + k > 0 && each_vm(n, "start", PARALLEL, &err))
				return fail("start again", err);
			if (a) {
				if ((s_a[i] = vmctl_shutdown(&err)) < 0)
					return fail("shutdown", err);
			} else {
				t0 = bl_now_ms();
				if (each_vm(n, "stop", 1, &err))
					return fail("sequential stops", err);
				s_b[i] = bl_now_ms() - t0;
			}
		}
		fprintf(stderr,
			"bench/restart: N=%d round %d: shutdown --all %.0f ms "
			"(sequential stops %.0f ms)\n",
			n, i, s_a[i], s_b[i]);
	}
	bl_stats(r_a, rounds, &ra);
	bl_stats(r_b, rounds, &rb);
	bl_stats(e_a, rounds, &ea);
	bl_stats(e_b, rounds, &eb);
	bl_stats(s_a, sd_rounds, &sa);
	bl_stats(s_b, sd_rounds, &sb);
	snprintf(metric, sizeof(metric),
		 "SIGTERM -> new vmsupd serving, %d VMs reattached, median (baseline: no VM)", n);
	snprintf(note, sizeof(note), "n=%d rounds; %s", rounds, bl_spread(&ra, sp, sizeof(sp)));
	bl_result(BENCH, metric, ra.median, "ms", rb.median, "-", note);
	snprintf(metric, sizeof(metric), "SIGTERM -> vmsupd exit, %d VMs, median (baseline: no VM)",
		 n);
	snprintf(note, sizeof(note), "n=%d rounds; all %d qemus run on; %s", rounds, n,
		 bl_spread(&ea, sp, sizeof(sp)));
	bl_result(BENCH, metric, ea.median, "ms", eb.median, "<= 2000 ms", note);
	snprintf(metric, sizeof(metric),
		 "vmctl shutdown --all, %d guest-less VMs, median (baseline: %d POST stop one "
		 "after the other)",
		 n, n);
	snprintf(note, sizeof(note), "n=%d rounds; stop_grace_s 30; %s", sd_rounds,
		 bl_spread(&sa, sp, sizeof(sp)));
	bl_result(BENCH, metric, sa.median, "ms", sb.median, "-", note);
	/* the VMs are stopped: remove them for the next size */
	for (int i = 0; i < n; i++) {
		char name[32];
		snprintf(name, sizeof(name), "r%d", i);
		if (bl_destroy(d.sock, name, &err))
			return fail(name, err);
	}
	free(r_a);
	free(r_b);
	free(e_a);
	free(e_b);
	free(s_a);
	free(s_b);
	return 0;
}

int main(int argc, char **argv)
{
	struct bl_opts o;
	int sizes[2], rounds, rc = 0;
	long avail = bl_mem_available_mib();
	char *err = NULL, load[64];

	rc = bl_parse_opts(argc, argv, "bench/restart [--quick] [-n ROUNDS]", &o);
	if (rc)
		return rc == -2 ? 0 : 2;
	sizes[0] = o.quick ? 3 : 10;
	sizes[1] = o.quick ? 10 : 100;
	rounds = o.n ? o.n : o.quick ? 2 : 5;
	bl_cleanup_install(&d);
	bl_cleanup_also(&empty);
	if (bl_daemon_start(&d, CONF, &err))
		return fail("vmsupd", err);
	if (bl_daemon_start(&empty, CONF, &err))
		return fail("vmsupd (empty)", err);
	bl_info("load before", bl_loadavg(load, sizeof(load)));
	for (int k = 0; k < 2 && !rc; k++) {
		int n = sizes[k];

		if (avail > 0 && (long)n * (VM_MIB + OVERHEAD_MIB) + RESERVE_MIB > avail) {
			int fit = (int)((avail - RESERVE_MIB) / (VM_MIB + OVERHEAD_MIB));
			fprintf(stderr, "bench/restart: %ld MiB available: %d VMs instead of %d\n",
				avail, fit, n);
			n = fit > 1 ? fit : 1;
		}
		rc = measure(n, rounds);
	}
	bl_info("load after", bl_loadavg(load, sizeof(load)));
	bl_daemon_stop(&empty);
	bl_daemon_stop(&d);
	return rc;
}
