/*
 * Real vmsupd, real qemu: `vmctl destroy --force` / DELETE ?force=1
 * (issue 20: a stop never waits for nothing). qemu is SIGKILLed at once,
 * no ACPI, no quit, no grace: a test guest still booting, a hung (SIGSTOPped)
 * qemu, and a graceful destroy already waiting, which it overtakes. The VM
 * is gone with its run dir, cgroup and state file.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/core/reattach-util.h"
#include "tests/limits/limits-util.h"

static struct tdaemon d;

static void up(void)
{
	td_start(&d, "stop_grace_s = 30\non_exit = keep");
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(destroy_force, .init = up, .fini = down, .timeout = 300);

/* What a VM leaves on the host, to check it is all gone. */
struct traces {
	pid_t pid;
	char run_dir[256], cgroup[256], cgroup_mem[256], state_file[256];
};

static void traces_of(const char *name, struct traces *t)
{
	struct json_object *vm = rt_get(&d, name);
	char sock[256];

	memset(t, 0, sizeof(*t));
	t->pid = (pid_t)td_int(vm, "pid");
	cr_assert_gt(t->pid, 0, "%s has no qemu", name);
	cr_assert_not_null(td_str(vm, "qmp_ops_socket"));
	snprintf(sock, sizeof(sock), "%s", td_str(vm, "qmp_ops_socket"));
	snprintf(t->run_dir, sizeof(t->run_dir), "%s", dirname(sock));
	if (td_str(vm, "cgroup"))
		snprintf(t->cgroup, sizeof(t->cgroup), "%s", td_str(vm, "cgroup"));
	if (td_str(vm, "cgroup_memory"))
		snprintf(t->cgroup_mem, sizeof(t->cgroup_mem), "%s", td_str(vm, "cgroup_memory"));
	snprintf(t->state_file, sizeof(t->state_file), "%s/state/%s.json", d.dir, name);
	cr_assert(lt_exists(t->run_dir), "no run dir %s", t->run_dir);
	/* the writer thread stores it a moment after the VM shows (only a
	 * reply waits for it): give it 2 s to appear */
	for (int i = 0; i < 100 && !lt_exists(t->state_file); i++)
		usleep(20 * 1000);
	cr_assert(lt_exists(t->state_file), "no state file %s", t->state_file);
	json_object_put(vm);
}

static void expect_gone(const char *name, const struct traces *t)
{
	char path[128];
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	json_object_put(td_http(&d, "GET", path, NULL, &st));
	cr_expect_eq(st, 404, "%s still known: %ld", name, st);
	/* reaped before the reply: no zombie to wait for */
	cr_expect(td_pid_gone(t->pid, 0), "%s's qemu (pid %d) still there", name, (int)t->pid);
	cr_expect(!lt_exists(t->run_dir), "%s: run dir %s left", name, t->run_dir);
	cr_expect(!lt_exists(t->state_file), "%s: state file %s left", name, t->state_file);
	if (t->cgroup[0])
		cr_expect(!lt_exists(t->cgroup), "%s: cgroup %s left", name, t->cgroup);
	if (t->cgroup_mem[0])
		cr_expect(!lt_exists(t->cgroup_mem), "%s: cgroup %s left", name, t->cgroup_mem);
}

