/* The limits module's private state, shared by vm-limits.c (cgroups and
 * the VM lifecycle) and vm-limits-ops.c (balloon and CPU changes). */
#ifndef VMSUP_VM_LIMITS_INTERNAL_H
#define VMSUP_VM_LIMITS_INTERNAL_H

#include <stdint.h>

#include "qmp/qmp.h"

#include "src/limits/cgroup.h"
#include "src/limits/vm-limits.h"

#define MIB (1024ull * 1024ull)

struct vm_limits {
	struct cg *cg;	/* NULL: running without cgroups */
	char *cg_error; /* why not */
	char *state_dir;
	unsigned mem_overhead_mib, memory_floor_mib;
	unsigned tcg_tb_mib; /* qemu's TCG translation cache (-accel tcg,tb-size=) */
};

/* Per VM, in vm->cgroup. */
struct vm_lim {
	bool in_cgroup;
	char *cg_path, *cg_mem_path;
	uint64_t mem_limit; /* bytes as the kernel holds them, 0 = none */
	int quota_pct;	    /* CG_CPU_UNLIMITED = none */
	unsigned period_us;
	struct vm_pins pins;
	long long balloon_target_mib; /* -1 = never set */
	bool restored;		      /* settings read back from the state file */
};

enum op_kind { OP_BALLOON, OP_CPU };

struct vm_limits_op {
	enum op_kind kind;
	struct vm_limits *l;
	struct vm *vm;
	vm_limits_done_fn done; /* NULL once cancelled */
	void *arg;
	long long target_mib;
	struct vm_cpu_change c;
	/* the outcome, kept while the reply waits for the state file */
	char cls[64], desc[400];
};

/* The VM's per-VM state (vm->cgroup), made on first use; NULL if out of memory. */
struct vm_lim *lim_get(struct vm *vm);
/* A query-balloon reply (arg: the VM): vm->balloon_mib from "actual". */
void lim_on_balloon(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		    void *arg);

/*
 * Pin qemu's threads as p says, from a query-cpus-fast reply: the vCPU
 * threads (vcpus) and the others (emu); what p does not pin goes back on
 * every CPU the daemon may use. Logs what changed.
 */
int lim_pins_apply(struct vm *vm, const struct vm_pins *p, bool vcpus, bool emu,
		   struct json_object *cpus_fast, char **err);
/* Anything to re-apply when qemu's QMP comes up (start, reattach)? */
bool lim_pins_any(const struct vm_pins *p);
/* The pins in the status (and state file), and read back from it. */
void lim_pins_status(const struct vm_pins *p, struct json_object *o);
void lim_pins_restore(struct vm *vm, struct vm_pins *p, struct json_object *state);
/* The module's create and prepare ops: the pins of a POST /v1/vms. */
int lim_create(struct vm *vm, struct json_object *body, const char **cls, char **err);
int lim_prepare(struct vm *vm, const char **cls, char **err);

#endif
