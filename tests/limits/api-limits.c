/*
 * PUT memory / cpu on guest-less VMs of a real vmsupd on real cgroups:
 * the cgroup files hold what the API says, bad input changes nothing, the
 * cgroup goes with the VM, pinning reaches qemu's vCPU threads.
 */
#include <criterion/criterion.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/limits/limits-util.h"

static struct tdaemon d;

static void up(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root for cgroups");
	td_start(&d, "mem_overhead_mib = 100\ntcg_tb_size_mib = 40\nmemory_floor_mib = 32");
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(limits, .init = up, .fini = down, .timeout = 300);

static struct json_object *create(const char *name, int mem, int cpus, bool start)
{
	char body[256];
	struct json_object *r;
	long st;

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":%d,\"cpus\":%d,"
		 "\"start\":%s}",
		 name, mem, cpus, start ? "true" : "false");
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create %s: %ld %s", name, st, json_object_to_json_string(r));
	if (start)
		cr_assert_str_eq(td_str(r, "state"), "running");
	return r;
}

/* quota/period as the kernel holds them (v1 or v2 files). */
static void read_cpu(const char *cg, long long *quota, long long *period)
{
	char path[512], buf[64];
	FILE *f;

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

static long long read_mem(const char *cg)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/memory.max", cg);
	return lt_exists(path) ? lt_read_ll(cg, "memory.max")
			       : lt_read_ll(cg, "memory.limit_in_bytes");
}

static bool pid_in(const char *cg, pid_t pid)
{
	char path[512], line[64];
	bool in = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	if (!(f = fopen(path, "re")))
		return false;
	while (fgets(line, sizeof(line), f))
		in = in || atoi(line) == pid;
	fclose(f);
	return in;
}

Test(limits, cgroup_holds_what_the_api_says_and_goes_with_the_vm)
{
	struct json_object *r = create("c", 128, 2, true), *r2;
	char *cg = strdup(td_str(r, "cgroup")), *mem = strdup(td_str(r, "cgroup_memory"));
	pid_t pid = (pid_t)td_int(r, "pid");
	long long q, p, shares;
	long st;

	cr_assert_not_null(td_str(r, "cgroup"), "no cgroup: %s", json_object_to_json_string(r));
	/* guest memory + mem_overhead_mib + the TCG translation cache (accel tcg) */
	cr_expect_eq(td_int(r, "mem_limit_bytes"), (128 + 100 + 40) * 1048576LL);
	cr_expect_eq(read_mem(mem), (128 + 100 + 40) * 1048576LL);
	cr_expect(pid_in(cg, pid), "qemu %d not in %s", (int)pid, cg);
	cr_expect(pid_in(mem, pid), "qemu %d not in %s", (int)pid, mem);
	char wpath[512];
	snprintf(wpath, sizeof(wpath), "%s/cpu.weight", cg);
	shares = lt_read_ll(cg, lt_exists(wpath) ? "cpu.weight" : "cpu.shares");
	cr_expect(shares == 2048 || shares == 200, "weight for 2 cpus: %lld", shares);
	read_cpu(cg, &q, &p);
	cr_expect_eq(q, -1, "no quota at start");
	cr_expect(json_object_object_get_ex(r, "cpu_quota_pct", NULL));
	cr_expect_eq(td_int(r, "cpu_quota_pct"), -1);
	json_object_put(r);

	r = td_http(&d, "PUT", "/v1/vms/c/cpu", "{\"quota_pct\":150,\"period_us\":50000}", &st);
	cr_assert_eq(st, 200, "%s", json_object_to_json_string(r));
	cr_expect_eq(td_int(r, "cpu_quota_pct"), 150);
	cr_expect_eq(td_int(r, "cpu_period_us"), 50000);
	read_cpu(cg, &q, &p);
	cr_expect_eq(q, 75000);
	cr_expect_eq(p, 50000);
	json_object_put(r);
	/* the period alone keeps the percentage */
	r = td_http(&d, "PUT", "/v1/vms/c/cpu", "{\"period_us\":200000}", &st);
	cr_assert_eq(st, 200);
	read_cpu(cg, &q, &p);
	cr_expect_eq(q, 300000);
	cr_expect_eq(p, 200000);
	json_object_put(r);
	r = td_http(&d, "PUT", "/v1/vms/c/cpu", "{\"quota_pct\":null}", &st);
	cr_assert_eq(st, 200);
	cr_expect_eq(td_int(r, "cpu_quota_pct"), -1);
	read_cpu(cg, &q, &p);
	cr_expect_eq(q, -1);
	json_object_put(r);

	r2 = td_http(&d, "DELETE", "/v1/vms/c?timeout=0", NULL, &st);
	cr_assert_eq(st, 200);
	json_object_put(r2);
	cr_expect_not(lt_exists(cg), "%s still there after destroy", cg);
	cr_expect_not(lt_exists(mem), "%s still there after destroy", mem);
	free(cg);
	free(mem);
}

