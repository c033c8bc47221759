/*
 * Real vmsupd, real qemu, real cgroups: what the API changed survives a
 * daemon restart (issue 20). CPU quota, period, pin list and mode and the
 * balloon target are in the state file when the reply comes, the next
 * daemon reads them back: the status shows them and the kernel (cgroup
 * cpu.max or cpu.cfs_quota_us, the vCPU threads' affinity) still has them.
 */
#include <criterion/criterion.h>
#include <sched.h>
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
	if (geteuid() != 0)
		cr_skip_test("needs root for cgroups");
	td_start(&d, "stop_grace_s = 30\non_exit = keep");
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(restart_limits, .init = up, .fini = down, .timeout = 600);

/* A running guest-less VM with cpus vCPUs; its pid. TCG: this host's KVM
 * stops a guest-less VM (internal-error) within a minute, and the guest
 * test runs longer than that. */
static pid_t create(const char *name, int cpus)
{
	char body[256];
	struct json_object *r;
	pid_t pid;
	long st;

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,\"cpus\":%d}",
		 name, cpus);
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create %s: %ld %s", name, st, td_err_desc(r));
	cr_assert_str_eq(td_str(r, "state"), "running", "create %s: %s", name, td_str(r, "error"));
	pid = (pid_t)td_int(r, "pid");
	json_object_put(r);
	return pid;
}

/* quota (-1: none) and period as the kernel holds them in cgroup dir cg. */
static void kernel_cpu(const char *cg, long long *quota, long long *period)
{
	char path[512], buf[64];
	FILE *f;

	cr_assert_not_null(cg, "the VM has no cgroup");
	snprintf(path, sizeof(path), "%s/cpu.max", cg);
	if ((f = fopen(path, "re"))) {
		cr_assert_not_null(fgets(buf, sizeof(buf), f));
		fclose(f);
		*quota = strncmp(buf, "max", 3) ? atoll(buf) : -1;
		*period = atoll(strchr(buf, ' ') + 1);
		return;
	}
	*quota = lt_read_ll(cg, "cpu.cfs_quota_us");
	*period = lt_read_ll(cg, "cpu.cfs_period_us");
}

/* Until the daemon's QMP session to the VM answers (a reattached VM's
 * comes back shortly after the daemon serves). */
static void qmp_wait(const char *name)
{
	char path[128];
	double t0 = td_now();
	long st = 0;

	snprintf(path, sizeof(path), "/v1/vms/%s/qmp", name);
	while (td_now() < t0 + 10) {
		json_object_put(td_http(&d, "POST", path, "{\"execute\":\"query-status\"}", &st));
		if (st == 200)
			return;
		usleep(20 * 1000);
	}
	cr_assert_fail("%s: QMP not back within 10 s (%ld)", name, st);
}

/* The affinity of each vCPU thread (query-cpus-fast through the API) as a
 * bit mask of CPUs 0..63, in cpu-index order; returns how many. */
static int vcpu_masks(const char *name, unsigned long long *masks, int max)
{
	char path[128];
	struct json_object *r, *ret, *t;
	long st;
	int n = 0;

	qmp_wait(name);
	snprintf(path, sizeof(path), "/v1/vms/%s/qmp", name);
	r = td_http(&d, "POST", path, "{\"execute\":\"query-cpus-fast\"}", &st);
	cr_assert_eq(st, 200, "query-cpus-fast %s: %ld", name, st);
	cr_assert(json_object_object_get_ex(r, "return", &ret));
	for (size_t i = 0; i < json_object_array_length(ret) && n < max; i++) {
		cpu_set_t s;
		cr_assert(
		    json_object_object_get_ex(json_object_array_get_idx(ret, i), "thread-id", &t));
		cr_assert_eq(sched_getaffinity(json_object_get_int(t), sizeof(s), &s), 0);
		masks[n] = 0;
		for (int c = 0; c < 64; c++)
			if (CPU_ISSET(c, &s))
				masks[n] |= 1ull << c;
		n++;
	}
	json_object_put(r);
	return n;
}

/* CPUs this process may use, as a mask (the tests need at least two). */
static unsigned long long own_cpus(int *last)
{
	cpu_set_t s;
	unsigned long long m = 0;

	cr_assert_eq(sched_getaffinity(0, sizeof(s), &s), 0);
	for (int c = 0; c < 64; c++)
		if (CPU_ISSET(c, &s)) {
			m |= 1ull << c;
			*last = c;
		}
	return m;
}

