/*
 * libvmcg on the machine's real cgroups (v1 or hybrid here; v2 works the
 * same through the API). Needs root. Each test uses its own parent cgroup
 * "vmsup-test-<pid>" and removes it, with every process it started.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>

#include "src/limits/cgroup.h"
#include "tests/limits/cg-util.h"

#define MiB (1024ull * 1024)

static struct cg *cg;
static char parent[64];
static pid_t kids[4];

static void setup(void)
{
	char *err = NULL;

	if (geteuid() != 0)
		cr_skip_test("needs root for real cgroups");
	snprintf(parent, sizeof(parent), "vmsup-test-%d", (int)getpid());
	cr_assert_eq(cg_open(&cg, NULL, parent, &err), 0, "cg_open: %s", err);
	/*
	 * The machine is shared by many busy jobs: give our parent a large
	 * weight so the quota, not the competition, is what limits the child.
	 */
	char *p = cg_parent_path(cg, "cpu");
	char *f = tu_join(p, cg_mode(cg) == CG_MODE_V2 ? "cpu.weight" : "cpu.shares");
	cr_assert_eq(tu_write(f, cg_mode(cg) == CG_MODE_V2 ? "10000" : "20480"), 0);
	free(f);
	free(p);
}

static void teardown(void)
{
	for (size_t i = 0; i < sizeof(kids) / sizeof(kids[0]); i++)
		tu_kill(&kids[i]);
	if (cg) {
		/* Everything under our parent is ours: remove it all. */
		cg_cleanup_stale(cg, NULL, NULL, NULL, NULL);
		cg_close(cg);
		cg = NULL;
	}
}

TestSuite(cgroup, .init = setup, .fini = teardown, .timeout = 120);

static int dir_exists(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static char *vm_file(const char *vm, const char *ctl, const char *file)
{
	char *d = cg_vm_path(cg, vm, ctl), *f;

	cr_assert(d);
	f = tu_join(d, file);
	free(d);
	return f;
}

/* The child's CPU share over s seconds, from /proc/PID/stat and from the cgroup counter. */
static void measure(const char *vm, pid_t pid, double s, double *proc_pct, double *cg_pct)
{
	uint64_t u0, u1;
	double t0, t1, p0, p1;
	char *err = NULL;

	tu_sleep(0.5); /* let the new quota govern a few periods first */
	cr_assert_eq(cg_vm_cpu_usage_ns(cg, vm, &u0, &err), 0, "%s", err);
	p0 = tu_proc_cpu(pid);
	t0 = tu_now();
	tu_sleep(s);
	cr_assert_eq(cg_vm_cpu_usage_ns(cg, vm, &u1, &err), 0, "%s", err);
	p1 = tu_proc_cpu(pid);
	t1 = tu_now();
	cr_assert(p0 >= 0 && p1 >= 0);
	*proc_pct = (p1 - p0) / (t1 - t0) * 100;
	*cg_pct = (double)(u1 - u0) / 1e9 / (t1 - t0) * 100;
}

Test(cgroup, detects_layout)
{
	cr_log_info("mode: %s", cg_mode_name(cg));
	cr_assert(strcmp(cg_mode_name(cg), "v1") == 0 || strcmp(cg_mode_name(cg), "v2") == 0 ||
		  strcmp(cg_mode_name(cg), "v1 (hybrid)") == 0);
	if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0 &&
	    access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0)
		cr_expect_eq(cg_mode(cg), CG_MODE_HYBRID);
	char *p = cg_parent_path(cg, "memory");
	cr_assert(dir_exists(p), "%s", p);
	free(p);
}