/* vmctl --socket S destroy --force NAME: exit status, *secs its run time. */
static int vmctl_destroy_force(const char *name, double *secs)
{
	char bin[512];
	const char *b = getenv("top_builddir");
	double t0 = td_now();
	pid_t pid;
	int st;

	snprintf(bin, sizeof(bin), "%s/src/cli/vmctl", b ? b : ".");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		execl(bin, "vmctl", "--socket", d.sock, "destroy", "--force", name, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	*secs = td_now() - t0;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The test guest, destroyed with vmctl destroy --force while it boots
 * (the create's reply comes when qemu runs; the kernel is just starting). */
Test(destroy_force, guest_while_booting)
{
	const char *gd = lt_guest_dir();
	struct json_object *r;
	struct traces t;
	double secs;
	long st;
	int rc;

	if (!gd)
		cr_skip_test("no test guest (scripts/mkguest.sh builds it)");
	r = td_http(&d, "POST", "/v1/vms", lt_guest_spec("b", 256, 1), &st);
	cr_assert_eq(st, 201, "create b: %ld %s", st, td_err_desc(r));
	json_object_put(r);
	traces_of("b", &t);
	r = rt_get(&d, "b");
	cr_expect_str_neq(td_str(r, "agent"), "ready", "the guest has booted already");
	json_object_put(r);
	rc = vmctl_destroy_force("b", &secs);
	fprintf(stderr, "measured: vmctl destroy --force of a booting guest: %.3f s\n", secs);
	cr_expect_eq(rc, 0, "vmctl exit %d", rc);
	cr_expect_lt(secs, 1.0, "took %.2f s", secs);
	expect_gone("b", &t);
	cr_expect_eq(td_count_qemus(&d), 0);
}

/* A qemu that answers nothing (SIGSTOP): force does not wait for quit. */
Test(destroy_force, hung_qemu)
{
	struct traces t;
	double t0;
	long st;

	rt_create(&d, "h", NULL);
	traces_of("h", &t);
	cr_assert_eq(kill(t.pid, SIGSTOP), 0);
	t0 = td_now();
	json_object_put(td_http(&d, "DELETE", "/v1/vms/h?force=1", NULL, &st));
	fprintf(stderr, "measured: DELETE ?force=1 of a SIGSTOPped qemu: %.3f s\n", td_now() - t0);
	cr_expect_eq(st, 200, "DELETE: %ld", st);
	cr_expect_lt(td_now() - t0, 1.0, "took %.2f s", td_now() - t0);
	expect_gone("h", &t);
}

struct bg {
	long status;
	double done;
};

static void *graceful_delete(void *arg)
{
	struct bg *b = arg;

	json_object_put(td_http(&d, "DELETE", "/v1/vms/w?timeout=30", NULL, &b->status));
	b->done = td_now();
	return NULL;
}

/* A graceful destroy waiting on a hung qemu (quit unanswered, 5 s to its
 * SIGKILL): a forced one overtakes it; both requests get 200 at once. */
Test(destroy_force, overtakes_graceful_destroy)
{
	struct bg b = {0, 0};
	struct traces t;
	pthread_t th;
	double t0;
	long st;

	rt_create(&d, "w", NULL);
	traces_of("w", &t);
	cr_assert_eq(kill(t.pid, SIGSTOP), 0);
	cr_assert_eq(pthread_create(&th, NULL, graceful_delete, &b), 0);
	usleep(300 * 1000);
	t0 = td_now();
	json_object_put(td_http(&d, "DELETE", "/v1/vms/w?force=true", NULL, &st));
	cr_expect_eq(st, 200, "forced DELETE: %ld", st);
	pthread_join(th, NULL);
	fprintf(stderr,
		"measured: forced destroy after a graceful one: %.3f s, graceful done %.3f s after "
		"the force\n",
		td_now() - t0, b.done - t0);
	cr_expect_eq(b.status, 200, "graceful DELETE: %ld", b.status);
	cr_expect_lt(b.done - t0, 1.0, "the graceful destroy ended %.2f s after the force",
		     b.done - t0);
	expect_gone("w", &t);
}

/* force takes 1, 0, true, false; anything else is 400 and nothing happens. */
Test(destroy_force, bad_value)
{
	struct json_object *r;
	pid_t pid = rt_create(&d, "v", NULL);
	long st;

	r = td_http(&d, "DELETE", "/v1/vms/v?force=yes", NULL, &st);
	cr_expect_eq(st, 400, "force=yes: %ld", st);
	cr_expect_str_eq(td_err_class(r), "InvalidParameter");
	json_object_put(r);
	cr_expect(td_pid_is_qemu(pid), "qemu gone after a refused DELETE");
	r = rt_get(&d, "v");
	cr_expect_str_eq(td_str(r, "state"), "running");
	json_object_put(r);
}

struct bg_create {
	long status;
	const char *state;
	char buf[32];
};

static void *create_from_template(void *arg)
{
	struct bg_create *b = arg;
	struct json_object *r =
	    td_http(&d, "POST", "/v1/vms", "{\"name\":\"c\",\"from\":\"t\"}", &b->status);

	snprintf(b->buf, sizeof(b->buf), "%s", td_str(r, "state") ? td_str(r, "state") : "-");
	b->state = b->buf;
	json_object_put(r);
	return NULL;
}

/* A VM still being created (restored from a template: "starting" while
 * qemu loads the state), destroyed with force before its create replied:
 * gone at once, and the create gets its answer. */
Test(destroy_force, while_creating)
{
	const char *gd = lt_guest_dir();
	struct bg_create b = {0};
	struct json_object *r;
	struct traces t;
	pthread_t th;
	double t0;
	long st = 0;
	bool seen = false;

	if (!gd)
		cr_skip_test("no test guest (scripts/mkguest.sh builds it)");
	r = td_http(&d, "POST", "/v1/templates", lt_guest_spec("t", 256, 1), &st);
	cr_assert_eq(st, 201, "template: %ld %s", st, td_err_desc(r));
	json_object_put(r);
	cr_assert_eq(pthread_create(&th, NULL, create_from_template, &b), 0);
	for (t0 = td_now(); td_now() < t0 + 10 && !seen;) {
		r = td_http(&d, "GET", "/v1/vms/c", NULL, &st);
		seen = st == 200 && td_int(r, "pid") > 0 && !strcmp(td_str(r, "state"), "starting");
		json_object_put(r);
		if (!seen)
			usleep(2000);
	}
	if (!seen) {
		pthread_join(th, NULL);
		cr_skip_test("the restore left 'starting' before it was seen (create: %ld %s)",
			     b.status, b.state);
	}
	traces_of("c", &t);
	t0 = td_now();
	json_object_put(td_http(&d, "DELETE", "/v1/vms/c?force=1", NULL, &st));
	fprintf(stderr, "measured: DELETE ?force=1 of a VM being created: %.3f s\n", td_now() - t0);
	cr_expect_eq(st, 200, "DELETE: %ld", st);
	cr_expect_lt(td_now() - t0, 1.0, "took %.2f s", td_now() - t0);
	pthread_join(th, NULL);
	fprintf(stderr, "measured: the create's reply: %ld state %s\n", b.status, b.state);
	cr_expect(b.status != 201 || strcmp(b.state, "running"),
		  "the create reports a running VM that was destroyed");
	expect_gone("c", &t);
	cr_expect_eq(td_count_qemus(&d), 0);
}