/* Two CPUs a < b as the daemon spells a pin list ("0-1", "0,3"). */
static void pin2(char *buf, size_t n, int a, int b)
{
	snprintf(buf, n, b == a + 1 ? "%d-%d" : "%d,%d", a, b);
}

/* What a VM is expected to hold, before and after the restart. */
struct want {
	const char *name;
	int quota;	  /* -1: none */
	int period;	  /* us */
	const char *pin;  /* NULL: none */
	const char *mode; /* "all" | "each" */
	unsigned long long mask[2];
	int nvcpu;
	int balloon; /* -1: none */
};

/* Status and kernel agree with w (when: "before" / "after" for messages). */
static void check(const struct want *w, const char *when)
{
	struct json_object *vm = rt_get(&d, w->name);
	unsigned long long masks[4];
	long long q, p;
	int n;

	cr_expect_eq(td_int(vm, "cpu_quota_pct"), w->quota, "%s %s: status quota %lld", when,
		     w->name, td_int(vm, "cpu_quota_pct"));
	cr_expect_eq(td_int(vm, "cpu_period_us"), w->period, "%s %s: status period %lld", when,
		     w->name, td_int(vm, "cpu_period_us"));
	if (w->pin)
		cr_expect_str_eq(td_str(vm, "pin") ? td_str(vm, "pin") : "(null)", w->pin,
				 "%s %s: status pin", when, w->name);
	else
		cr_expect_null(td_str(vm, "pin"), "%s %s: status pin", when, w->name);
	cr_expect_str_eq(td_str(vm, "pin_mode"), w->mode, "%s %s: pin_mode", when, w->name);
	cr_expect_eq(td_int(vm, "balloon_target_mib"), w->balloon, "%s %s: balloon target %lld",
		     when, w->name, td_int(vm, "balloon_target_mib"));
	if (!strcmp(td_str(vm, "state"), "running")) {
		kernel_cpu(td_str(vm, "cgroup"), &q, &p);
		cr_expect_eq(q, w->quota < 0 ? -1 : (long long)w->quota * w->period / 100,
			     "%s %s: kernel quota %lld us", when, w->name, q);
		cr_expect_eq(p, w->period, "%s %s: kernel period %lld us", when, w->name, p);
		n = vcpu_masks(w->name, masks, 4);
		cr_expect_eq(n, w->nvcpu, "%s %s: %d vCPU threads", when, w->name, n);
		for (int i = 0; i < n && i < w->nvcpu; i++)
			cr_expect_eq(masks[i], w->mask[i],
				     "%s %s: vCPU %d affinity %#llx, want %#llx", when, w->name, i,
				     masks[i], w->mask[i]);
	}
	json_object_put(vm);
}

/* kill -9 right after the reply of a PUT cpu: the next daemon shows the
 * new quota, period and pin (a running VM: status and kernel), and the
 * quota of a stopped VM, which only the state file holds. */
Test(restart_limits, kill9_right_after_put_cpu)
{
	int last = 0;
	unsigned long long all = own_cpus(&last), lo = all & ~(1ull << last);
	struct want run = {"c0", 30, 50000, NULL, "each", {0}, 2, -1};
	struct want off = {"c1", 40, 100000, NULL, "all", {0}, 0, -1};
	char body[128], pin[32];
	struct json_object *r;
	long st;

	if (!lo)
		cr_skip_test("needs two CPUs");
	/* vCPU 0 on the first CPU, vCPU 1 on the last: "each" mode */
	pin2(pin, sizeof(pin), __builtin_ctzll(lo), last);
	run.pin = pin;
	run.mask[0] = 1ull << __builtin_ctzll(lo);
	run.mask[1] = 1ull << last;
	create("c0", 2);
	r = td_http(&d, "POST", "/v1/vms",
		    "{\"name\":\"c1\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,"
		    "\"start\":false}",
		    &st);
	cr_assert_eq(st, 201, "create c1: %ld %s", st, td_err_desc(r));
	json_object_put(r);
	json_object_put(rt_put(&d, "c1", "cpu", "{\"quota_pct\":40}"));
	snprintf(body, sizeof(body),
		 "{\"quota_pct\":30,\"period_us\":50000,\"pin\":\"%s\",\"pin_mode\":\"each\"}",
		 pin);
	r = rt_put(&d, "c0", "cpu", body);
	/* no request in between: the daemon dies with the reply just sent */
	td_kill9(&d);
	cr_expect_eq(td_int(r, "cpu_quota_pct"), 30);
	json_object_put(r);
	td_restart(&d);
	check(&run, "after kill -9");
	check(&off, "after kill -9");
}

