/*
 * bench/qmp-rtt [--quick] [-n N]: round trip of query-status on an idle,
 * guest-less qemu, through libqmp versus a minimal blocking client on a
 * second QMP monitor of the same qemu (the floor: what the socket and QEMU
 * cost by themselves), in the same mode (oob enabled, as libqmp does: QEMU
 * suspends and resumes a monitor without it around every command) and
 * sending the same bytes. Samples alternate A, B so load changes hit both.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "qmp/qmp.h"

#define TIMEOUT_MS 30000
#define WARMUP	   50

static const char usage[] = "usage: qmp-rtt [--quick] [-n N]\n";

static pid_t spawn_qemu(const char *dir, char sock[2][256])
{
	const char *qemu = getenv("QEMU");
	char qa[600], qb[600];
	pid_t parent = getpid(), pid;

	snprintf(sock[0], 256, "%s/a.sock", dir);
	snprintf(sock[1], 256, "%s/b.sock", dir);
	snprintf(qa, sizeof(qa), "unix:%s,server=on,wait=off", sock[0]);
	snprintf(qb, sizeof(qb), "unix:%s,server=on,wait=off", sock[1]);
	const char *argv[] = {qemu && *qemu ? qemu : QEMU_DEFAULT,
			      "-machine",
			      "q35",
			      "-nodefaults",
			      "-display",
			      "none",
			      "-S",
			      "-m",
			      "64",
			      "-accel",
			      "kvm",
			      "-accel",
			      "tcg",
			      "-qmp",
			      qa,
			      "-qmp",
			      qb,
			      NULL};
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	bl_track_pid(pid);
	for (int i = 0; i < 600; i++) {
		struct stat a, b;
		if (stat(sock[0], &a) == 0 && stat(sock[1], &b) == 0)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			bl_untrack_pid(pid);
			return -1;
		}
		bl_sleep_ms(100);
	}
	return -1;
}

struct waiter {
	int done;
	int failed;
	struct qmp_error err;
	char accel[16];
};

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
	on_ready(s, err, arg);
}

static void on_kvm(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		   void *arg)
{
	struct waiter *w = arg;
	struct json_object *en;

	on_ready(s, err, arg);
	if (!err && json_object_object_get_ex(ret, "enabled", &en))
		snprintf(w->accel, sizeof(w->accel), "%s",
			 json_object_get_boolean(en) ? "kvm" : "tcg");
}

/* One libqmp round trip in ms, or -1. */
static double qmp_rtt(struct event_base *base, struct qmp_session *s, struct qmp_error *err)
{
	struct waiter w = {0};
	double t0 = bl_now_ms();

	if (qmp_call(s, "query-status", NULL, TIMEOUT_MS, on_reply, &w, err) < 0)
		return -1;
	while (!w.done)
		if (event_base_loop(base, EVLOOP_ONCE) < 0)
			return -1;
	double t = bl_now_ms() - t0;
	if (w.failed) {
		*err = w.err;
		return -1;
	}
	return t;
}

static double raw_rtt(struct bl_raw *r)
{
	double t0 = bl_now_ms();

	if (bl_raw_call(r, "{\"execute\":\"query-status\"}\n", TIMEOUT_MS) < 0)
		return -1;
	return bl_now_ms() - t0;
}

int main(int argc, char **argv)
{
	struct bl_opts o;
	char dir[] = "/tmp/qmp-rtt.XXXXXX", sock[2][256], spread[128], note[256];
	struct event_base *base = NULL;
	struct qmp_session *s = NULL;
	struct bl_raw raw = {.fd = -1};
	struct waiter w = {0};
	struct qmp_error err;
	double *a = NULL, *b = NULL;
	int rc = 1, n;
	pid_t pid = -1;

	switch (bl_parse_opts(argc, argv, usage, &o)) {
	case -1:
		return 2;
	case -2:
		return 0;
	}
	n = o.n > 0 ? o.n : o.quick ? 100 : 1000;
	bl_cleanup_install(NULL);
	if (!mkdtemp(dir)) {
		perror("qmp-rtt: mkdtemp");
		return 1;
	}
	a = calloc((size_t)n, sizeof(*a));
	b = calloc((size_t)n, sizeof(*b));
	base = event_base_new();
	if (!a || !b || !base)
		goto out;
	if ((pid = spawn_qemu(dir, sock)) < 0) {
		fprintf(stderr, "qmp-rtt: qemu did not start\n");
		goto out;
	}
	s = qmp_session_new(base, QMP_KIND_QMP, NULL);
	if (!s || qmp_connect(s, sock[0], on_ready, &w, &err) < 0) {
		fprintf(stderr, "qmp-rtt: %s: %s\n", sock[0], s ? err.desc : "no session");
		goto out;
	}
	while (!w.done)
		event_base_loop(base, EVLOOP_ONCE);
	if (w.failed) {
		fprintf(stderr, "qmp-rtt: handshake: %s\n", w.err.desc);
		goto out;
	}
	memset(&w, 0, sizeof(w));
	qmp_call(s, "query-kvm", NULL, TIMEOUT_MS, on_kvm, &w, NULL);
	while (!w.done)
		event_base_loop(base, EVLOOP_ONCE);
	if (bl_raw_open(&raw, sock[1], TIMEOUT_MS) < 0) {
		fprintf(stderr, "qmp-rtt: raw client on %s failed\n", sock[1]);
		goto out;
	}
	for (int i = 0; i < WARMUP; i++)
		if (qmp_rtt(base, s, &err) < 0 || raw_rtt(&raw) < 0)
			goto fail;
	for (int i = 0; i < n; i++) {
		if ((a[i] = qmp_rtt(base, s, &err)) < 0 || (b[i] = raw_rtt(&raw)) < 0)
			goto fail;
	}
	struct bl_stats sa, sb;
	bl_stats(a, n, &sa);
	bl_stats(b, n, &sb);
	bl_info("accel", w.accel[0] ? w.accel : "unknown");
	snprintf(note, sizeof(note), "n=%d alternating; libqmp %s", n,
		 bl_spread(&sa, spread, sizeof(spread)));
	bl_result("qmp-rtt", "query-status round trip, median (libqmp vs raw socket)",
		  sa.median * 1000, "us", sb.median * 1000, "<= 1.1x raw", note);
	snprintf(note, sizeof(note), "raw %s", bl_spread(&sb, spread, sizeof(spread)));
	bl_result("qmp-rtt", "query-status round trip, p99 (libqmp vs raw socket)", sa.p99 * 1000,
		  "us", sb.p99 * 1000, "<= 1.1x raw", note);
	fprintf(stderr,
		"qmp-rtt: %d query-status on idle qemu (%s): libqmp median %.1f us p99 %.1f us; "
		"raw median %.1f us p99 %.1f us\n",
		n, w.accel[0] ? w.accel : "?", sa.median * 1000, sa.p99 * 1000, sb.median * 1000,
		sb.p99 * 1000);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "qmp-rtt: a query-status failed: %s\n", err.desc);
out:
	bl_raw_close(&raw);
	qmp_session_free(s);
	if (base)
		event_base_free(base);
	if (pid > 0) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		bl_untrack_pid(pid);
	}
	unlink(sock[0]);
	unlink(sock[1]);
	rmdir(dir);
	free(a);
	free(b);
	return rc;
}
