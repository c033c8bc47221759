/*
 * cgroup v2 backend: one unified hierarchy; cpu.max, cpu.weight, cpu.stat,
 * memory.max, memory.swap.max.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/limits/cgroup-internal.h"

static const char *const needed[] = {"cpu", "memory"};

static int has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ' || p[-1] == '\n') &&
		    (p[n] == ' ' || p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Make cpu and memory available to the children of dir. Read first: a
 * level that already delegates them is left alone (writing again would fail
 * with EBUSY on a delegated level that holds processes).
 */
static int enable_controllers(const char *dir, char **err)
{
	char *f = NULL, *have = NULL;
	int r = -1;

	if (asprintf(&f, "%s/cgroup.subtree_control", dir) < 0) {
		f = NULL;
		vmsup_err(err, "out of memory");
		goto out;
	}
	if (cg_read(f, &have, err) < 0)
		goto out;
	if (has_word(have, "cpu") && has_word(have, "memory")) {
		r = 0;
		goto out;
	}
	if (cg_write(f, "+cpu +memory", err) < 0) {
		if (err && *err && errno == EBUSY) {
			char *e = *err;

			*err = NULL;
			vmsup_err(err,
				  "%s (a non-root cgroup that holds processes cannot delegate "
				  "controllers)",
				  e);
			free(e);
		}
		goto out;
	}
	r = 0;
out:
	free(have);
	free(f);
	return r;
}

static int v2_open(struct cg *cg, char **err)
{
	char *ctl = NULL, *have = NULL;
	int r = -1;

	if (asprintf(&ctl, "%s/cgroup.controllers", cg->root) < 0) {
		ctl = NULL;
		vmsup_err(err, "out of memory");
		goto out;
	}
	if (cg_read(ctl, &have, err) < 0)
		goto out;
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
		if (!has_word(have, needed[i])) {
			char *nl = strchr(have, '\n');

			if (nl)
				*nl = '\0';
			vmsup_err(
			    err,
			    "cgroup v2 at %s does not offer the %s controller (cgroup.controllers: "
			    "\"%s\"); it may be bound to a v1 hierarchy",
			    cg->root, needed[i], have);
			goto out;
		}
	}
	/* Walk root -> parent: each level must delegate to the next before it exists. */
	if (enable_controllers(cg->root, err) < 0 ||
	    cg_mkdir_parents(cg, cg->root, enable_controllers, err) < 0)
		goto out;
	r = 0;
out:
	free(have);
	free(ctl);
	return r;
}

static char *vm_file(const struct cg *cg, const char *vm, const char *file, char **err)
{
	char *f = cg_file(cg, cg->root, vm, file);

	if (!f)
		vmsup_err(err, "out of memory");
	return f;
}

static int v2_set_cpu(struct cg *cg, const char *vm, int64_t quota_us, unsigned period_us,
		      char **err)
{
	char *f = vm_file(cg, vm, "cpu.max", err);
	int r;

	if (!f)
		return -1;
	/* One write sets both: no moment with a quota that does not fit the period. */
	if (quota_us < 0)
		r = cg_writef(f, err, "max %u", period_us);
	else
		r = cg_writef(f, err, "%" PRId64 " %u", quota_us, period_us);
	free(f);
	return r;
}

static int v2_set_weight(struct cg *cg, const char *vm, double cpus, char **err)
{
	long long w = llround(cpus * 100);
	char *f = vm_file(cg, vm, "cpu.weight", err);
	int r;

	if (!f)
		return -1;
	if (w < 1)
		w = 1;
	if (w > 10000)
		w = 10000;
	r = cg_writef(f, err, "%lld", w);
	free(f);
	return r;
}

static int v2_set_memory_max(struct cg *cg, const char *vm, uint64_t bytes, char **err)
{
	char *f = vm_file(cg, vm, "memory.max", err), *swap = NULL;
	int r = -1;

	if (!f)
		return -1;
	if (bytes)
		r = cg_writef(f, err, "%" PRIu64, bytes);
	else
		r = cg_write(f, "max", err);
	if (r < 0)
		goto out;
	/* v2 counts swap apart from memory.max: keep it out so the ceiling is the ceiling. */
	swap = vm_file(cg, vm, "memory.swap.max", err);
	if (!swap) {
		r = -1;
		goto out;
	}
	if (cg_exists(swap))
		r = cg_write(swap, bytes ? "0" : "max", err);
out:
	free(swap);
	free(f);
	return r;
}

