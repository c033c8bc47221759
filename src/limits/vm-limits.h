/*
 * Resource limits of vmsupd's VMs (issue 5): one cgroup per VM with a hard
 * memory ceiling (guest memory + mem_overhead_mib), a CPU weight from the
 * VM's cpus and an optional CPU quota; vCPU pinning; the virtio balloon.
 *
 * Cgroups: the daemon uses the parent cgroup "vmsupd-<8 hex>", a hash of
 * its state dir, so two daemons on one host never share VM cgroups. When
 * no usable, writable cgroupfs exists the daemon runs WITHOUT cgroups: it
 * logs a warning at start-up, VMs start without a memory ceiling (status
 * "cgroup": null), and a CPU quota request answers 503 CgroupUnavailable
 * with the reason. Pinning and the balloon work either way.
 *
 * Settings made through the API (quota, period, pin) are kept with the VM
 * and applied again when its qemu is started anew. They and the balloon
 * target are in the VM's state file before the API's reply, and a daemon
 * that reattaches the VM reads them back (vm_limits_restore).
 */
#ifndef VMSUP_VM_LIMITS_H
#define VMSUP_VM_LIMITS_H

#include <sched.h>
#include <stdbool.h>

#include <json-c/json.h>

#include "src/qemu/config.h"
#include "src/core/module.h"
#include "src/core/vm.h"
#include "src/limits/pin-map.h"

struct vm_limits;

/*
 * Open the cgroup parent and remove VM cgroups left by a crashed daemon
 * (those with no state file in cfg->state_dir). Missing cgroups are not
 * an error: *warn (malloc'd, may stay NULL) says why the daemon runs
 * without. -1 with *err only when the daemon cannot run at all.
 */
int vm_limits_new(struct vm_limits **out, const struct vmsup_config *cfg, char **warn, char **err);
/* Call after every VM is freed (pending QMP replies refer to the counters). */
void vm_limits_free(struct vm_limits *l);

/* Whether VM cgroups are in use, and why not. */
bool vm_limits_have_cgroups(const struct vm_limits *l);
const char *vm_limits_cgroup_error(const struct vm_limits *l);

/* ---- lifecycle (called from hooks.c; l may be NULL: nothing to do) ---- */

/* Create the VM's cgroup, move qemu in, set memory ceiling, weight, quota. */
int vm_limits_spawned(struct vm_limits *l, struct vm *vm, char **err);
/*
 * A qemu found running at daemon start-up (reattach): adopt its cgroup as
 * it is (limits read back from the kernel) if qemu lives in it.
 */
void vm_limits_reattached(struct vm_limits *l, struct vm *vm);
/* Reattach: quota, period, pin list and mode, balloon target as the state
 * file holds them (vm_limits_status's fields), before the VM is adopted. */
void vm_limits_restore(struct vm *vm, struct json_object *state);
/* QMP up: read the balloon, pin the vCPUs if a pin list is set. */
void vm_limits_qmp_ready(struct vm_limits *l, struct vm *vm);
/* BALLOON_CHANGE updates vm->balloon_mib. */
void vm_limits_qmp_event(struct vm_limits *l, struct vm *vm, const char *event,
			 struct json_object *data);
/* The process is gone: its cgroup is removed (settings are kept). */
const char *vm_limits_exit_reason(struct vm_limits *l, struct vm *vm, char *desc, size_t size);
void vm_limits_exited(struct vm_limits *l, struct vm *vm);
/* The VM is destroyed: cgroup removed, per-VM state freed. */
void vm_limits_destroyed(struct vm_limits *l, struct vm *vm);
/* Free the per-VM bookkeeping without touching cgroupfs (the VM leaves the
 * registry at daemon exit; its cgroup was left when qemu exited). */
void vm_limits_release(struct vm *vm);

/* Adds cpu_quota_pct, cpu_period_us, pin, pin_mode, vcpu_pin,
 * emulator_pin, cgroup, mem_limit_bytes, balloon_target_mib to a VM's
 * status object. */
void vm_limits_status(const struct vm *vm, struct json_object *o);

/* CPU seconds used by the VM's qemu (cgroup counter, else /proc), or -1. */
double vm_limits_cpu_seconds(struct vm_limits *l, const struct vm *vm);

/* ---- operations: each ends with exactly one call of done, made once
 * the VM's state file holds the change (a kill -9 of the daemon right
 * after the reply keeps it; the loop does not wait for the disk) ---- */

typedef void (*vm_limits_done_fn)(const char *cls, const char *desc, struct json_object *body,
				  void *arg);
struct vm_limits_op;

/*
 * Where qemu's threads may run. The vCPUs: not pinned (every CPU the
 * daemon may use), all on one list, vCPU i on the list's i-th CPU, or a
 * per-vCPU map (vCPUs it does not name: every CPU). The emulator threads
 * (pin-map.h): a list, or not pinned.
 */
enum vm_pin_mode { VM_PIN_NONE, VM_PIN_ALL, VM_PIN_EACH, VM_PIN_MAP };

struct vm_pins {
	enum vm_pin_mode mode;
	char pin[256];	    /* ALL, EACH: canonical list */
	cpu_set_t pinset;   /* ALL, EACH: parsed, checked against our own affinity */
	struct pin_map map; /* MAP */
	bool emu;	    /* emulator threads pinned to emu_pin */
	char emu_pin[256];
	cpu_set_t emuset;
};

/* A parsed PUT /v1/vms/NAME/cpu (api-limits.c checks types and fields). */
struct vm_cpu_change {
	bool set_quota;
	int quota_pct; /* CG_CPU_UNLIMITED = remove the quota */
	bool set_period;
	unsigned period_us;
	bool set_pin; /* pins.mode ... pins.map ("pin", "vcpu_pin"; null: NONE) */
	bool set_emu; /* pins.emu ... ("emulator_pin"; null: not pinned) */
	struct vm_pins pins;
};

/*
 * The pinning fields of a create or PUT .../cpu body into c: "pin" (a CPU
 * list or null), "pin_mode" ("all", "each"; needs "pin"), "vcpu_pin" (a
 * pin-map.h object or null; not with a "pin" list), "emulator_pin" (a CPU
 * list or null). Absent fields leave c's flags false. -1 with *err (a
 * 400's message) on bad input. The vCPU indices are checked against the
 * VM by vm_limits_cpu, or at create.
 */
int vm_cpu_change_pins(struct json_object *body, struct vm_cpu_change *c, char **err);

/*
 * Balloon to target_mib (memory_floor_mib..mem_mib, else 400). Replies
 * with the VM once qemu accepted the target (balloon_mib then follows as
 * the guest gives memory back). Returns a handle while pending (cancel it
 * if the client goes away), NULL once done has been called.
 */
struct vm_limits_op *vm_limits_balloon(struct vm_limits *l, struct vm *vm, long long target_mib,
				       vm_limits_done_fn done, void *arg);
/* Quota in 1..cpus*100, applied to the cgroup; pins via query-cpus-fast. */
struct vm_limits_op *vm_limits_cpu(struct vm_limits *l, struct vm *vm,
				   const struct vm_cpu_change *c, vm_limits_done_fn done,
				   void *arg);
/* done will not be called. */
void vm_limits_op_cancel(struct vm_limits_op *op);

/* The module the daemon registers with ctx = the struct vm_limits, and
 * how others find it (NULL when not registered). */
#define VM_LIMITS_MODULE "limits"
extern const struct vm_module vm_limits_module;
struct vmsup;
struct vm_limits *vm_limits_of(const struct vmsup *sup);

#endif