Test(cgroup, quota_holds_and_follows)
{
	char *err = NULL;
	double proc, acct;
	struct cg_cpu c;

	cr_assert_eq(cg_vm_create(cg, "q", &err), 0, "%s", err);
	kids[0] = tu_spin();
	cr_assert(kids[0] > 0);
	cr_assert_eq(cg_vm_attach(cg, "q", kids[0], &err), 0, "%s", err);

	cr_assert_eq(cg_vm_set_cpu(cg, "q", 25, 0, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_read_cpu(cg, "q", &c, &err), 0, "%s", err);
	cr_expect_eq(c.quota_pct, 25);
	cr_expect_eq(c.quota_us, 25000);
	cr_expect_eq(c.period_us, 100000u);
	measure("q", kids[0], 3, &proc, &acct);
	cr_log_info("quota 25%%: /proc %.1f%%, cgroup %.1f%%", proc, acct);
	cr_expect(proc >= 20 && proc <= 30, "quota 25%%: child used %.1f%% (/proc)", proc);
	cr_expect(acct >= 20 && acct <= 30, "quota 25%%: cgroup counted %.1f%%", acct);

	cr_assert_eq(cg_vm_set_cpu(cg, "q", 50, 0, &err), 0, "%s", err);
	measure("q", kids[0], 3, &proc, &acct);
	cr_log_info("quota 50%%: /proc %.1f%%, cgroup %.1f%%", proc, acct);
	cr_expect(proc >= 45 && proc <= 55, "quota 50%%: child used %.1f%% (/proc)", proc);
	cr_expect(acct >= 45 && acct <= 55, "quota 50%%: cgroup counted %.1f%%", acct);
}

Test(cgroup, cpu_files_hold_the_values)
{
	char *err = NULL, *f;
	struct cg_cpu c;

	cr_assert_eq(cg_vm_create(cg, "files.1", &err), 0, "%s", err);
	cr_assert_eq(cg_vm_set_cpu(cg, "files.1", 150, 50000, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_set_weight(cg, "files.1", 1.5, &err), 0, "%s", err);
	if (cg_mode(cg) == CG_MODE_V2) {
		f = vm_file("files.1", NULL, "cpu.max");
		cr_expect_str_eq(tu_read(f), "75000 50000\n");
		free(f);
		f = vm_file("files.1", NULL, "cpu.weight");
		cr_expect_str_eq(tu_read(f), "150\n");
		free(f);
	} else {
		f = vm_file("files.1", "cpu", "cpu.cfs_quota_us");
		cr_expect_str_eq(tu_read(f), "75000\n");
		free(f);
		f = vm_file("files.1", "cpu", "cpu.cfs_period_us");
		cr_expect_str_eq(tu_read(f), "50000\n");
		free(f);
		f = vm_file("files.1", "cpu", "cpu.shares");
		cr_expect_str_eq(tu_read(f), "1536\n");
		free(f);
	}
	cr_assert_eq(cg_vm_read_cpu(cg, "files.1", &c, &err), 0, "%s", err);
	cr_expect_eq(c.quota_pct, 150);
	cr_expect_eq(c.period_us, 50000u);
	cr_expect_eq(c.weight, cg_mode(cg) == CG_MODE_V2 ? 150u : 1536u);

	/* Back to unlimited; the period stays as asked. */
	cr_assert_eq(cg_vm_set_cpu(cg, "files.1", CG_CPU_UNLIMITED, 0, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_read_cpu(cg, "files.1", &c, &err), 0, "%s", err);
	cr_expect_eq(c.quota_pct, CG_CPU_UNLIMITED);
	cr_expect_eq(c.quota_us, -1);
	cr_expect_eq(c.period_us, 100000u);
}

Test(cgroup, bad_cpu_input_changes_nothing)
{
	char *err = NULL;
	struct cg_cpu c;
	static const struct {
		int pct;
		unsigned period;
	} bad[] = {{0, 0},	 {-5, 0},     {INT_MIN, 0},  {CG_MAX_QUOTA_PCT + 1, 0},
		   {INT_MAX, 0}, {50, 999},   {50, 1000001}, {1, 10000},
		   {1, 1000},	 {-2, 100000}};

	cr_assert_eq(cg_vm_create(cg, "bad", &err), 0, "%s", err);
	cr_assert_eq(cg_vm_set_cpu(cg, "bad", 30, 0, &err), 0, "%s", err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(cg_vm_set_cpu(cg, "bad", bad[i].pct, bad[i].period, &err), -1,
			     "quota %d period %u accepted", bad[i].pct, bad[i].period);
		cr_expect(err && *err);
		free(err);
		err = NULL;
	}
	static const double bad_cpus[] = {0, -1, 1e9, __builtin_nan(""), __builtin_inf()};
	for (size_t i = 0; i < sizeof(bad_cpus) / sizeof(bad_cpus[0]); i++) {
		cr_expect_eq(cg_vm_set_weight(cg, "bad", bad_cpus[i], &err), -1);
		free(err);
		err = NULL;
	}
	cr_expect_eq(cg_vm_set_memory_max(cg, "bad", UINT64_MAX, &err), -1);
	free(err);
	err = NULL;
	cr_assert_eq(cg_vm_read_cpu(cg, "bad", &c, &err), 0, "%s", err);
	cr_expect_eq(c.quota_pct, 30);
	cr_expect_eq(c.period_us, 100000u);

	/* Names are checked before any path is built. */
	static const char *const names[] = {
	    "",
	    ".",
	    "..",
	    "../x",
	    "a/b",
	    ".hidden",
	    "-x",
	    "a b",
	    "x\n",
	    "a234567890123456789012345678901234567890123456789012345"
	    "678901234"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cr_expect_eq(cg_vm_create(cg, names[i], &err), -1, "name \"%s\" accepted",
			     names[i]);
		cr_expect(err && strstr(err, "name"), "%s", err);
		free(err);
		err = NULL;
		cr_expect_null(cg_vm_path(cg, names[i], "cpu"));
	}
	cr_expect_eq(cg_vm_create(cg, NULL, &err), -1);
	free(err);
	err = NULL;

	cr_expect_eq(cg_vm_attach(cg, "bad", 0, &err), -1);
	free(err);
	err = NULL;
	cr_expect_eq(cg_vm_attach(cg, "bad", -1, &err), -1);
	free(err);
	err = NULL;
	/* A pid that does not exist (pid_max is at most 2^22). */
	cr_expect_eq(cg_vm_attach(cg, "bad", 0x7ffffff0, &err), -1);
	cr_expect(err && strstr(err, "cgroup.procs"), "%s", err);
	free(err);
	err = NULL;
	/* A VM that was never created. */
	cr_expect_eq(cg_vm_set_cpu(cg, "nosuch", 50, 0, &err), -1);
	cr_expect(err && strstr(err, "No such file"), "%s", err);
	free(err);
}

Test(cgroup, memory_limit_holds)
{
	char *err = NULL, *f;
	uint64_t got;
	int p[2], st;
	char go = 'g';

	cr_assert_eq(cg_vm_create(cg, "mem", &err), 0, "%s", err);
	cr_assert_eq(cg_vm_set_memory_max(cg, "mem", 32 * MiB, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_read_memory_max(cg, "mem", &got, &err), 0, "%s", err);
	cr_expect_eq(got, 32 * MiB);
	f = vm_file("mem", "memory",
		    cg_mode(cg) == CG_MODE_V2 ? "memory.max" : "memory.limit_in_bytes");
	cr_expect_str_eq(tu_read(f), "33554432\n");
	free(f);

	/* A child that waits to be placed, then allocates and touches n MiB. */
	for (int round = 0; round < 2; round++) {
		size_t n = round == 0 ? 8 * MiB : 64 * MiB;

		cr_assert_eq(pipe(p), 0);
		kids[1] = fork();
		cr_assert(kids[1] >= 0);
		if (kids[1] == 0) {
			char c;

			close(p[1]);
			if (read(p[0], &c, 1) != 1)
				_exit(3);
			char *m = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				       -1, 0);
			if (m == MAP_FAILED)
				_exit(4);
			for (size_t i = 0; i < n; i += 4096)
				m[i] = 1;
			_exit(0);
		}
		close(p[0]);
		cr_assert_eq(cg_vm_attach(cg, "mem", kids[1], &err), 0, "%s", err);
		cr_assert_eq(write(p[1], &go, 1), 1);
		close(p[1]);
		st = tu_wait(kids[1], 30);
		cr_assert_neq(st, -1, "allocating child did not finish within 30 s");
		kids[1] = 0;
		if (round == 0)
			cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				  "8 MiB under a 32 MiB limit failed (status %#x)", st);
		else
			cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
				  "64 MiB under a 32 MiB limit was not OOM-killed (status %#x)",
				  st);
	}
	if (cg_mode(cg) != CG_MODE_V2) {
		f = vm_file("mem", "memory", "memory.oom_control");
		const char *oc = tu_read(f);
		cr_expect(oc && strstr(oc, "oom_kill 1"), "memory.oom_control: %s", oc);
		free(f);
	}

	/* Unlimited again, then a raise and a lower (memsw ordering on v1). */
	cr_assert_eq(cg_vm_set_memory_max(cg, "mem", 0, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_read_memory_max(cg, "mem", &got, &err), 0, "%s", err);
	cr_expect_eq(got, 0);
	cr_assert_eq(cg_vm_set_memory_max(cg, "mem", 256 * MiB, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_set_memory_max(cg, "mem", 128 * MiB, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_read_memory_max(cg, "mem", &got, &err), 0, "%s", err);
	cr_expect_eq(got, 128 * MiB);
}

Test(cgroup, destroy_removes_dirs)
{
	static const char *const ctl[] = {"cpu", "cpuacct", "memory"};
	char *err = NULL, *d;
	int n;

	cr_assert_eq(cg_vm_create(cg, "gone", &err), 0, "%s", err);
	for (int i = 0; i < 3; i++) {
		d = cg_vm_path(cg, "gone", ctl[i]);
		cr_assert(dir_exists(d), "%s", d);
		free(d);
	}
	/* A live process keeps it: destroy refuses and names it. */
	kids[0] = tu_spin();
	cr_assert_eq(cg_vm_attach(cg, "gone", kids[0], &err), 0, "%s", err);
	cr_assert_eq(cg_vm_nprocs(cg, "gone", &n, &err), 0, "%s", err);
	cr_expect_eq(n, 1);
	cr_assert_eq(cg_vm_destroy(cg, "gone", &err), -1);
	char pidstr[16];
	snprintf(pidstr, sizeof(pidstr), "%d", (int)kids[0]);
	cr_expect(err && strstr(err, pidstr), "%s", err);
	free(err);
	err = NULL;

	/* The daemon's order: qemu dies (not reaped yet), then destroy. */
	cr_assert_eq(cg_vm_kill(cg, "gone", &err), 0, "%s", err);
	double t0 = tu_now();
	cr_assert_eq(cg_vm_destroy(cg, "gone", &err), 0, "%s", err);
	cr_log_info("destroy after kill took %.0f ms", (tu_now() - t0) * 1000);
	cr_assert_eq(tu_wait(kids[0], 10), SIGKILL);
	kids[0] = 0;
	for (int i = 0; i < 3; i++) {
		d = cg_vm_path(cg, "gone", ctl[i]);
		cr_expect(!dir_exists(d), "%s still there", d);
		free(d);
	}
	/* Destroying again is fine. */
	cr_expect_eq(cg_vm_destroy(cg, "gone", &err), 0, "%s", err);
}

static int live_only_keep(const char *vm, void *arg)
{
	(void)arg;
	return strcmp(vm, "keep") == 0;
}

Test(cgroup, stale_cleanup)
{
	char *err = NULL, *d;
	int removed = -1;

	cr_assert_eq(cg_vm_create(cg, "keep", &err), 0, "%s", err);
	cr_assert_eq(cg_vm_create(cg, "old1", &err), 0, "%s", err);
	cr_assert_eq(cg_vm_create(cg, "old2", &err), 0, "%s", err);
	/* A leftover "qemu" from the crash, still running in old1. */
	kids[0] = tu_spin();
	cr_assert_eq(cg_vm_attach(cg, "old1", kids[0], &err), 0, "%s", err);
	/* Something not ours under the parent is left alone. */
	char *par = cg_parent_path(cg, "cpu"), *foreign = tu_join(par, "not-a-vm");
	cr_assert_eq(mkdir(foreign, 0755), 0);

	cr_assert_eq(cg_cleanup_stale(cg, live_only_keep, NULL, &removed, &err), 0, "%s", err);
	cr_expect_eq(removed, 2);
	cr_expect_eq(tu_wait(kids[0], 10), SIGKILL, "orphan in a stale cgroup not killed");
	kids[0] = 0;
	d = cg_vm_path(cg, "keep", "memory");
	cr_expect(dir_exists(d));
	free(d);
	d = cg_vm_path(cg, "old1", "cpu");
	cr_expect(!dir_exists(d));
	free(d);
	d = cg_vm_path(cg, "old2", "memory");
	cr_expect(!dir_exists(d));
	free(d);
	cr_expect(dir_exists(foreign));
	rmdir(foreign);
	free(foreign);
	free(par);
}

Test(cgroup, two_parents_do_not_interfere)
{
	struct cg *other = NULL;
	char *err = NULL, other_parent[80];
	struct cg_cpu c;
	int removed = -1;

	snprintf(other_parent, sizeof(other_parent), "%s-other", parent);
	cr_assert_eq(cg_open(&other, NULL, other_parent, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_create(cg, "same", &err), 0, "%s", err);
	cr_assert_eq(cg_vm_create(other, "same", &err), 0, "%s", err);
	cr_assert_eq(cg_vm_set_cpu(cg, "same", 20, 0, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_set_cpu(other, "same", 70, 0, &err), 0, "%s", err);
	cr_assert_eq(cg_vm_read_cpu(cg, "same", &c, &err), 0, "%s", err);
	cr_expect_eq(c.quota_pct, 20);

	/* Stale cleanup of one daemon never reaches into the other's parent. */
	cr_assert_eq(cg_cleanup_stale(other, NULL, NULL, &removed, &err), 0, "%s", err);
	cr_expect_eq(removed, 1);
	cr_assert_eq(cg_vm_read_cpu(cg, "same", &c, &err), 0, "%s", err);
	cr_expect_eq(c.quota_pct, 20);
	cg_close(other);
	char *p = cg_parent_path(cg, "cpu");
	cr_expect(dir_exists(p));
	free(p);
}

Test(cgroup, close_removes_empty_parent)
{
	struct cg *tmp = NULL;
	char *err = NULL, name[80], *p;

	snprintf(name, sizeof(name), "%s-x/nested", parent);
	cr_assert_eq(cg_open(&tmp, NULL, name, &err), 0, "%s", err);
	p = cg_parent_path(tmp, "memory");
	cr_assert(dir_exists(p));
	cg_close(tmp);
	cr_expect(!dir_exists(p), "%s left behind", p);
	*strrchr(p, '/') = '\0';
	cr_expect(!dir_exists(p), "%s left behind", p);
	free(p);
}