static int v2_read_memory_max(struct cg *cg, const char *vm, uint64_t *bytes, char **err)
{
	char *f = vm_file(cg, vm, "memory.max", err), *s = NULL;
	int64_t v;
	int r = -1;

	if (!f)
		return -1;
	if (cg_read(f, &s, err) < 0)
		goto out;
	if (strcmp(s, "max\n") == 0 || strcmp(s, "max") == 0) {
		*bytes = 0;
	} else if (cg_parse_i64(s, &v) == 0 && v >= 0) {
		*bytes = (uint64_t)v;
	} else {
		vmsup_err(err, "%s: unexpected \"%.40s\"", f, s);
		goto out;
	}
	r = 0;
out:
	free(s);
	free(f);
	return r;
}

static int v2_read_cpu(struct cg *cg, const char *vm, struct cg_cpu *out, char **err)
{
	char *f = vm_file(cg, vm, "cpu.max", err), *s = NULL, *wf = NULL;
	char q[32], extra;
	unsigned long long p;
	int64_t w;
	int r = -1;

	if (!f)
		return -1;
	if (cg_read(f, &s, err) < 0)
		goto out;
	/* "QUOTA PERIOD" or "max PERIOD" */
	if (sscanf(s, "%31s %llu %c", q, &p, &extra) != 2 || p == 0 || p > UINT32_MAX) {
		vmsup_err(err, "%s: unexpected \"%.40s\"", f, s);
		goto out;
	}
	out->period_us = (unsigned)p;
	if (strcmp(q, "max") == 0) {
		out->quota_us = -1;
	} else if (cg_parse_i64(q, &out->quota_us) < 0 || out->quota_us <= 0) {
		vmsup_err(err, "%s: unexpected quota \"%s\"", f, q);
		goto out;
	}
	wf = vm_file(cg, vm, "cpu.weight", err);
	if (!wf || cg_read_i64(wf, &w, err) < 0)
		goto out;
	if (w < 0) {
		vmsup_err(err, "%s: negative weight", wf);
		goto out;
	}
	out->weight = (uint64_t)w;
	r = 0;
out:
	free(wf);
	free(s);
	free(f);
	return r;
}

static int v2_cpu_usage_ns(struct cg *cg, const char *vm, uint64_t *ns, char **err)
{
	char *f = vm_file(cg, vm, "cpu.stat", err);
	int64_t us = -1;
	int r = -1;

	if (!f)
		return -1;
	if (cg_read_key_i64(f, "usage_usec", &us, err) == 0) {
		if (us < 0 || (uint64_t)us > UINT64_MAX / 1000) {
			vmsup_err(err, "%s: no usable usage_usec line", f);
		} else {
			*ns = (uint64_t)us * 1000;
			r = 0;
		}
	}
	free(f);
	return r;
}

/* memory.events counts kills in the cgroup and below it */
static int v2_oom_kills(struct cg *cg, const char *vm, uint64_t *n, char **err)
{
	char *f = vm_file(cg, vm, "memory.events", err);
	int64_t v = 0;
	int r;

	if (!f)
		return -1;
	r = cg_read_key_i64(f, "oom_kill", &v, err);
	free(f);
	*n = r < 0 || v < 0 ? 0 : (uint64_t)v;
	return r;
}

const struct cg_ops cg_v2_ops = {
    .name = "v2",
    .open = v2_open,
    .set_cpu = v2_set_cpu,
    .set_weight = v2_set_weight,
    .set_memory_max = v2_set_memory_max,
    .read_memory_max = v2_read_memory_max,
    .read_cpu = v2_read_cpu,
    .cpu_usage_ns = v2_cpu_usage_ns,
    .oom_kills = v2_oom_kills,
};
