/*
 * Restart policies on the real daemon (guest-less VMs): on-failure with
 * backoff and the burst limit, always vs never, a qemu binary that
 * disappears, and a qemu that stops answering QMP.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <config.h>

#include "tests/core/reattach-util.h"

static struct tdaemon d;
static char qdir[64];
static pid_t stopped_pid;

static void up(void)
{
	td_start(&d, "stop_grace_s = 5\nrestart_burst = 3\nrestart_interval_s = 300");
}

static void down(void)
{
	if (stopped_pid > 0)
		kill(stopped_pid, SIGCONT);
	stopped_pid = 0;
	td_stop(&d);
	if (qdir[0]) {
		char p[128];
		snprintf(p, sizeof(p), "%s/qemu-system-x86_64", qdir);
		unlink(p);
		rmdir(qdir);
		qdir[0] = '\0';
	}
}

TestSuite(policy, .init = up, .fini = down, .timeout = 600);

Test(policy, on_failure_backoff_and_burst_limit)
{
	pid_t pid = rt_create(&d, "of", "\"restart\":\"on-failure\"");
	double gap[3];
	struct json_object *vm;

	for (int i = 0; i < 3; i++) {
		double t0 = td_now();
		kill(pid, SIGKILL);
		vm = rt_wait_state(&d, "of", "running", pid, 120000);
		gap[i] = td_now() - t0;
		cr_expect_eq(td_int(vm, "restarts"), i + 1);
		pid = (pid_t)td_int(vm, "pid");
		cr_expect(td_pid_is_qemu(pid));
		json_object_put(vm);
	}
	/* 1 s, 2 s, 4 s apart (start-up time comes on top) */
	cr_expect_geq(gap[0], 1.0, "%.2f", gap[0]);
	cr_expect_geq(gap[1], 2.0, "%.2f", gap[1]);
	cr_expect_geq(gap[2], 4.0, "%.2f", gap[2]);
	fprintf(stderr, "restart gaps: %.2f %.2f %.2f s\n", gap[0], gap[1], gap[2]);

	/* the 4th crash within the window: the limit (3) holds it down */
	kill(pid, SIGKILL);
	vm = rt_wait_state(&d, "of", "crashed", 0, 10000);
	json_object_put(vm);
	sleep(10); /* longer than the next backoff (8 s) */
	vm = rt_get(&d, "of");
	cr_expect_str_eq(td_str(vm, "state"), "crashed");
	cr_expect_eq(td_int(vm, "restarts"), 3);
	cr_expect(td_str(vm, "error") && strstr(td_str(vm, "error"), "restart limit reached"),
		  "error: %s", td_str(vm, "error"));
	json_object_put(vm);
}

Test(policy, never_stays_down)
{
	pid_t pid = rt_create(&d, "nv", NULL);
	struct json_object *vm;

	kill(pid, SIGKILL);
	json_object_put(rt_wait_state(&d, "nv", "crashed", 0, 10000));
	sleep(3);
	vm = rt_get(&d, "nv");
	cr_expect_str_eq(td_str(vm, "state"), "crashed");
	cr_expect_eq(td_int(vm, "restarts"), 0);
	cr_expect_str_eq(td_str(vm, "restart"), "never");
	json_object_put(vm);
}

/* A clean exit (qemu's own quit, as a guest power-off would be): always
 * restarts it, on-failure does not; an API stop is never undone. */
Test(policy, always_vs_on_failure_on_clean_exit)
{
	const char *quit = "{\"execute\":\"quit\"}";
	pid_t pa = rt_create(&d, "al", "\"restart\":\"always\"");
	pid_t po = rt_create(&d, "of2", "\"restart\":\"on-failure\"");
	struct json_object *vm;
	long st;

	json_object_put(td_http(&d, "POST", "/v1/vms/al/qmp", quit, &st));
	json_object_put(td_http(&d, "POST", "/v1/vms/of2/qmp", quit, &st));
	vm = rt_wait_state(&d, "al", "running", pa, 60000);
	cr_expect_eq(td_int(vm, "restarts"), 1);
	pa = (pid_t)td_int(vm, "pid");
	json_object_put(vm);
	sleep(2);
	vm = rt_get(&d, "of2");
	cr_expect_str_eq(td_str(vm, "state"), "stopped");
	cr_expect_eq(td_int(vm, "restarts"), 0);
	json_object_put(vm);
	cr_expect(td_pid_gone(po, 5000));

	vm = td_http(&d, "POST", "/v1/vms/al/stop", "{\"timeout_s\":0}", &st);
	cr_expect_eq(st, 200);
	json_object_put(vm);
	sleep(3);
	vm = rt_get(&d, "al");
	cr_expect_str_eq(td_str(vm, "state"), "stopped", "an API stop is not undone");
	json_object_put(vm);
	cr_expect(td_pid_gone(pa, 5000));
}