/* The guest's agent answers: its address (the agent's interface list). */
static void agent_answers(const char *name, int wait_s)
{
	char path[128];
	struct json_object *r;
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s/ip?wait=%d", name, wait_s);
	r = td_http(&d, "GET", path, NULL, &st);
	cr_expect_eq(st, 200, "ip of %s: %ld %s", name, st, td_err_desc(r));
	json_object_put(r);
}

/*
 * The test: 3 guest-less VMs and the test guest, with pins, quotas
 * and a balloon target; SIGTERM: the daemon exits within 2 s, the 4 qemus
 * run on; the next daemon reattaches them (same pids), the guest's agent
 * answers, and the settings are in the status and in the kernel.
 */
Test(restart_limits, sigterm_keeps_settings)
{
	const char *gd = lt_guest_dir();
	int last = 0;
	unsigned long long all = own_cpus(&last), lo = all & ~(1ull << last);
	char body[2048], append[512] = "console=ttyS0", pins[2][32];
	struct want w[4] = {
	    {"k0", 20, 100000, NULL, "all", {0}, 1, -1},
	    {"k1", 150, 20000, NULL, "each", {0}, 2, -1},
	    {"k2", -1, 100000, NULL, "all", {0}, 1, -1},
	    {"g", 50, 100000, NULL, "all", {0}, 1, 192},
	};
	pid_t pids[4], again[4];
	struct json_object *r;
	double t0, secs;
	long st;
	int rc = 0;

	if (!gd)
		cr_skip_test("no test guest (scripts/mkguest.sh builds it)");
	if (!lo)
		cr_skip_test("needs two CPUs");
	snprintf(pins[0], sizeof(pins[0]), "%d", last);
	pin2(pins[1], sizeof(pins[1]), __builtin_ctzll(lo), last);
	w[0].pin = pins[0], w[0].mask[0] = 1ull << last;
	w[1].pin = pins[1], w[1].mask[0] = 1ull << __builtin_ctzll(lo), w[1].mask[1] = 1ull << last;
	w[2].pin = pins[0], w[2].mask[0] = 1ull << last;
	w[3].pin = pins[0], w[3].mask[0] = 1ull << last;
	td_guest_append(gd, append, sizeof(append));
	snprintf(body, sizeof(body),
		 "{\"name\":\"g\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s/vmlinuz\","
		 "\"initrd\":\"%s/initrd.img\",\"append\":\"%s\"}",
		 gd, gd, append);
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create g: %ld %s", st, td_err_desc(r));
	pids[3] = (pid_t)td_int(r, "pid");
	json_object_put(r);
	pids[0] = create("k0", 1);
	pids[1] = create("k1", 2);
	pids[2] = create("k2", 1);
	agent_answers("g", 240);
	for (int i = 0; i < 4; i++) {
		if (w[i].quota > 0)
			snprintf(body, sizeof(body),
				 "{\"quota_pct\":%d,\"period_us\":%d,\"pin\":\"%s\",\"pin_mode\":"
				 "\"%s\"}",
				 w[i].quota, w[i].period, w[i].pin, w[i].mode);
		else
			snprintf(body, sizeof(body), "{\"pin\":\"%s\",\"pin_mode\":\"%s\"}",
				 w[i].pin, w[i].mode);
		json_object_put(rt_put(&d, w[i].name, "cpu", body));
	}
	json_object_put(rt_put(&d, "g", "memory", "{\"target_mib\":192}"));
	for (int i = 0; i < 4; i++)
		check(&w[i], "before");

	t0 = td_now();
	cr_assert_eq(kill(d.pid, SIGTERM), 0);
	while (waitpid(d.pid, &rc, WNOHANG) == 0 && td_now() < t0 + 30)
		usleep(2000);
	secs = td_now() - t0;
	if (kill(d.pid, 0) == 0) {
		kill(d.pid, SIGKILL);
		waitpid(d.pid, &rc, 0);
	}
	d.pid = 0;
	fprintf(stderr, "measured: SIGTERM -> exit with 4 VMs (1 guest): %.3f s\n", secs);
	cr_expect(WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "vmsupd exit status %#x", rc);
	cr_expect_lt(secs, 2.0, "SIGTERM -> exit took %.2f s", secs);
	for (int i = 0; i < 4; i++)
		cr_expect(td_pid_is_qemu(pids[i]), "%s's qemu (pid %d) is gone", w[i].name,
			  (int)pids[i]);

	t0 = td_now();
	td_restart(&d);
	fprintf(stderr, "measured: restart -> serving: %.3f s\n", td_now() - t0);
	for (int i = 0; i < 4; i++) {
		r = rt_get(&d, w[i].name);
		again[i] = (pid_t)td_int(r, "pid");
		cr_expect_eq(again[i], pids[i], "%s: pid %d, was %d", w[i].name, (int)again[i],
			     (int)pids[i]);
		cr_expect_str_eq(td_str(r, "state"), "running", "%s: %s (%s)", w[i].name,
				 td_str(r, "state"), td_str(r, "error"));
		json_object_put(r);
	}
	agent_answers("g", 60);
	/* the pin is applied again once QMP is back: give it the round trip */
	usleep(300 * 1000);
	for (int i = 0; i < 4; i++)
		check(&w[i], "after SIGTERM");
}

