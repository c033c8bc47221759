/* Balloon and CPU changes the API asks for (vm_limits_balloon, vm_limits_cpu). */
#include "src/limits/vm-limits-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "qmp/qmp.h"
#include "src/limits/cgroup.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/limits/pin.h"
#include "src/core/supervisor.h"
#include "src/core/module.h"

/* ---- operations ---- */

static void on_saved(const struct vmsup_result *r, void *arg)
{
	struct vm_limits_op *op = arg;

	if (op->done)
		op->done(op->cls[0] ? op->cls : NULL, op->cls[0] ? op->desc : NULL,
			 op->cls[0] ? NULL : r->body, op->arg);
	free(op);
}

/*
 * The reply goes once the change is on disk: a kill -9 of the daemon right
 * after it must not lose it (failures too: a pin may have taken before the
 * quota failed). The writer thread writes it; the loop does not wait. True
 * while the reply waits (op lives on until it is sent).
 */
static bool op_finish(struct vm_limits_op *op, const char *cls, const char *desc)
{
	if (!op->done) {
		free(op);
		return false;
	}
	snprintf(op->cls, sizeof(op->cls), "%s", cls ? cls : "");
	snprintf(op->desc, sizeof(op->desc), "%s", desc ? desc : "");
	vmsup_vm_save_start(op->vm);
	return vmsup_vm_reply_saved(op->vm, NULL, false, on_saved, op) != NULL;
}

static bool op_qmp_error(struct vm_limits_op *op, const char *what, const struct qmp_error *err)
{
	char desc[400];

	/* qemu's class: Timeout, Disconnected, DeviceNotActive (no balloon
	 * driver in the guest yet) ... the daemon's table maps each */
	snprintf(desc, sizeof(desc), "%s: %s", what, err->desc);
	return op_finish(op, err->cls, desc);
}

static bool qmp_live(const struct vm *vm)
{
	return vm->pid > 0 && vm->qmp && qmp_is_ready(vm->qmp) &&
	       vm_op_allowed(vm->state, VM_OP_QMP);
}

static struct vm_limits_op *op_new(struct vm_limits *l, struct vm *vm, enum op_kind kind,
				   vm_limits_done_fn done, void *arg)
{
	struct vm_limits_op *op = calloc(1, sizeof(*op));

	if (!op) {
		done(VMSUP_EC_INTERNAL, "out of memory", NULL, arg);
		return NULL;
	}
	op->kind = kind;
	op->l = l;
	op->vm = vm;
	op->done = done;
	op->arg = arg;
	return op;
}

void vm_limits_op_cancel(struct vm_limits_op *op)
{
	/* the QMP reply, or the state file write its reply waits for (both
	 * always come), frees it */
	if (op)
		op->done = NULL;
}

static void on_balloon_query(struct qmp_session *s, struct json_object *ret,
			     const struct qmp_error *err, void *arg)
{
	struct vm_limits_op *op = arg;

	lim_on_balloon(s, ret, err, op->vm);
	op_finish(op, NULL, NULL);
}

static void on_balloon(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		       void *arg)
{
	struct vm_limits_op *op = arg;
	struct vm_lim *m;
	struct qmp_error e;

	(void)s;
	(void)ret;
	if (err) {
		op_qmp_error(op, "balloon", err);
		return;
	}
	if ((m = lim_get(op->vm)))
		m->balloon_target_mib = op->target_mib;
	vm_status_changed(op->vm);
	LOG_I(op->vm->spec.name, "balloon target %lld MiB", op->target_mib);
	if (vm_qmp_call(op->vm, "query-balloon", NULL, 0, on_balloon_query, op, &e) < 0)
		op_finish(op, NULL, NULL);
}

struct vm_limits_op *vm_limits_balloon(struct vm_limits *l, struct vm *vm, long long target_mib,
				       vm_limits_done_fn done, void *arg)
{
	struct vm_limits_op *op;
	struct json_object *args;
	struct qmp_error e;
	char desc[300];

	if (target_mib > vm->spec.mem_mib || target_mib < l->memory_floor_mib) {
		snprintf(desc, sizeof(desc),
			 "target_mib %lld is outside %u..%u (memory_floor_mib..the boot size)",
			 target_mib, l->memory_floor_mib, vm->spec.mem_mib);
		done(VMSUP_EC_INVALID, desc, NULL, arg);
		return NULL;
	}
	if (!qmp_live(vm)) {
		snprintf(desc, sizeof(desc), "VM '%s' is %s: the balloon needs a running qemu",
			 vm->spec.name, vm_state_name(vm->state));
		done(VMSUP_EC_CONFLICT, desc, NULL, arg);
		return NULL;
	}
	if (!(op = op_new(l, vm, OP_BALLOON, done, arg)))
		return NULL;
	op->target_mib = target_mib;
	args = json_object_new_object();
	json_object_object_add(args, "value", json_object_new_int64(target_mib * (long long)MIB));
	if (vm_qmp_call(vm, "balloon", args, 0, on_balloon, op, &e) < 0)
		return op_qmp_error(op, "balloon", &e) ? op : NULL;
	return op;
}

/* Quota and period into the cgroup (if the VM has one) and the VM. */
static int apply_quota(struct vm_limits_op *op, struct vm_lim *m, char *desc, size_t len)
{
	const struct vm_cpu_change *c = &op->c;
	int q = c->set_quota ? c->quota_pct : m->quota_pct;
	unsigned p = c->set_period ? c->period_us : m->period_us;
	char *why = NULL;

	if (!c->set_quota && !c->set_period)
		return 0;
	if (m->in_cgroup && cg_vm_set_cpu(op->l->cg, op->vm->spec.name, q, p, &why)) {
		snprintf(desc, len, "cgroup: %s", why ? why : "failed");
		free(why);
		return -1;
	}
	m->quota_pct = q;
	m->period_us = p;
	vm_status_changed(op->vm);
	LOG_I(op->vm->spec.name, "CPU quota %d%% of period %u us", q, p);
	return 0;
}

