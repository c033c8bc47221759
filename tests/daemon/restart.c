/*
 * Real vmsupd, real qemu (guest-less VMs): the daemon as a service one can
 * restart (issue 20). One daemon per state dir: a second one exits at once
 * having touched nothing; SIGTERM leaves the VMs running (on_exit = keep)
 * for the next daemon; a stop never waits for a guest that is not there;
 * sd_notify's READY=1 / STOPPING=1 to a fake NOTIFY_SOCKET.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/core/reattach-util.h"

static struct tdaemon d;

static void up(void)
{
	td_start(&d, "stop_grace_s = 30\non_exit = keep");
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(restart, .init = up, .fini = down, .timeout = 300);

/* Run a second vmsupd on d's config and dirs with socket sock; its stderr
 * into errfile. Returns its exit status (-1: still running after 10 s,
 * then killed), *secs the time it took. */
static int second_daemon(const char *sock, const char *errfile, double *secs)
{
	char conf[160], state[128], run[128];
	double t0 = td_now();
	pid_t pid;
	int st;

	snprintf(conf, sizeof(conf), "%s/vmsupd.conf", d.dir);
	snprintf(state, sizeof(state), "%s/state", d.dir);
	snprintf(run, sizeof(run), "%s/run", d.dir);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		execl(td_vmsupd_bin(), "vmsupd", "-c", conf, "--socket", sock, "--state-dir", state,
		      "--run-dir", run, "-f", (char *)NULL);
		_exit(127);
	}
	while (td_now() < t0 + 10) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			*secs = td_now() - t0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(5000);
	}
	*secs = td_now() - t0;
	/* it serves: stop it the old way (it would stop the VMs: kill -9) */
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static char *slurp(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* name=pid:state for every VM, and the pool listing, as one string. */
static char *snapshot(void)
{
	long st;
	struct json_object *list = td_http(&d, "GET", "/v1/vms", NULL, &st), *vms, *pool;
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);

	cr_assert_eq(st, 200);
	cr_assert(json_object_object_get_ex(list, "vms", &vms));
	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);
		fprintf(f, "%s=%lld:%s ", td_str(vm, "name"), td_int(vm, "pid"),
			td_str(vm, "state"));
	}
	pool = td_http(&d, "GET", "/v1/pool", NULL, &st);
	fprintf(f, "| pool %ld %s", st, pool ? json_object_to_json_string(pool) : "-");
	fclose(f);
	json_object_put(pool);
	json_object_put(list);
	return s;
}

/* A second daemon on the same state dir, on the same socket and on another
 * one: exit 1 in < 1 s naming the lock and the holder; the first daemon's
 * VMs (pids, states), pool and socket are as they were. */
Test(restart, second_daemon_refused)
{
	static const char *const which[] = {"same socket", "other socket"};
	char other[160], errfile[160], want_pid[32];
	pid_t pids[2];
	char *before;

	pids[0] = rt_create(&d, "l0", NULL);
	pids[1] = rt_create(&d, "l1", NULL);
	before = snapshot();
	snprintf(other, sizeof(other), "%s/api2.sock", d.dir);
	snprintf(errfile, sizeof(errfile), "%s/second.err", d.dir);
	snprintf(want_pid, sizeof(want_pid), "pid %d", (int)d.pid);
	for (int k = 0; k < 2; k++) {
		double secs;
		int rc = second_daemon(k ? other : d.sock, errfile, &secs);
		const char *msg = slurp(errfile);
		char *after;

		cr_expect_eq(rc, 1, "%s: exit %d (-1: still serving), stderr: %s", which[k], rc,
			     msg);
		cr_expect_lt(secs, 1.0, "%s: took %.2f s", which[k], secs);
		cr_expect(strstr(msg, "vmsupd.lock"), "%s: no lock named in: %s", which[k], msg);
		cr_expect(strstr(msg, want_pid), "%s: holder pid not named in: %s", which[k], msg);
		cr_expect(access(other, F_OK) != 0, "%s: the second daemon made its socket",
			  which[k]);
		after = snapshot();
		cr_expect_str_eq(after, before, "%s: the first daemon's VMs changed", which[k]);
		free(after);
	}
	for (int i = 0; i < 2; i++)
		cr_expect(td_pid_is_qemu(pids[i]), "l%d's qemu is gone", i);
	free(before);
}

