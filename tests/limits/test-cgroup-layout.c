/*
 * Layout detection and the v2 backend's file writing.
 *
 * This machine's cgroup2 (/sys/fs/cgroup/unified) has no controllers (they
 * are bound to v1), so the v2 file logic runs against a directory tree laid
 * out like cgroup2 — the one fake in these tests. The "kernel" part of that
 * fake (interface files appearing on mkdir, leaving on rmdir) is done by the
 * test between calls. Detection errors use real cgroupfs where possible:
 * the empty unified hierarchy, and the real v1 tree bind-mounted read-only
 * in a private mount namespace.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <sys/mount.h>

#include "src/limits/cgroup.h"
#include "tests/limits/cg-util.h"

static char tmp[64];

static void mk_tmp(void)
{
	snprintf(tmp, sizeof(tmp), "/tmp/vmcg-test-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
}

static void rm_tmp(void)
{
	if (!tmp[0])
		return;
	/* Never walk into the bind mount of the real cgroupfs, even after a failed test. */
	umount2(tmp, MNT_DETACH);
	tu_rmtree(tmp);
}

TestSuite(layout, .init = mk_tmp, .fini = rm_tmp, .timeout = 30);

static void put(const char *dir, const char *file, const char *content)
{
	char *f = tu_join(dir, file);

	cr_assert_eq(tu_write(f, content), 0, "%s", f);
	free(f);
}

static const char *get(const char *dir, const char *file)
{
	char *f = tu_join(dir, file);
	const char *s = tu_read(f);

	free(f);
	return s ? s : "(unreadable)";
}

/* What the kernel makes on mkdir in a cgroup2 hierarchy, with cpu+memory delegated. */
static void fake_cgroup2_dir(const char *dir, int is_root)
{
	cr_assert(mkdir(dir, 0755) == 0 || errno == EEXIST);
	put(dir, "cgroup.controllers",
	    is_root ? "cpuset cpu io memory hugetlb pids\n" : "cpu memory\n");
	put(dir, "cgroup.subtree_control", "");
	put(dir, "cgroup.procs", "");
	if (!is_root) {
		put(dir, "cpu.max", "max 100000\n");
		put(dir, "cpu.weight", "100\n");
		put(dir, "cpu.stat", "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n");
		put(dir, "memory.max", "max\n");
		put(dir, "memory.swap.max", "max\n");
	}
}

/* What the kernel does on rmdir: the interface files go with the directory. */
static void fake_cgroup2_rmfiles(const char *dir)
{
	static const char *const files[] = {"cgroup.controllers", "cgroup.subtree_control",
					    "cgroup.procs",	  "cpu.max",
					    "cpu.weight",	  "cpu.stat",
					    "memory.max",	  "memory.swap.max"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *f = tu_join(dir, files[i]);

		unlink(f);
		free(f);
	}
}

