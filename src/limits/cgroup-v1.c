/*
 * cgroup v1 backend: cpu (CFS bandwidth + shares), cpuacct (usage) and
 * memory (limit + memsw) hierarchies, possibly co-mounted.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/limits/cgroup-internal.h"

/* v1 reports "no limit" as LONG_MAX rounded down to a page; anything this big is unlimited. */
#define V1_UNLIMITED_FLOOR (INT64_C(1) << 62)

static int v1_open(struct cg *cg, char **err)
{
	for (int i = 0; i < cg->nhier; i++)
		if (cg_mkdir_parents(cg, cg->hier[i], NULL, err) < 0)
			return -1;
	return 0;
}

static int write_vm(const struct cg *cg, const char *hier, const char *vm, const char *file,
		    char **err, long long v)
{
	char *f = cg_file(cg, hier, vm, file);
	int r;

	if (!f) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	r = cg_writef(f, err, "%lld", v);
	free(f);
	return r;
}

static int read_vm(const struct cg *cg, const char *hier, const char *vm, const char *file,
		   int64_t *v, char **err)
{
	char *f = cg_file(cg, hier, vm, file);
	int r;

	if (!f) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	r = cg_read_i64(f, v, err);
	free(f);
	return r;
}

static int v1_set_cpu(struct cg *cg, const char *vm, int64_t quota_us, unsigned period_us,
		      char **err)
{
	/*
	 * Lift the quota before changing the period: the kernel checks the
	 * pair on every write, and the old quota may not fit the new period.
	 */
	if (write_vm(cg, cg->cpu_dir, vm, "cpu.cfs_quota_us", err, -1) < 0 ||
	    write_vm(cg, cg->cpu_dir, vm, "cpu.cfs_period_us", err, period_us) < 0)
		return -1;
	if (quota_us < 0)
		return 0;
	return write_vm(cg, cg->cpu_dir, vm, "cpu.cfs_quota_us", err, quota_us);
}

static int v1_set_weight(struct cg *cg, const char *vm, double cpus, char **err)
{
	long long shares = llround(cpus * 1024);

	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return write_vm(cg, cg->cpu_dir, vm, "cpu.shares", err, shares);
}

static int v1_set_memory_max(struct cg *cg, const char *vm, uint64_t bytes, char **err)
{
	long long v = bytes ? (long long)bytes : -1;
	int64_t cur;
	char *memsw = cg_file(cg, cg->mem_dir, vm, "memory.memsw.limit_in_bytes");
	int has_memsw, r = -1;

	if (!memsw) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	has_memsw = cg_exists(memsw);
	free(memsw);
	if (!has_memsw)
		return write_vm(cg, cg->mem_dir, vm, "memory.limit_in_bytes", err, v);
	/*
	 * The kernel keeps memsw >= limit at every step: raise memsw first when
	 * growing, lower the limit first when shrinking.
	 */
	if (read_vm(cg, cg->mem_dir, vm, "memory.limit_in_bytes", &cur, err) < 0)
		return -1;
	if (v < 0 || v >= cur)
		r = write_vm(cg, cg->mem_dir, vm, "memory.memsw.limit_in_bytes", err, v) ||
		    write_vm(cg, cg->mem_dir, vm, "memory.limit_in_bytes", err, v);
	else
		r = write_vm(cg, cg->mem_dir, vm, "memory.limit_in_bytes", err, v) ||
		    write_vm(cg, cg->mem_dir, vm, "memory.memsw.limit_in_bytes", err, v);
	return r ? -1 : 0;
}

static int v1_read_memory_max(struct cg *cg, const char *vm, uint64_t *bytes, char **err)
{
	int64_t v;

	if (read_vm(cg, cg->mem_dir, vm, "memory.limit_in_bytes", &v, err) < 0)
		return -1;
	*bytes = (v < 0 || v >= V1_UNLIMITED_FLOOR) ? 0 : (uint64_t)v;
	return 0;
}

static int v1_read_cpu(struct cg *cg, const char *vm, struct cg_cpu *out, char **err)
{
	int64_t q, p, s;

	if (read_vm(cg, cg->cpu_dir, vm, "cpu.cfs_quota_us", &q, err) < 0 ||
	    read_vm(cg, cg->cpu_dir, vm, "cpu.cfs_period_us", &p, err) < 0 ||
	    read_vm(cg, cg->cpu_dir, vm, "cpu.shares", &s, err) < 0)
		return -1;
	if (p <= 0 || p > UINT32_MAX || s < 0) {
		vmsup_err(err, "cgroup %s: implausible cpu values (period %lld, shares %lld)", vm,
			  (long long)p, (long long)s);
		return -1;
	}
	out->quota_us = q < 0 ? -1 : q;
	out->period_us = (unsigned)p;
	out->weight = (uint64_t)s;
	return 0;
}

static int v1_cpu_usage_ns(struct cg *cg, const char *vm, uint64_t *ns, char **err)
{
	int64_t v;

	if (read_vm(cg, cg->acct_dir, vm, "cpuacct.usage", &v, err) < 0)
		return -1;
	if (v < 0) {
		vmsup_err(err, "cgroup %s: negative cpuacct.usage", vm);
		return -1;
	}
	*ns = (uint64_t)v;
	return 0;
}

/* memory.oom_control's oom_kill line (kernel 4.13 and later) */
static int v1_oom_kills(struct cg *cg, const char *vm, uint64_t *n, char **err)
{
	char *f = cg_file(cg, cg->mem_dir, vm, "memory.oom_control");
	int64_t v = 0;
	int r;

	if (!f) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	r = cg_read_key_i64(f, "oom_kill", &v, err);
	free(f);
	*n = r < 0 || v < 0 ? 0 : (uint64_t)v;
	return r;
}

const struct cg_ops cg_v1_ops = {
    .name = "v1",
    .open = v1_open,
    .set_cpu = v1_set_cpu,
    .set_weight = v1_set_weight,
    .set_memory_max = v1_set_memory_max,
    .read_memory_max = v1_read_memory_max,
    .read_cpu = v1_read_cpu,
    .cpu_usage_ns = v1_cpu_usage_ns,
    .oom_kills = v1_oom_kills,
};