/* kill -9 right after the reply of a create (one VM started, one not):
 * both are in the state dir, the next daemon has them (the running one
 * with the same qemu). */
Test(restart_limits, kill9_right_after_create)
{
	struct json_object *r;
	pid_t pid;
	long st;

	r = td_http(&d, "POST", "/v1/vms",
		    "{\"name\":\"n1\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,"
		    "\"start\":false}",
		    &st);
	cr_assert_eq(st, 201, "create n1: %ld %s", st, td_err_desc(r));
	json_object_put(r);
	pid = create("n0", 1);
	td_kill9(&d);
	td_restart(&d);
	r = rt_get(&d, "n0");
	cr_expect_eq(td_int(r, "pid"), pid, "n0: pid %lld, was %d", td_int(r, "pid"), (int)pid);
	cr_expect_str_eq(td_str(r, "state"), "running", "n0: %s", td_str(r, "state"));
	json_object_put(r);
	r = rt_get(&d, "n1");
	cr_expect_str_eq(td_str(r, "state"), "defined", "n1: %s", td_str(r, "state"));
	json_object_put(r);
}

/* A VM restored from a template still names it after a kill -9 of the
 * daemon and a restart (status "template", read back from the state file). */
Test(restart_limits, template_membership)
{
	const char *gd = lt_guest_dir();
	char body[2048], append[512] = "console=ttyS0";
	struct json_object *r, *t, *n;
	pid_t pid;
	long st;

	if (!gd)
		cr_skip_test("no test guest (scripts/mkguest.sh builds it)");
	td_guest_append(gd, append, sizeof(append));
	snprintf(body, sizeof(body),
		 "{\"name\":\"t\",\"kernel\":\"%s/vmlinuz\",\"initrd\":\"%s/initrd.img\","
		 "\"append\":\"%s\",\"mem_mib\":256,\"accel\":\"tcg\"}",
		 gd, gd, append);
	r = td_http(&d, "POST", "/v1/templates", body, &st);
	cr_assert_eq(st, 201, "template: %ld %s", st, td_err_desc(r));
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms", "{\"name\":\"r\",\"from\":\"t\"}", &st);
	cr_assert_eq(st, 201, "restore: %ld %s", st, td_err_desc(r));
	cr_assert(json_object_object_get_ex(r, "template", &t) && t, "no template in %s",
		  json_object_to_json_string(r));
	cr_assert_str_eq(td_str(t, "name"), "t");
	pid = (pid_t)td_int(r, "pid");
	json_object_put(r);
	td_kill9(&d);
	td_restart(&d);
	r = rt_get(&d, "r");
	cr_expect_eq(td_int(r, "pid"), pid, "r: pid %lld, was %d", td_int(r, "pid"), (int)pid);
	t = NULL;
	cr_assert(json_object_object_get_ex(r, "template", &t) && t &&
		      json_object_object_get_ex(t, "name", &n),
		  "after restart: no template in %s", json_object_to_json_string(r));
	cr_expect_str_eq(td_str(t, "name"), "t");
	cr_expect_gt(td_int(t, "state_bytes"), 0, "the template's figures: %s",
		     json_object_to_json_string(t));
	json_object_put(r);
}