Test(layout, v2_backend_writes_the_files)
{
	struct cg *cg = NULL;
	char *err = NULL, *par, *vm;
	struct cg_cpu c;
	uint64_t v;

	fake_cgroup2_dir(tmp, 1);
	par = tu_join(tmp, "vmsupd-a");
	fake_cgroup2_dir(par, 0); /* the kernel would populate it on cg_open's mkdir */
	cr_assert_eq(cg_open(&cg, tmp, "vmsupd-a", &err), 0, "%s", err);
	cr_expect_eq(cg_mode(cg), CG_MODE_V2);
	cr_expect_str_eq(cg_mode_name(cg), "v2");
	cr_expect_str_eq(get(tmp, "cgroup.subtree_control"), "+cpu +memory");
	cr_expect_str_eq(get(par, "cgroup.subtree_control"), "+cpu +memory");

	cr_assert_eq(cg_vm_create(cg, "web.1", &err), 0, "%s", err);
	vm = cg_vm_path(cg, "web.1", NULL);
	cr_expect_str_eq(vm + strlen(tmp), "/vmsupd-a/vm-web.1");
	fake_cgroup2_dir(vm, 0);

	cr_assert_eq(cg_vm_attach(cg, "web.1", 4242, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "cgroup.procs"), "4242");

	cr_assert_eq(cg_vm_set_cpu(cg, "web.1", 25, 0, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "cpu.max"), "25000 100000");
	cr_assert_eq(cg_vm_set_cpu(cg, "web.1", 250, 20000, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "cpu.max"), "50000 20000");
	cr_assert_eq(cg_vm_read_cpu(cg, "web.1", &c, &err), 0, "%s", err);
	cr_expect_eq(c.quota_pct, 250);
	cr_expect_eq(c.quota_us, 50000);
	cr_expect_eq(c.period_us, 20000u);
	cr_assert_eq(cg_vm_set_cpu(cg, "web.1", CG_CPU_UNLIMITED, 0, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "cpu.max"), "max 100000");
	cr_assert_eq(cg_vm_read_cpu(cg, "web.1", &c, &err), 0, "%s", err);
	cr_expect_eq(c.quota_pct, CG_CPU_UNLIMITED);

	cr_assert_eq(cg_vm_set_weight(cg, "web.1", 2, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "cpu.weight"), "200");
	cr_assert_eq(cg_vm_set_weight(cg, "web.1", 0.001, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "cpu.weight"), "1");
	cr_assert_eq(cg_vm_set_weight(cg, "web.1", 500, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "cpu.weight"), "10000");

	cr_assert_eq(cg_vm_set_memory_max(cg, "web.1", 320ull << 20, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "memory.max"), "335544320");
	cr_expect_str_eq(get(vm, "memory.swap.max"), "0");
	cr_assert_eq(cg_vm_read_memory_max(cg, "web.1", &v, &err), 0, "%s", err);
	cr_expect_eq(v, 320ull << 20);
	cr_assert_eq(cg_vm_set_memory_max(cg, "web.1", 0, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "memory.max"), "max");
	cr_expect_str_eq(get(vm, "memory.swap.max"), "max");
	put(vm, "memory.max", "max\n");
	cr_assert_eq(cg_vm_read_memory_max(cg, "web.1", &v, &err), 0, "%s", err);
	cr_expect_eq(v, 0);

	cr_assert_eq(cg_vm_cpu_usage_ns(cg, "web.1", &v, &err), 0, "%s", err);
	cr_expect_eq(v, 1234567000ull);

	/* Kernel-side garbage is an error, not a number. */
	put(vm, "cpu.max", "lots 100000\n");
	cr_expect_eq(cg_vm_read_cpu(cg, "web.1", &c, &err), -1);
	free(err);
	err = NULL;
	put(vm, "cpu.stat", "user_usec 5\n");
	cr_expect_eq(cg_vm_cpu_usage_ns(cg, "web.1", &v, &err), -1);
	free(err);
	err = NULL;

	/* Without memory.swap.max (no swap configured) only memory.max is written. */
	char *sw = tu_join(vm, "memory.swap.max");
	unlink(sw);
	free(sw);
	cr_assert_eq(cg_vm_set_memory_max(cg, "web.1", 64ull << 20, &err), 0, "%s", err);
	cr_expect_str_eq(get(vm, "memory.max"), "67108864");

	fake_cgroup2_rmfiles(vm);
	cr_assert_eq(cg_vm_destroy(cg, "web.1", &err), 0, "%s", err);
	cr_expect_neq(access(vm, F_OK), 0);
	free(vm);
	fake_cgroup2_rmfiles(par);
	cg_close(cg);
	cr_expect_neq(access(par, F_OK), 0, "empty parent kept after close");
	free(par);
}

Test(layout, v2_nested_parent_delegates_each_level)
{
	struct cg *cg = NULL;
	char *err = NULL, *a, *ab;

	fake_cgroup2_dir(tmp, 1);
	a = tu_join(tmp, "system.slice");
	ab = tu_join(a, "vmsupd");
	fake_cgroup2_dir(a, 0);
	fake_cgroup2_dir(ab, 0);
	put(a, "cgroup.subtree_control", "cpu io memory\n"); /* already delegated: left alone */
	cr_assert_eq(cg_open(&cg, tmp, "system.slice/vmsupd", &err), 0, "%s", err);
	cr_expect_str_eq(get(tmp, "cgroup.subtree_control"), "+cpu +memory");
	cr_expect_str_eq(get(a, "cgroup.subtree_control"), "cpu io memory\n");
	cr_expect_str_eq(get(ab, "cgroup.subtree_control"), "+cpu +memory");
	cg_close(cg); /* not empty (fake files): kept, no error */
	free(a);
	free(ab);
}

Test(layout, v2_without_cpu_controller)
{
	struct cg *cg = NULL;
	char *err = NULL;

	fake_cgroup2_dir(tmp, 1);
	put(tmp, "cgroup.controllers", "cpuset io memory pids\n");
	cr_assert_eq(cg_open(&cg, tmp, "vmsupd", &err), -1);
	cr_assert_null(cg);
	cr_expect(err && strstr(err, "cpu controller"), "%s", err);
	free(err);
}