Test(limits, bad_input_is_400_and_changes_nothing)
{
	static const char *const cpu_bad[] = {
	    "{\"quota_pct\":0}",
	    "{\"quota_pct\":-25}",
	    "{\"quota_pct\":101}", /* 1 vCPU: at most 100 */
	    "{\"quota_pct\":\"25\"}",
	    "{\"quota_pct\":25.5}",
	    "{\"quota_pct\":true}",
	    "{\"quota_pct\":99999999999999999999}",
	    "{\"period_us\":0}",
	    "{\"period_us\":999}",
	    "{\"period_us\":1000001}",
	    "{\"period_us\":-100000}",
	    "{\"period_us\":null}",
	    "{\"quota_pct\":1,\"period_us\":1000}", /* 10 us: under the kernel's minimum */
	    "{\"pin\":\"\"}",
	    "{\"pin\":\"x\"}",
	    "{\"pin\":\"1-0\"}",
	    "{\"pin\":\"0,,1\"}",
	    "{\"pin\":\"-1\"}",
	    "{\"pin\":\"4096\"}",
	    "{\"pin\":0}",
	    "{\"pin_mode\":\"each\"}",
	    "{\"pin\":\"0\",\"pin_mode\":\"some\"}",
	    "{\"quota_pct\":50,\"bogus\":1}",
	    "{}",
	    "[50]",
	    "50",
	    "{\"quota_pct\":50",
	};
	static const char *const mem_bad[] = {
	    "{\"target_mib\":0}",
	    "{\"target_mib\":-64}",
	    "{\"target_mib\":\"64\"}",
	    "{\"target_mib\":64.5}",
	    "{\"target_mib\":null}",
	    "{\"target_mib\":129}",
	    "{\"target_mib\":31}",
	    "{\"target_mib\":1e3}",
	    "{\"target_mib\":64,\"x\":1}",
	    "{}",
	    "[]",
	    "{\"target_mib\":",
	};
	struct json_object *r = create("b", 128, 1, true);
	char *cg = strdup(td_str(r, "cgroup")), *before, *after;
	long long q0, p0, q, p;
	long st;

	json_object_put(r);
	r = td_http(&d, "PUT", "/v1/vms/b/cpu", "{\"quota_pct\":30}", &st);
	cr_assert_eq(st, 200);
	json_object_put(r);
	read_cpu(cg, &q0, &p0);
	cr_assert_eq(q0, 30000);
	/* the balloon size arrives on its own (query-balloon after start): the
	 * baseline is taken once it is known, so only bad input could change it */
	for (int i = 0; i < 500; i++) {
		struct json_object *b;

		r = td_http(&d, "GET", "/v1/vms/b", NULL, &st);
		if (json_object_object_get_ex(r, "balloon_mib", &b) && b)
			break;
		json_object_put(r);
		r = NULL;
		usleep(10000);
	}
	cr_assert_not_null(r, "balloon_mib never became known");
	json_object_object_del(r, "created");
	before = strdup(json_object_to_json_string(r));
	json_object_put(r);

	for (size_t i = 0; i < sizeof(cpu_bad) / sizeof(cpu_bad[0]); i++) {
		r = td_http(&d, "PUT", "/v1/vms/b/cpu", cpu_bad[i], &st);
		cr_expect_eq(st, 400, "cpu %s -> %ld", cpu_bad[i], st);
		cr_expect_str_eq(td_err_class(r) ? td_err_class(r) : "", "InvalidParameter",
				 "cpu %s", cpu_bad[i]);
		json_object_put(r);
	}
	for (size_t i = 0; i < sizeof(mem_bad) / sizeof(mem_bad[0]); i++) {
		r = td_http(&d, "PUT", "/v1/vms/b/memory", mem_bad[i], &st);
		cr_expect_eq(st, 400, "memory %s -> %ld", mem_bad[i], st);
		json_object_put(r);
	}
	read_cpu(cg, &q, &p);
	cr_expect_eq(q, q0, "quota changed by bad input");
	cr_expect_eq(p, p0, "period changed by bad input");
	r = td_http(&d, "GET", "/v1/vms/b", NULL, &st);
	json_object_object_del(r, "created");
	after = strdup(json_object_to_json_string(r));
	json_object_put(r);
	cr_expect_str_eq(after, before, "status changed by bad input:\n%s\n%s", before, after);

	/* wrong method, unknown VM */
	r = td_http(&d, "GET", "/v1/vms/b/cpu", NULL, &st);
	cr_expect_eq(st, 405);
	json_object_put(r);
	r = td_http(&d, "PUT", "/v1/vms/nope/cpu", "{\"quota_pct\":50}", &st);
	cr_expect_eq(st, 404);
	json_object_put(r);
	free(before);
	free(after);
	free(cg);
}

