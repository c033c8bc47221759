/*
 * Real vmsupd, real qemu (guest-less VMs): the daemon as a service one can
 * restart (issue 20). One daemon per state dir: a second one exits at once
 * having touched nothing.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/core/reattach-util.h"

static struct tdaemon d;

static void up(void)
{
	td_start(&d, "stop_grace_s = 30");
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(restart, .init = up, .fini = down, .timeout = 300);

static const char *vmsupd_bin(void)
{
	static char path[512];
	const char *b = getenv("top_builddir");

	snprintf(path, sizeof(path), "%s/src/daemon/vmsupd", b ? b : ".");
	return path;
}

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
		execl(vmsupd_bin(), "vmsupd", "-c", conf, "--socket", sock, "--state-dir", state,
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