Test(layout, real_empty_unified_hierarchy)
{
	struct cg *cg = NULL;
	char *err = NULL;
	const char *u = "/sys/fs/cgroup/unified";

	if (access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) != 0)
		cr_skip_test("no hybrid v2 mount here");
	/* Its controllers are all bound to v1: it must be refused, naming cpu. */
	cr_assert_eq(cg_open(&cg, u, "vmsupd-never", &err), -1);
	cr_expect(err && strstr(err, "does not offer the cpu controller"), "%s", err);
	cr_log_info("%s", err);
	free(err);
	char *p = tu_join(u, "vmsupd-never");
	cr_expect_neq(access(p, F_OK), 0, "created %s anyway", p);
	free(p);
}

Test(layout, nothing_there)
{
	struct cg *cg = NULL;
	char *err = NULL;

	cr_assert_eq(cg_open(&cg, tmp, "vmsupd", &err), -1);
	cr_expect(err && strstr(err, "no cgroup filesystem"), "%s", err);
	cr_log_info("%s", err);
	free(err);
	err = NULL;
	cr_assert_eq(cg_open(&cg, "/nonexistent/cg", "vmsupd", &err), -1);
	cr_expect(err && strstr(err, "No such file"), "%s", err);
	free(err);
	err = NULL;
	cr_assert_eq(cg_open(&cg, "relative/path", "vmsupd", &err), -1);
	cr_expect(err && strstr(err, "absolute"), "%s", err);
	free(err);
	static const char *const parents[] = {"",   "/abs",   "a//b", "a/",
					      "..", "a/../b", "a b",  "x\n"};
	for (size_t i = 0; i < sizeof(parents) / sizeof(parents[0]); i++) {
		err = NULL;
		cr_expect_eq(cg_open(&cg, NULL, parents[i], &err), -1, "parent \"%s\"", parents[i]);
		cr_expect(err && strstr(err, "parent"), "%s", err);
		free(err);
	}
	err = NULL;
	cr_expect_eq(cg_open(&cg, NULL, NULL, &err), -1);
	free(err);
}

Test(layout, v1_partial)
{
	struct cg *cg = NULL;
	char *err = NULL, *d;

	d = tu_join(tmp, "cpu,cpuacct");
	cr_assert_eq(mkdir(d, 0755), 0);
	put(d, "cpu.cfs_quota_us", "-1\n");
	put(d, "cpuacct.usage", "0\n");
	free(d);
	d = tu_join(tmp, "memory"); /* a bare directory on the tmpfs is no mount */
	cr_assert_eq(mkdir(d, 0755), 0);
	free(d);
	cr_assert_eq(cg_open(&cg, tmp, "vmsupd", &err), -1);
	cr_expect(err && strstr(err, "lacks controller(s): memory"), "%s", err);
	free(err);
}

/* The real cgroupfs, seen read-only as in a container: a clear refusal. */
Test(layout, real_cgroupfs_read_only)
{
	static const char *const sub[] = {"cpu", "cpuacct", "memory", "cpu,cpuacct"};
	struct cg *cg = NULL;
	char *err = NULL;

	if (geteuid() != 0)
		cr_skip_test("needs root for a mount namespace");
	/* criterion runs each test in its own process: the namespace dies with it. */
	cr_assert_eq(unshare(CLONE_NEWNS), 0, "unshare: %s", strerror(errno));
	cr_assert_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	cr_assert_eq(mount("/sys/fs/cgroup", tmp, NULL, MS_BIND | MS_REC, NULL), 0, "%s",
		     strerror(errno));
	cr_assert_eq(mount(NULL, tmp, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0);
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
		char *d = tu_join(tmp, sub[i]);
		struct stat st;

		if (lstat(d, &st) == 0 && S_ISDIR(st.st_mode))
			cr_assert_eq(mount(NULL, d, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL),
				     0, "%s: %s", d, strerror(errno));
		free(d);
	}
	cr_assert_eq(cg_open(&cg, tmp, "vmsupd-ro", &err), -1);
	cr_assert_null(cg);
	cr_expect(err && strstr(err, "Read-only file system") && strstr(err, "writable"), "%s",
		  err);
	cr_log_info("%s", err);
	free(err);
	umount2(tmp, MNT_DETACH);
}