/* Pids of the VMs named t0..t(n-1), by their status. */
static void vm_pids(const char *prefix, int n, pid_t *pids)
{
	for (int i = 0; i < n; i++) {
		char name[32];
		struct json_object *vm;

		snprintf(name, sizeof(name), "%s%d", prefix, i);
		vm = rt_get(&d, name);
		pids[i] = (pid_t)td_int(vm, "pid");
		json_object_put(vm);
	}
}

/* SIGTERM the daemon; returns the seconds to its exit (asserted exit 0). */
static double sigterm_daemon(void)
{
	double t0 = td_now();
	int st = 0;

	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	while (waitpid(d.pid, &st, WNOHANG) == 0) {
		if (td_now() > t0 + 60) {
			kill(d.pid, SIGKILL);
			waitpid(d.pid, &st, 0);
			d.pid = 0;
			cr_assert_fail("vmsupd did not exit within 60 s of SIGTERM");
		}
		usleep(2000);
	}
	d.pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vmsupd exit status %#x", st);
	return td_now() - t0;
}

/* on_exit = keep (the default, said explicitly here as the harness's is
 * stop): SIGTERM with 3 guest-less VMs running
 * exits within 2 s and leaves the 3 qemus running; the next daemon
 * reattaches them (same pids, running) and a stop through its API works. */
Test(restart, sigterm_keeps_vms)
{
	pid_t pids[3], again[3];
	double secs, t0;
	long st;

	for (int i = 0; i < 3; i++) {
		char name[32];
		snprintf(name, sizeof(name), "k%d", i);
		pids[i] = rt_create(&d, name, NULL);
	}
	secs = sigterm_daemon();
	fprintf(stderr, "measured: SIGTERM -> exit: %.3f s\n", secs);
	cr_expect_lt(secs, 2.0, "SIGTERM -> exit took %.2f s", secs);
	for (int i = 0; i < 3; i++)
		cr_expect(td_pid_is_qemu(pids[i]), "k%d's qemu (pid %d) is gone", i, (int)pids[i]);
	cr_expect_eq(td_count_qemus(&d), 3);

	td_restart(&d);
	vm_pids("k", 3, again);
	for (int i = 0; i < 3; i++) {
		char name[32];
		struct json_object *vm;

		snprintf(name, sizeof(name), "k%d", i);
		vm = rt_get(&d, name);
		cr_expect_eq(again[i], pids[i], "k%d: same qemu", i);
		cr_expect_str_eq(td_str(vm, "state"), "running", "k%d: %s (%s)", i,
				 td_str(vm, "state"), td_str(vm, "error"));
		json_object_put(vm);
	}
	t0 = td_now();
	json_object_put(td_http(&d, "POST", "/v1/vms/k1/stop", NULL, &st));
	cr_expect_eq(st, 200, "stop of a reattached VM: %ld", st);
	cr_expect(td_pid_gone(pids[1], 10000), "k1's qemu still runs after its stop");
	fprintf(stderr, "measured: stop of reattached guest-less k1: %.3f s\n", td_now() - t0);
	json_object_put(rt_wait_state(&d, "k1", "stopped", 0, 10000));
	/* td_stop (fini) kills k0 and k2 by their pidfiles */
}

/* on_exit = stop: SIGTERM stops every VM before the exit. */
Test(restart, sigterm_on_exit_stop)
{
	pid_t pid;
	double secs;

	td_stop(&d);
	td_start(&d, "stop_grace_s = 30\non_exit = stop");
	pid = rt_create(&d, "s0", NULL);
	secs = sigterm_daemon();
	fprintf(stderr, "measured: SIGTERM -> exit (on_exit = stop, 1 guest-less VM): %.3f s\n",
		secs);
	cr_expect(td_pid_gone(pid, 5000), "on_exit = stop left qemu %d running", (int)pid);
	cr_expect_lt(secs, 10.0, "took %.2f s", secs);
}

/* POST /v1/vms/NAME/stop: seconds it took, status asserted 200. */
static double timed_stop(const char *name)
{
	char path[128];
	double t0 = td_now();
	long st;
	struct json_object *r;

	snprintf(path, sizeof(path), "/v1/vms/%s/stop", name);
	r = td_http(&d, "POST", path, NULL, &st);
	cr_expect_eq(st, 200, "stop %s: %ld %s", name, st, td_err_desc(r));
	cr_expect_str_eq(td_str(r, "state"), "stopped", "stop %s", name);
	json_object_put(r);
	return td_now() - t0;
}