/* The VM's pins with the change's (vCPUs, emulator, or both) in place. */
static void merge_pins(struct vm_pins *out, const struct vm_lim *m, const struct vm_cpu_change *c)
{
	*out = m->pins;
	if (c->set_pin) {
		out->mode = c->pins.mode;
		memcpy(out->pin, c->pins.pin, sizeof(out->pin));
		out->pinset = c->pins.pinset;
		out->map = c->pins.map;
	}
	if (c->set_emu) {
		out->emu = c->pins.emu;
		memcpy(out->emu_pin, c->pins.emu_pin, sizeof(out->emu_pin));
		out->emuset = c->pins.emuset;
	}
}

static void on_cpus_fast(struct qmp_session *s, struct json_object *ret,
			 const struct qmp_error *err, void *arg)
{
	struct vm_limits_op *op = arg;
	struct vm_lim *m = op->vm->cgroup;
	struct vm_pins pins;
	char *why = NULL, desc[400];

	(void)s;
	if (err) {
		op_qmp_error(op, "query-cpus-fast", err);
		return;
	}
	if (!m || op->vm->pid <= 0) {
		op_finish(op, VMSUP_EC_CONFLICT, "the VM's qemu exited");
		return;
	}
	merge_pins(&pins, m, &op->c);
	if (lim_pins_apply(op->vm, &pins, op->c.set_pin, op->c.set_emu, ret, &why)) {
		snprintf(desc, sizeof(desc), "pinning: %s", why ? why : "failed");
		free(why);
		op_finish(op, VMSUP_EC_INTERNAL, desc);
		return;
	}
	m->pins = pins;
	vm_status_changed(op->vm);
	if (apply_quota(op, m, desc, sizeof(desc))) {
		op_finish(op, VMSUP_EC_INTERNAL, desc);
		return;
	}
	op_finish(op, NULL, NULL);
}

struct vm_limits_op *vm_limits_cpu(struct vm_limits *l, struct vm *vm,
				   const struct vm_cpu_change *c, vm_limits_done_fn done, void *arg)
{
	struct vm_limits_op *op;
	struct vm_lim *m;
	struct qmp_error e;
	char desc[400], *why = NULL;
	bool pin;
	int q;
	unsigned p;

	if (!(m = lim_get(vm))) {
		done(VMSUP_EC_INTERNAL, "out of memory", NULL, arg);
		return NULL;
	}
	q = c->set_quota ? c->quota_pct : m->quota_pct;
	p = c->set_period ? c->period_us : m->period_us;
	if (c->set_quota && q != CG_CPU_UNLIMITED && (q < 1 || q > (int)vm->spec.cpus * 100)) {
		snprintf(desc, sizeof(desc),
			 "quota_pct %d is outside 1..%u (100 per vCPU; null removes the quota)", q,
			 vm->spec.cpus * 100);
		done(VMSUP_EC_INVALID, desc, NULL, arg);
		return NULL;
	}
	if (p < CG_MIN_PERIOD || p > CG_MAX_PERIOD) {
		snprintf(desc, sizeof(desc), "period_us %u is outside %u..%u", p, CG_MIN_PERIOD,
			 CG_MAX_PERIOD);
		done(VMSUP_EC_INVALID, desc, NULL, arg);
		return NULL;
	}
	if (q != CG_CPU_UNLIMITED && (uint64_t)q * p / 100 < CG_MIN_PERIOD) {
		snprintf(
		    desc, sizeof(desc),
		    "quota_pct %d of period_us %u is %llu us, below the kernel's %u us minimum", q,
		    p, (unsigned long long)q * p / 100, CG_MIN_PERIOD);
		done(VMSUP_EC_INVALID, desc, NULL, arg);
		return NULL;
	}
	if ((c->set_quota || c->set_period) && !l->cg) {
		snprintf(desc, sizeof(desc), "no CPU quota without cgroups: %s",
			 l->cg_error ? l->cg_error : "unavailable");
		done(VMSUP_EC_NO_CGROUP, desc, NULL, arg);
		return NULL;
	}
	if (c->set_pin && c->pins.mode == VM_PIN_MAP &&
	    pin_map_check_vcpus(&c->pins.map, "vcpu_pin", vm->spec.cpus, &why)) {
		done(VMSUP_EC_INVALID, why, NULL, arg);
		free(why);
		return NULL;
	}
	pin = c->set_pin || c->set_emu;
	if (pin && vm->pid > 0 && !qmp_live(vm)) {
		snprintf(desc, sizeof(desc), "VM '%s' is %s: pinning needs its QMP connection",
			 vm->spec.name, vm_state_name(vm->state));
		done(VMSUP_EC_CONFLICT, desc, NULL, arg);
		return NULL;
	}
	if (!(op = op_new(l, vm, OP_CPU, done, arg)))
		return NULL;
	op->c = *c;
	if (pin && vm->pid > 0) {
		if (vm_qmp_call(vm, "query-cpus-fast", NULL, 0, on_cpus_fast, op, &e) < 0)
			return op_qmp_error(op, "query-cpus-fast", &e) ? op : NULL;
		return op;
	}
	/* no process: kept for the next start; op is the handle while its
	 * reply waits for the state file */
	merge_pins(&m->pins, m, c);
	if (apply_quota(op, m, desc, sizeof(desc)))
		return op_finish(op, VMSUP_EC_INTERNAL, desc) ? op : NULL;
	return op_finish(op, NULL, NULL) ? op : NULL;
}