/* thread-ids of qemu's vCPUs, from query-cpus-fast through the API */
static int vcpu_tids(const char *vm, pid_t *tids, int max)
{
	char path[128];
	struct json_object *r, *ret, *e, *t;
	long st;
	int n = 0;

	snprintf(path, sizeof(path), "/v1/vms/%s/qmp", vm);
	r = td_http(&d, "POST", path, "{\"execute\":\"query-cpus-fast\"}", &st);
	cr_assert_eq(st, 200);
	cr_assert(json_object_object_get_ex(r, "return", &ret));
	for (size_t i = 0; i < json_object_array_length(ret) && n < max; i++) {
		e = json_object_array_get_idx(ret, i);
		cr_assert(json_object_object_get_ex(e, "thread-id", &t));
		tids[n++] = (pid_t)json_object_get_int(t);
	}
	json_object_put(r);
	return n;
}

Test(limits, pin_reaches_vcpu_threads)
{
	struct json_object *r = create("p", 64, 2, true);
	cpu_set_t all, s;
	pid_t tids[8];
	long st;
	int n, last;

	json_object_put(r);
	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	/* pin to the last CPU we may use, so it differs from "every CPU" */
	for (last = CPU_SETSIZE - 1; last >= 0 && !CPU_ISSET(last, &all); last--)
		;
	char body[128], want[16];
	snprintf(want, sizeof(want), "%d", last);
	snprintf(body, sizeof(body), "{\"pin\":\"%s\"}", want);
	r = td_http(&d, "PUT", "/v1/vms/p/cpu", body, &st);
	cr_assert_eq(st, 200, "%s", json_object_to_json_string(r));
	cr_expect_str_eq(td_str(r, "pin"), want);
	json_object_put(r);
	n = vcpu_tids("p", tids, 8);
	cr_assert_eq(n, 2);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(sched_getaffinity(tids[i], sizeof(s), &s), 0);
		cr_expect_eq(CPU_COUNT(&s), 1, "vCPU %d: %d CPUs", i, CPU_COUNT(&s));
		cr_expect(CPU_ISSET(last, &s), "vCPU %d not on CPU %d", i, last);
	}
	r = td_http(&d, "PUT", "/v1/vms/p/cpu", "{\"pin\":null}", &st);
	cr_assert_eq(st, 200);
	cr_expect_null(td_str(r, "pin"));
	json_object_put(r);
	for (int i = 0; i < n; i++) {
		cr_assert_eq(sched_getaffinity(tids[i], sizeof(s), &s), 0);
		cr_expect(CPU_EQUAL(&s, &all), "vCPU %d not unpinned", i);
	}
}

Test(limits, settings_of_a_stopped_vm_apply_at_start)
{
	struct json_object *r = create("s", 64, 1, false);
	long long q, p;
	long st;

	cr_expect_null(td_str(r, "cgroup"));
	json_object_put(r);
	r = td_http(&d, "PUT", "/v1/vms/s/cpu", "{\"quota_pct\":40}", &st);
	cr_assert_eq(st, 200);
	cr_expect_eq(td_int(r, "cpu_quota_pct"), 40);
	json_object_put(r);
	/* the balloon needs a running qemu */
	r = td_http(&d, "PUT", "/v1/vms/s/memory", "{\"target_mib\":48}", &st);
	cr_expect_eq(st, 409);
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/s/start", NULL, &st);
	cr_assert_eq(st, 200);
	cr_assert_not_null(td_str(r, "cgroup"));
	read_cpu(td_str(r, "cgroup"), &q, &p);
	cr_expect_eq(q, 40000);
	cr_expect_eq(p, 100000);
	json_object_put(r);
}