/* stop_grace_s = 30: a guest-less VM is quit at once, not powered off
 * through ACPI and waited for; a stop of a stopped VM succeeds. */
Test(restart, guestless_stop_is_quick)
{
	pid_t pid = rt_create(&d, "g0", NULL);
	double secs = timed_stop("g0");

	fprintf(stderr, "measured: stop of guest-less g0 (stop_grace_s = 30): %.3f s\n", secs);
	cr_expect_lt(secs, 5.0, "stop took %.2f s", secs);
	cr_expect(td_pid_gone(pid, 5000));
	secs = timed_stop("g0");
	cr_expect_lt(secs, 1.0, "second stop took %.2f s", secs);
}

/* A VM with a kernel whose guest never brings an agent up (here it panics:
 * no root fs, panic=0 keeps it there): the stop quits it at once instead
 * of ACPI and 30 s of grace. */
Test(restart, agentless_guest_stop_is_quick)
{
	const char *g = getenv("VMSUP_GUEST_DIR");
	char body[768], kernel[512];
	struct json_object *vm;
	double secs;
	pid_t pid;
	long st;

	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", g ? g : "");
	if (!g || access(kernel, R_OK) != 0)
		cr_skip_test("no test guest kernel (VMSUP_GUEST_DIR)");
	snprintf(body, sizeof(body),
		 "{\"name\":\"nb\",\"kernel\":\"%s\",\"append\":\"console=ttyS0 panic=0\","
		 "\"accel\":\"tcg\",\"mem_mib\":128}",
		 kernel);
	vm = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create: %ld %s", st, td_err_desc(vm));
	cr_assert_str_eq(td_str(vm, "state"), "running", "%s", td_str(vm, "error"));
	pid = (pid_t)td_int(vm, "pid");
	json_object_put(vm);
	usleep(1500 * 1000); /* the kernel is up to something, no agent */
	vm = rt_get(&d, "nb");
	cr_expect_str_neq(td_str(vm, "agent"), "ready", "this guest must have no agent");
	json_object_put(vm);
	secs = timed_stop("nb");
	fprintf(stderr, "measured: stop of agent-less guest nb (stop_grace_s = 30): %.3f s\n",
		secs);
	cr_expect_lt(secs, 5.0, "stop took %.2f s", secs);
	cr_expect(td_pid_gone(pid, 5000));
}

/* A fake systemd: a unix datagram socket bound at path; returns its fd. */
static int notify_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	strncpy(sa.sun_path, path, sizeof(sa.sun_path) - 1);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "bind %s", path);
	return fd;
}

/* Datagrams until one contains needle (within timeout_ms); all of them
 * appended to log (size n). */
static bool notify_wait(int fd, const char *needle, int timeout_ms, char *log, size_t n)
{
	double deadline = td_now() + timeout_ms / 1000.0;

	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		char buf[1024];
		ssize_t r;
		int left = (int)((deadline - td_now()) * 1000);

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return false;
		if ((r = recv(fd, buf, sizeof(buf) - 1, 0)) <= 0)
			return false;
		buf[r] = '\0';
		strncat(log, buf, n - strlen(log) - 2);
		strcat(log, "|");
		if (strstr(buf, needle))
			return true;
	}
}

/* The notify protocol (Type=notify): READY=1 with a STATUS= once the API
 * serves and the VMs of the previous run are back; STOPPING=1 on SIGTERM. */
Test(restart, sd_notify)
{
	char dir[] = "/tmp/vsn-XXXXXX", path[64], log[4096] = "";
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/notify.sock", dir);
	fd = notify_socket(path);
	rt_create(&d, "n0", NULL);
	td_kill9(&d);
	setenv("NOTIFY_SOCKET", path, 1);
	td_restart(&d);
	unsetenv("NOTIFY_SOCKET");
	cr_expect(notify_wait(fd, "READY=1", 5000, log, sizeof(log)), "no READY=1: %s", log);
	cr_expect(strstr(log, "STATUS=serving 1 VMs"), "READY without the reattached VM: %s", log);
	sigterm_daemon();
	cr_expect(notify_wait(fd, "STOPPING=1", 5000, log, sizeof(log)), "no STOPPING=1: %s", log);
	fprintf(stderr, "measured: notify datagrams: %s\n", log);
	close(fd);
	unlink(path);
	rmdir(dir);
}
