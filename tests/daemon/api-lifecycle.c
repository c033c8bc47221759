/* Real vmsupd, real qemu: guest-less VM lifecycle, checked independently. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/daemon-harness.h"

static struct tdaemon d;

static void up(void)
{
	td_start(&d, NULL);
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(lifecycle, .init = up, .fini = down, .timeout = 240);

static struct json_object *create(const char *name, long *status)
{
	char body[256];
	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"kvm:tcg\",\"mem_mib\":64}", name);
	return td_http(&d, "POST", "/v1/vms", body, status);
}

static void expect_ops_status(struct json_object *vm, const char *want)
{
	char *s = td_ops_status(td_str(vm, "qmp_ops_socket"));
	cr_expect_str_eq(s, want, "qemu itself says %s", s);
	free(s);
}

Test(lifecycle, create_pause_resume_kill_destroy)
{
	long st;
	struct json_object *vm = create("a", &st), *r;
	char path[256], *kvm;
	struct stat sb;
	pid_t pid;

	cr_assert_eq(st, 201, "create: %ld", st);
	cr_expect_str_eq(td_str(vm, "state"), "running");
	/* kvm:tcg: the status names the accelerator qemu itself says it runs
	 * on (a /dev/kvm that opens may still refuse a VM: tcg then) */
	kvm = td_ops_query(td_str(vm, "qmp_ops_socket"), "query-kvm", "enabled");
	cr_expect_str_eq(td_str(vm, "accel"), kvm && !strcmp(kvm, "true") ? "kvm" : "tcg",
			 "query-kvm enabled: %s", kvm);
	free(kvm);
	if (access("/dev/kvm", R_OK | W_OK))
		cr_expect_str_eq(td_str(vm, "accel"), "tcg", "no /dev/kvm, yet not tcg");
	else if (strcmp(td_str(vm, "accel"), "kvm"))
		cr_log_warn("/dev/kvm opens but qemu runs on %s", td_str(vm, "accel"));
	pid = (pid_t)td_int(vm, "pid");
	cr_assert_gt(pid, 0);
	cr_expect(td_pid_is_qemu(pid), "pid %d is not a live qemu", (int)pid);
	cr_expect_str_eq(td_str(vm, "agent"), "absent");
	cr_expect_gt(td_int(vm, "ssh_port"), 1023);
	/* the run dir is private */
	snprintf(path, sizeof(path), "%s/run/vm/a", d.dir);
	cr_assert_eq(stat(path, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/state/a.json", d.dir);
	cr_expect_eq(stat(path, &sb), 0, "state file written");
	expect_ops_status(vm, "running");

	r = td_http(&d, "POST", "/v1/vms/a/pause", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "paused");
	expect_ops_status(vm, "paused");
	json_object_put(r);

	r = td_http(&d, "POST", "/v1/vms/a/pause", NULL, &st);
	cr_expect_eq(st, 409, "pausing a paused VM is a conflict");
	cr_expect_str_eq(td_err_class(r), "Conflict");
	json_object_put(r);

	r = td_http(&d, "POST", "/v1/vms/a/resume", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "running");
	expect_ops_status(vm, "running");
	json_object_put(r);

	r = td_http(&d, "POST", "/v1/vms/a/qmp", "{\"execute\":\"query-status\"}", &st);
	cr_expect_eq(st, 200);
	cr_expect(r && strstr(json_object_to_json_string(r), "\"running\""));
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/a/qmp", "{\"execute\":\"no-such-command\"}", &st);
	cr_expect_eq(st, 502);
	cr_expect_str_eq(td_err_class(r), "CommandNotFound");
	json_object_put(r);

	r = td_http(&d, "POST", "/v1/vms/a/kill", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "stopped");
	cr_expect_eq(td_int(r, "exit_signal"), SIGKILL);
	cr_expect(td_pid_gone(pid, 5000), "qemu %d still there after kill", (int)pid);
	json_object_put(r);

	/* and it starts again */
	r = td_http(&d, "POST", "/v1/vms/a/start", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "running");
	pid = (pid_t)td_int(r, "pid");
	cr_expect(td_pid_is_qemu(pid));
	json_object_put(r);

	r = td_http(&d, "DELETE", "/v1/vms/a", NULL, &st);
	cr_expect_eq(st, 200);
	json_object_put(r);
	cr_expect(td_pid_gone(pid, 5000));
	r = td_http(&d, "GET", "/v1/vms/a", NULL, &st);
	cr_expect_eq(st, 404);
	json_object_put(r);
	snprintf(path, sizeof(path), "%s/run/vm/a", d.dir);
	cr_expect_neq(stat(path, &sb), 0, "run dir removed");
	snprintf(path, sizeof(path), "%s/state/a.json", d.dir);
	cr_expect_neq(stat(path, &sb), 0, "state file removed");
	json_object_put(vm);
}

Test(lifecycle, no_start_then_start)
{
	long st;
	struct json_object *r =
	    td_http(&d, "POST", "/v1/vms", "{\"name\":\"n\",\"guest\":false,\"start\":false}", &st);

	cr_expect_eq(st, 201);
	cr_expect_str_eq(td_str(r, "state"), "defined");
	cr_expect_eq(td_int(r, "pid"), -1);
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/n/stop", NULL, &st);
	cr_expect_eq(st, 409);
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/n/start", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "running");
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/n/stop", "{\"timeout_s\":0}", &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "stopped");
	cr_expect_eq(td_int(r, "exit_status"), 0, "quit is a clean exit");
	json_object_put(r);
}

/* How fast the death is seen is a figure (printed), not asserted: a loaded
 * CI host stretches it; the project keeps timing goals in bench/. */
Test(lifecycle, killed_qemu_is_crashed_with_its_signal)
{
	long st;
	struct json_object *vm = create("c", &st), *r;
	pid_t pid = (pid_t)td_int(vm, "pid");
	int ev = td_events_open(&d, "c");
	double t0, dt;

	cr_assert_eq(st, 201);
	cr_assert_gt(pid, 0);
	t0 = td_now();
	kill(pid, SIGKILL);
	cr_assert(td_events_wait(ev, "\"state\":\"crashed\"", 5000), "no crashed event");
	dt = td_now() - t0;
	fprintf(stderr, "crash detection: %.1f ms\n", dt * 1000);
	r = td_http(&d, "GET", "/v1/vms/c", NULL, &st);
	cr_expect_str_eq(td_str(r, "state"), "crashed");
	cr_expect_eq(td_int(r, "exit_signal"), SIGKILL);
	cr_expect(td_str(r, "error") && strstr(td_str(r, "error"), "without a SHUTDOWN"));
	json_object_put(r);
	close(ev);
	json_object_put(vm);
}

Test(lifecycle, failed_start_reports_qemu_stderr)
{
	long st;
	/* 2 TiB of guest RAM cannot be allocated: qemu exits during start-up */
	struct json_object *r =
	    td_http(&d, "POST", "/v1/vms",
		    "{\"name\":\"f\",\"guest\":false,\"mem_mib\":1048576,\"cpus\":64}", &st);

	cr_expect_eq(st, 201);
	if (strcmp(td_str(r, "state"), "failed") == 0) {
		cr_expect_not_null(td_str(r, "error"));
		cr_expect_not_null(td_str(r, "log_tail"), "qemu's stderr is in the status");
	} else {
		/* overcommit let it through; nothing to check but a clean VM */
		cr_expect_str_eq(td_str(r, "state"), "running");
	}
	json_object_put(r);
}

struct cc {
	int i;
	long status;
	char state[32];
};

static void *create_one(void *arg)
{
	struct cc *c = arg;
	char name[16];
	struct json_object *r;

	snprintf(name, sizeof(name), "vm%02d", c->i);
	r = create(name, &c->status);
	snprintf(c->state, sizeof(c->state), "%s", td_str(r, "state") ? td_str(r, "state") : "?");
	json_object_put(r);
	return NULL;
}

Test(lifecycle, twenty_concurrent)
{
	pthread_t t[20];
	struct cc c[20];
	long st;
	struct json_object *l, *vms;
	pid_t pids[20];

	for (int i = 0; i < 20; i++) {
		c[i].i = i;
		pthread_create(&t[i], NULL, create_one, &c[i]);
	}
	for (int i = 0; i < 20; i++) {
		pthread_join(t[i], NULL);
		cr_expect_eq(c[i].status, 201, "vm%02d: %ld", i, c[i].status);
		cr_expect_str_eq(c[i].state, "running", "vm%02d", i);
	}
	l = td_http(&d, "GET", "/v1/vms", NULL, &st);
	cr_assert(json_object_object_get_ex(l, "vms", &vms));
	cr_assert_eq(json_object_array_length(vms), 20);
	for (int i = 0; i < 20; i++) {
		pids[i] = (pid_t)td_int(json_object_array_get_idx(vms, i), "pid");
		cr_expect(td_pid_is_qemu(pids[i]));
		for (int j = 0; j < i; j++)
			cr_expect_neq(pids[i], pids[j]);
	}
	json_object_put(l);
	for (int i = 0; i < 20; i++) {
		char path[32];
		struct json_object *r;
		snprintf(path, sizeof(path), "/v1/vms/vm%02d", i);
		r = td_http(&d, "DELETE", path, NULL, &st);
		cr_expect_eq(st, 200);
		json_object_put(r);
	}
	for (int i = 0; i < 20; i++)
		cr_expect(td_pid_gone(pids[i], 5000));
}

Test(lifecycle, sigterm_stops_everything)
{
	long st;
	struct json_object *vm = create("t", &st);
	pid_t pid = (pid_t)td_int(vm, "pid");
	int status;
	struct stat sb;

	cr_assert_eq(st, 201);
	kill(d.pid, SIGTERM);
	cr_assert_eq(waitpid(d.pid, &status, 0), d.pid);
	d.pid = 0;
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d", status);
	cr_expect(td_pid_gone(pid, 1000), "qemu survived the daemon's shutdown");
	cr_expect_neq(stat(d.sock, &sb), 0, "socket removed");
	json_object_put(vm);
}

Test(lifecycle, two_daemons_side_by_side)
{
	struct tdaemon d2;
	long st1, st2;
	struct json_object *a = create("same", &st1), *b;

	td_start(&d2, NULL);
	b = td_http(&d2, "POST", "/v1/vms", "{\"name\":\"same\",\"guest\":false}", &st2);
	cr_expect_eq(st1, 201);
	cr_expect_eq(st2, 201);
	cr_expect_neq(td_int(a, "pid"), td_int(b, "pid"));
	cr_expect_str_neq(td_str(a, "qmp_ops_socket"), td_str(b, "qmp_ops_socket"));
	td_stop(&d2);
	/* the first daemon's VM is untouched */
	cr_expect(td_pid_is_qemu((pid_t)td_int(a, "pid")));
	json_object_put(a);
	json_object_put(b);
}
