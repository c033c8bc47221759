/*
 * libvmcg, part 1: one cgroup per VM for CPU quota, CPU weight and a hard
 * memory ceiling, on cgroup v1, pure v2, or the hybrid layout (v1
 * controllers plus an empty v2 hierarchy at <root>/unified, which is used as
 * v1). The layout is detected once, at cg_open().
 *
 * Layout created (v1: under each of the cpu, cpuacct and memory hierarchies;
 * v2: once):
 *
 *     <root>[/<controller dir>]/<parent>/vm-<name>
 *
 * The "vm-" prefix keeps a VM called e.g. "cgroup.procs" from colliding with
 * a cgroupfs interface file, and marks which directories are ours when stale
 * ones are cleaned up.
 *
 * Every function returns 0 on success, or -1 with *err set to a malloc'd
 * message (the caller frees it; err may be NULL). Nothing here exits or logs.
 * Not thread-safe: one struct cg is used from one thread (the event loop).
 */
#ifndef VMSUP_CGROUP_H
#define VMSUP_CGROUP_H

#include <stdint.h>
#include <sys/types.h>

#include "src/util/bounds.h"

#define CG_DEFAULT_ROOT	  "/sys/fs/cgroup"
#define CG_DEFAULT_PERIOD 100000u	      /* µs, the kernel's default CFS period */
#define CG_MIN_PERIOD	  VMSUP_PERIOD_MIN_US /* µs, kernel limits for period (and quota) */
#define CG_MAX_PERIOD	  VMSUP_PERIOD_MAX_US
#define CG_MAX_QUOTA_PCT  (1024 * 100) /* 1024 full CPUs: anything above is a bug */
#define CG_MAX_CPUS	  1024.0
#define CG_CPU_UNLIMITED  (-1) /* quota_pct meaning "no quota" */
#define CG_NAME_MAX	  63

enum cg_mode {
	CG_MODE_V1,	/* v1 controllers only */
	CG_MODE_HYBRID, /* v1 controllers + v2 at <root>/unified; v1 is used */
	CG_MODE_V2,	/* unified hierarchy with cpu and memory */
};

struct cg;

struct cg_cpu {
	int64_t quota_us;   /* -1 = unlimited */
	unsigned period_us; /* CFS period */
	int quota_pct;	    /* quota_us * 100 / period_us rounded, or CG_CPU_UNLIMITED */
	uint64_t weight;    /* raw v1 cpu.shares or v2 cpu.weight */
};

/*
 * Detect the layout under root (NULL = CG_DEFAULT_ROOT) and create (or
 * reuse) the parent cgroup, e.g. "vmsupd" or "vmsupd-<id>" so two daemons
 * never share VM cgroups. parent is one or more "/"-separated components,
 * each [A-Za-z0-9_.-] and not "." or "..". On v2 "+cpu +memory" is enabled
 * in cgroup.subtree_control from root down to the parent. Fails with a
 * message naming what is missing when no usable, writable cgroupfs exists.
 */
int cg_open(struct cg **out, const char *root, const char *parent, char **err);

/* Frees cg; removes the parent directories if they are empty (else keeps them). */
void cg_close(struct cg *cg);

enum cg_mode cg_mode(const struct cg *cg);
/* "v1", "v1 (hybrid)" or "v2". */
const char *cg_mode_name(const struct cg *cg);

/* VM names as the API accepts them: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. */
int cg_name_valid(const char *vm, char **err);

/* Create the VM's cgroup(s); an existing one is reused (state is rewritten later). */
int cg_vm_create(struct cg *cg, const char *vm, char **err);

/* Move a whole process (all threads) into the VM's cgroup(s). */
int cg_vm_attach(struct cg *cg, const char *vm, pid_t pid, char **err);

/*
 * CPU bandwidth: quota_pct percent of one CPU per period (100 = one full
 * CPU, 250 = two and a half); CG_CPU_UNLIMITED removes the quota. 0, other
 * negatives, > CG_MAX_QUOTA_PCT, or a quota below the kernel's 1 ms minimum
 * are rejected. period_us 0 = CG_DEFAULT_PERIOD, else within
 * CG_MIN_PERIOD..CG_MAX_PERIOD. Range against the VM's cpus (1..cpus*100) is
 * the caller's check.
 */
int cg_vm_set_cpu(struct cg *cg, const char *vm, int quota_pct, unsigned period_us, char **err);

/*
 * Relative CPU weight from the Mesos cpus value (> 0, <= CG_MAX_CPUS):
 * v1 cpu.shares = cpus * 1024 (2..262144); v2 cpu.weight = cpus * 100
 * (1..10000), so one CPU gets the kernel's default weight on both.
 */
int cg_vm_set_weight(struct cg *cg, const char *vm, double cpus, char **err);

/*
 * Hard memory ceiling in bytes (0 = unlimited). v1: memory.limit_in_bytes
 * and, when swap accounting exists, memory.memsw.limit_in_bytes to the same
 * value; v2: memory.max and memory.swap.max = 0 when it exists. Either way
 * RAM + swap used by the VM stays under the limit. v1 rounds down to pages.
 */
int cg_vm_set_memory_max(struct cg *cg, const char *vm, uint64_t bytes, char **err);

/* Reads back what the kernel holds. *bytes = 0 means unlimited. */
int cg_vm_read_memory_max(struct cg *cg, const char *vm, uint64_t *bytes, char **err);
/* Processes of the VM's cgroup the kernel's OOM killer has killed. */
int cg_vm_oom_kills(struct cg *cg, const char *vm, uint64_t *n, char **err);
int cg_vm_read_cpu(struct cg *cg, const char *vm, struct cg_cpu *out, char **err);

/* CPU time used by everything in the VM's cgroup, in ns (v2: usage_usec * 1000). */
int cg_vm_cpu_usage_ns(struct cg *cg, const char *vm, uint64_t *ns, char **err);

/* Number of processes currently in the VM's cgroup (v1: the cpu hierarchy's). */
int cg_vm_nprocs(struct cg *cg, const char *vm, int *n, char **err);

/* SIGKILL every process in the VM's cgroup(s) (v2: cgroup.kill when present). */
int cg_vm_kill(struct cg *cg, const char *vm, char **err);

/*
 * Remove the VM's cgroup(s). A missing one is not an error. rmdir is retried
 * for up to ~2 s while the kernel releases exiting tasks; processes still
 * living in it are NOT killed (call cg_vm_kill first when that is wanted) and
 * the error names them.
 */
int cg_vm_destroy(struct cg *cg, const char *vm, char **err);

/*
 * Start-up cleanup after a crash: for every vm-* cgroup under the parent
 * whose name is_live() says is not a known VM (NULL = none is), kill what is
 * left in it and remove it. *removed (may be NULL) counts removed VMs.
 */
int cg_cleanup_stale(struct cg *cg, int (*is_live)(const char *vm, void *arg), void *arg,
		     int *removed, char **err);

/*
 * Directory of the VM's cgroup for a controller ("cpu", "cpuacct",
 * "memory"; ignored on v2), malloc'd; NULL if vm is invalid or the
 * controller is not used. For status output and tests.
 */
char *cg_vm_path(const struct cg *cg, const char *vm, const char *controller);
/* Same for the parent cgroup. */
char *cg_parent_path(const struct cg *cg, const char *controller);

#endif
