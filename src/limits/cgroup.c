/*
 * libvmcg: the per-VM operations that are the same on v1 and v2 (create,
 * attach) and the checked entry points into the per-version controls, which
 * live in cgroup-v1.c and cgroup-v2.c.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/limits/cgroup-internal.h"

int cg_vm_create(struct cg *cg, const char *vm, char **err)
{
	int made[CG_MAX_HIER] = {0};
	int r = -1, i;

	if (cg_name_valid(vm, err) < 0)
		return -1;
	for (i = 0; i < cg->nhier; i++) {
		char *dir = cg_dir(cg, cg->hier[i], vm);

		if (!dir) {
			vmsup_err(err, "out of memory");
			goto out;
		}
		if (mkdir(dir, 0755) == 0) {
			made[i] = 1;
		} else if (errno != EEXIST) {
			vmsup_err(err, "cannot create cgroup %s: %s", dir, strerror(errno));
			free(dir);
			goto out;
		}
		free(dir);
	}
	r = 0;
out:
	/* All hierarchies or none: a VM half in a memory cgroup is worse than an error. */
	while (r < 0 && --i >= 0) {
		char *dir = made[i] ? cg_dir(cg, cg->hier[i], vm) : NULL;

		if (dir)
			rmdir(dir);
		free(dir);
	}
	return r;
}

int cg_vm_attach(struct cg *cg, const char *vm, pid_t pid, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	if (pid <= 0) {
		vmsup_err(err, "invalid pid %d", (int)pid);
		return -1;
	}
	for (int i = 0; i < cg->nhier; i++) {
		char *f = cg_file(cg, cg->hier[i], vm, "cgroup.procs");
		int r;

		if (!f) {
			vmsup_err(err, "out of memory");
			return -1;
		}
		r = cg_writef(f, err, "%d", (int)pid);
		free(f);
		if (r < 0)
			return -1;
	}
	return 0;
}

int cg_vm_set_cpu(struct cg *cg, const char *vm, int quota_pct, unsigned period_us, char **err)
{
	int64_t quota_us = -1;

	if (cg_name_valid(vm, err) < 0)
		return -1;
	if (period_us == 0)
		period_us = CG_DEFAULT_PERIOD;
	if (period_us < CG_MIN_PERIOD || period_us > CG_MAX_PERIOD) {
		vmsup_err(err, "CPU period %u µs out of range %u..%u", period_us, CG_MIN_PERIOD,
			  CG_MAX_PERIOD);
		return -1;
	}
	if (quota_pct != CG_CPU_UNLIMITED) {
		if (quota_pct <= 0 || quota_pct > CG_MAX_QUOTA_PCT) {
			vmsup_err(err, "CPU quota %d%% out of range 1..%d (or %d for unlimited)",
				  quota_pct, CG_MAX_QUOTA_PCT, CG_CPU_UNLIMITED);
			return -1;
		}
		quota_us = (int64_t)quota_pct * period_us / 100;
		if (quota_us < CG_MIN_PERIOD) {
			vmsup_err(err,
				  "CPU quota %d%% of a %u µs period is %lld µs, below the kernel's "
				  "%u µs minimum (use a longer period)",
				  quota_pct, period_us, (long long)quota_us, CG_MIN_PERIOD);
			return -1;
		}
	}
	return cg->ops->set_cpu(cg, vm, quota_us, period_us, err);
}

int cg_vm_set_weight(struct cg *cg, const char *vm, double cpus, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	if (!isfinite(cpus) || cpus <= 0 || cpus > CG_MAX_CPUS) {
		vmsup_err(err, "cpus %g out of range (0, %g]", cpus, CG_MAX_CPUS);
		return -1;
	}
	return cg->ops->set_weight(cg, vm, cpus, err);
}

int cg_vm_set_memory_max(struct cg *cg, const char *vm, uint64_t bytes, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	/* Both versions parse a signed 64-bit value. */
	if (bytes > (uint64_t)INT64_MAX / 2) {
		vmsup_err(err, "memory limit %llu bytes is too large", (unsigned long long)bytes);
		return -1;
	}
	return cg->ops->set_memory_max(cg, vm, bytes, err);
}

int cg_vm_read_memory_max(struct cg *cg, const char *vm, uint64_t *bytes, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	return cg->ops->read_memory_max(cg, vm, bytes, err);
}

int cg_vm_oom_kills(struct cg *cg, const char *vm, uint64_t *n, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	return cg->ops->oom_kills(cg, vm, n, err);
}

int cg_vm_read_cpu(struct cg *cg, const char *vm, struct cg_cpu *out, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	if (cg->ops->read_cpu(cg, vm, out, err) < 0)
		return -1;
	if (out->quota_us < 0 || out->period_us == 0)
		out->quota_pct = CG_CPU_UNLIMITED;
	else
		out->quota_pct = (int)((out->quota_us * 100 + out->period_us / 2) / out->period_us);
	return 0;
}

int cg_vm_cpu_usage_ns(struct cg *cg, const char *vm, uint64_t *ns, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	return cg->ops->cpu_usage_ns(cg, vm, ns, err);
}
