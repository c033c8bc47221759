/*
 * Private to libvmcg: the state behind struct cg, the per-version backend
 * operations (crun style), and the file helpers they share.
 */
#ifndef VMSUP_CGROUP_INTERNAL_H
#define VMSUP_CGROUP_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "src/limits/cgroup.h"
#include "src/util/err.h"

#define CG_VM_PREFIX "vm-"
#define CG_MAX_HIER  3 /* v1: cpu, cpuacct, memory (fewer when co-mounted) */

struct cg;

/* Only what differs between v1 and v2: which files hold the controls. */
struct cg_ops {
	const char *name;
	/* Called once the hierarchies are known: create the parent, enable controllers. */
	int (*open)(struct cg *cg, char **err);
	int (*set_cpu)(struct cg *cg, const char *vm, int64_t quota_us, unsigned period_us,
		       char **err);
	int (*set_weight)(struct cg *cg, const char *vm, double cpus, char **err);
	int (*set_memory_max)(struct cg *cg, const char *vm, uint64_t bytes, char **err);
	int (*read_memory_max)(struct cg *cg, const char *vm, uint64_t *bytes, char **err);
	int (*read_cpu)(struct cg *cg, const char *vm, struct cg_cpu *out, char **err);
	int (*cpu_usage_ns)(struct cg *cg, const char *vm, uint64_t *ns, char **err);
	int (*oom_kills)(struct cg *cg, const char *vm, uint64_t *n, char **err);
};

struct cg {
	const struct cg_ops *ops;
	enum cg_mode mode;
	char *root;   /* as given or CG_DEFAULT_ROOT */
	char *parent; /* relative, validated */
	/* Distinct hierarchy mount points that hold our cgroups (v2: just root). */
	char *hier[CG_MAX_HIER];
	int nhier;
	/* v1: which hierarchy carries each controller (pointers into hier[]). */
	const char *cpu_dir, *acct_dir, *mem_dir;
};

extern const struct cg_ops cg_v1_ops;
extern const struct cg_ops cg_v2_ops;

/* vasprintf into a fresh string; NULL when out of memory. */
char *cg_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "<hier>/<parent>[/vm-<vm>]" (vm may be NULL), malloc'd. */
char *cg_dir(const struct cg *cg, const char *hier, const char *vm);
/*
 * Create the parent cgroup (cg_dir(cg, hier, NULL)) one level at a time
 * below hier; each (may be NULL) runs on every level once it exists (v2
 * enables the controllers there before the next level is made).
 */
int cg_mkdir_parents(const struct cg *cg, const char *hier,
		     int (*each)(const char *dir, char **err), char **err);
/* "<hier>/<parent>/vm-<vm>/<file>", malloc'd. */
char *cg_file(const struct cg *cg, const char *hier, const char *vm, const char *file);

/*
 * Write s to an existing cgroupfs file in a single write() (the kernel
 * parses one write as one value); never creates the file. The error names
 * the file and the value.
 */
int cg_write(const char *path, const char *s, char **err);
int cg_writef(const char *path, char **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whole small file, NUL-terminated, malloc'd. */
int cg_read(const char *path, char **out, char **err);
/* One decimal number (optionally followed by whitespace), strictly. */
int cg_read_i64(const char *path, int64_t *v, char **err);
int cg_parse_i64(const char *s, int64_t *v);
/* The number after "key " in a flat keyed file (memory.events, memory.oom_control). */
int cg_read_key_i64(const char *path, const char *key, int64_t *v, char **err);

int cg_exists(const char *path);

#endif