/* The binary goes away under a running VM (an upgrade, say): the restart
 * fails at exec, with the error in the status; the policy retries, bounded. */
Test(policy, missing_qemu_binary)
{
	char conf[300], link[128], *real;
	pid_t pid;
	struct json_object *vm;

	down();
	strcpy(qdir, "/tmp/vsr-q-XXXXXX");
	cr_assert_not_null(mkdtemp(qdir));
	snprintf(link, sizeof(link), "%s/qemu-system-x86_64", qdir);
	real = realpath(QEMU_DEFAULT, NULL);
	cr_assert_not_null(real, "%s", QEMU_DEFAULT);
	cr_assert_eq(symlink(real, link), 0);
	free(real);
	snprintf(conf, sizeof(conf), "restart_burst = 2\nrestart_interval_s = 300\nqemu = %s",
		 link);
	td_start(&d, conf);

	pid = rt_create(&d, "mb", "\"restart\":\"on-failure\"");
	cr_assert_eq(unlink(link), 0);
	kill(pid, SIGKILL);
	/* attempts at +1 s and +2 s both fail at exec; then the limit */
	sleep(6);
	vm = rt_wait_state(&d, "mb", "failed", 0, 30000);
	cr_expect(td_str(vm, "error") && strstr(td_str(vm, "error"), "No such file"), "error: %s",
		  td_str(vm, "error"));
	cr_expect(td_str(vm, "error") && strstr(td_str(vm, "error"), "restart limit reached"),
		  "error: %s", td_str(vm, "error"));
	cr_expect_eq(td_int(vm, "restarts"), 2);
	cr_expect_eq(td_int(vm, "pid"), -1);
	json_object_put(vm);

	/* a manual start says why at once */
	{
		long st;
		vm = td_http(&d, "POST", "/v1/vms/mb/start", NULL, &st);
		cr_expect_str_eq(td_str(vm, "state"), "failed");
		cr_expect(td_str(vm, "error") && strstr(td_str(vm, "error"), "No such file"),
			  "error: %s", td_str(vm, "error"));
		json_object_put(vm);
	}
}

struct call {
	const char *path;
	long status;
	double took;
};

static void *hung_call(void *arg)
{
	struct call *c = arg;
	double t0 = td_now();

	json_object_put(td_http(&d, "POST", c->path, NULL, &c->status));
	c->took = td_now() - t0;
	return NULL;
}

/* qemu stops answering (SIGSTOP): requests to it time out with 504, the
 * daemon keeps serving the other VMs meanwhile. */
Test(policy, unresponsive_qmp_times_out)
{
	pid_t hung = rt_create(&d, "hung", NULL);
	struct call c = {"/v1/vms/hung/pause", 0, 0};
	pthread_t t;
	struct json_object *r;
	long st;
	double t0;

	rt_create(&d, "ok", NULL);
	cr_assert_eq(kill(hung, SIGSTOP), 0);
	stopped_pid = hung;
	cr_assert_eq(pthread_create(&t, NULL, hung_call, &c), 0);
	usleep(200000);
	t0 = td_now();
	r = td_http(&d, "POST", "/v1/vms/ok/pause", NULL, &st);
	cr_expect_eq(st, 200, "the other VM is served: %ld", st);
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/ok/resume", NULL, &st);
	cr_expect_eq(st, 200);
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/vms/hung", NULL, &st);
	cr_expect_eq(st, 200, "status of the hung VM still answers");
	json_object_put(r);
	cr_expect_lt(td_now() - t0, 10.0, "other VMs served promptly (%.1f s)", td_now() - t0);

	r = td_http(&d, "POST", "/v1/vms/hung/qmp", "{\"execute\":\"query-status\"}", &st);
	cr_expect_eq(st, 504, "QMP passthrough to a stopped qemu: %ld", st);
	json_object_put(r);
	pthread_join(t, NULL);
	cr_expect_eq(c.status, 504, "pause of a stopped qemu: %ld after %.1f s", c.status, c.took);
	kill(hung, SIGCONT);
	stopped_pid = 0;
}
