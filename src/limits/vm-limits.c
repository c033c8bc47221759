#include "src/limits/vm-limits-internal.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "src/limits/cgroup.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/util/proc.h"
#include "src/limits/pin.h"
#include "src/core/supervisor.h"
#include "src/core/module.h"

/* ---- daemon-wide ---- */

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

static int is_live(const char *vm, void *arg)
{
	struct vm_limits *l = arg;
	char path[PATH_MAX];

	/* a VM with a state file may be reattached: its cgroup stays */
	if (snprintf(path, sizeof(path), "%s/%s.json", l->state_dir, vm) >= (int)sizeof(path))
		return 1;
	return access(path, F_OK) == 0;
}

int vm_limits_new(struct vm_limits **out, const struct vmsup_config *cfg, char **warn, char **err)
{
	struct vm_limits *l = calloc(1, sizeof(*l));
	char parent[32], *why = NULL, real[PATH_MAX];
	int removed = 0;

	*out = NULL;
	if (warn)
		*warn = NULL;
	if (!l || !(l->state_dir = strdup(cfg->state_dir))) {
		free(l);
		return vmsup_err(err, "out of memory");
	}
	l->mem_overhead_mib = cfg->mem_overhead_mib;
	l->tcg_tb_mib = cfg->tcg_tb_size_mib;
	l->memory_floor_mib = cfg->memory_floor_mib;
	/* the same state dir spelled differently is still the same daemon */
	snprintf(parent, sizeof(parent), "vmsupd-%08x",
		 fnv1a(realpath(cfg->state_dir, real) ? real : cfg->state_dir));
	if (cg_open(&l->cg, NULL, parent, &why)) {
		l->cg = NULL;
		l->cg_error = why;
		why = NULL;
		if (warn && asprintf(warn,
				     "no usable cgroups (%s): VMs run without memory ceiling "
				     "or CPU quota",
				     l->cg_error ? l->cg_error : "unknown") < 0)
			*warn = NULL;
	} else if (cg_cleanup_stale(l->cg, is_live, l, &removed, &why)) {
		LOG_W(NULL, "cgroup clean-up: %s", why);
	} else if (removed) {
		LOG_I(NULL, "removed %d stale VM cgroup(s) under %s", removed, parent);
	}
	free(why);
	if (l->cg) {
		char *p = cg_parent_path(l->cg, "cpu");
		LOG_I(NULL, "cgroups %s, parent %s", cg_mode_name(l->cg), p ? p : parent);
		free(p);
	}
	*out = l;
	return 0;
}

void vm_limits_free(struct vm_limits *l)
{
	if (!l)
		return;
	if (l->cg)
		cg_close(l->cg);
	free(l->cg_error);
	free(l->state_dir);
	free(l);
}

bool vm_limits_have_cgroups(const struct vm_limits *l)
{
	return l && l->cg;
}

const char *vm_limits_cgroup_error(const struct vm_limits *l)
{
	return !l ? "limits module not active" : l->cg ? NULL : l->cg_error;
}

/* ---- per VM ---- */

struct vm_lim *lim_get(struct vm *vm)
{
	struct vm_lim *m = vm->cgroup;

	if (m)
		return m;
	if (!(m = calloc(1, sizeof(*m))))
		return NULL;
	m->quota_pct = CG_CPU_UNLIMITED;
	m->period_us = CG_DEFAULT_PERIOD;
	m->balloon_target_mib = -1;
	vm->cgroup = m;
	vm_status_changed(vm);
	return m;
}

static void lim_leave_cgroup(struct vm_limits *l, struct vm *vm, struct vm_lim *m)
{
	char *err = NULL;

	if (!m->in_cgroup)
		return;
	if (cg_vm_destroy(l->cg, vm->spec.name, &err)) {
		LOG_W(vm->spec.name, "cgroup: %s", err);
		free(err);
	} else {
		LOG_D(vm->spec.name, "cgroup removed");
	}
	m->in_cgroup = false;
	m->mem_limit = 0;
	vm_status_changed(vm);
	free(m->cg_path);
	free(m->cg_mem_path);
	m->cg_path = m->cg_mem_path = NULL;
}

/*
 * The cgroup's memory ceiling: the guest's RAM, qemu's own overhead, and
 * under TCG the translation cache, which qemu fills as the guest runs new
 * code and which on its own default (1 GiB here) killed 512 MiB systemd
 * guests at the old ceiling of RAM + 256 MiB. With kvm:tcg the cache is
 * counted too: which accelerator qemu keeps is known only after the move.
 */
static uint64_t ceiling_mib(const struct vm_limits *l, const struct vm *vm)
{
	uint64_t mib = (uint64_t)vm->spec.mem_mib + l->mem_overhead_mib;

	if (vmsup_accel_may_tcg(vm->spec.accel))
		mib += l->tcg_tb_mib;
	return mib;
}

int vm_limits_spawned(struct vm_limits *l, struct vm *vm, char **err)
{
	struct vm_lim *m;
	uint64_t bytes;
	char *why = NULL;
	int ret = -1;

	if (!l)
		return 0;
	if (!(m = lim_get(vm)))
		return vmsup_err(err, "out of memory");
	if (!l->cg) {
		LOG_W(vm->spec.name, "no cgroup (%s): no memory ceiling", l->cg_error);
		return 0;
	}
	/* a qemu adopted by a restarted daemon is already in its cgroup: keep
	 * the quota the previous daemon set there */
	vm_limits_reattached(l, vm);
	bytes = ceiling_mib(l, vm) * MIB;
	if (cg_vm_create(l->cg, vm->spec.name, &why))
		goto out;
	m->in_cgroup = true;
	vm_status_changed(vm);
	free(m->cg_path);
	free(m->cg_mem_path);
	m->cg_path = cg_vm_path(l->cg, vm->spec.name, "cpu");
	m->cg_mem_path = cg_vm_path(l->cg, vm->spec.name, "memory");
	/* limits before the move: qemu never runs unlimited in the cgroup */
	if (cg_vm_set_memory_max(l->cg, vm->spec.name, bytes, &why) ||
	    cg_vm_read_memory_max(l->cg, vm->spec.name, &m->mem_limit, &why) ||
	    cg_vm_set_weight(l->cg, vm->spec.name, vm->spec.cpus, &why) ||
	    cg_vm_set_cpu(l->cg, vm->spec.name, m->quota_pct, m->period_us, &why) ||
	    cg_vm_attach(l->cg, vm->spec.name, vm->pid, &why))
		goto out;
	LOG_I(vm->spec.name, "cgroup %s: memory %llu MiB, cpus %u, quota %d%%", m->cg_path,
	      (unsigned long long)(m->mem_limit / MIB), vm->spec.cpus, m->quota_pct);
	ret = 0;
out:
	if (ret) {
		vmsup_err(err, "cgroup: %s", why ? why : "failed");
		/* the start fails: the exit hook removes the cgroup once qemu is reaped */
	}
	free(why);
	return ret;
}

void vm_limits_reattached(struct vm_limits *l, struct vm *vm)
{
	struct vm_lim *m;
	struct cg_cpu cpu;
	char *dir;
	int n = 0;

	if (!l || !l->cg || vm->pid <= 0 || !(m = lim_get(vm)) || m->in_cgroup)
		return;
	dir = cg_vm_path(l->cg, vm->spec.name, "cpu");
	/* only a cgroup that still holds processes is this qemu's */
	if (!dir || access(dir, F_OK) || cg_vm_nprocs(l->cg, vm->spec.name, &n, NULL) || n == 0) {
		free(dir);
		return;
	}
	m->in_cgroup = true;
	vm_status_changed(vm);
	m->cg_path = dir;
	m->cg_mem_path = cg_vm_path(l->cg, vm->spec.name, "memory");
	if (cg_vm_read_memory_max(l->cg, vm->spec.name, &m->mem_limit, NULL))
		m->mem_limit = 0;
	/* what the kernel enforces wins: a state file written by a daemon
	 * from before the limits were saved with each reply may lag */
	if (!cg_vm_read_cpu(l->cg, vm->spec.name, &cpu, NULL)) {
		if (m->restored && (cpu.quota_pct != m->quota_pct || cpu.period_us != m->period_us))
			LOG_W(vm->spec.name,
			      "state file says CPU quota %d%%/%u us, the cgroup %d%%/%u us: "
			      "keeping the cgroup's",
			      m->quota_pct, m->period_us, cpu.quota_pct, cpu.period_us);
		m->quota_pct = cpu.quota_pct;
		m->period_us = cpu.period_us;
	}
	LOG_I(vm->spec.name, "cgroup %s adopted", dir);
}

void lim_on_balloon(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		    void *arg)
{
	struct vm *vm = arg;
	struct json_object *a;

	(void)s;
	/* a guest whose balloon driver is not up yet: BALLOON_CHANGE will tell */
	if (!err && json_object_object_get_ex(ret, "actual", &a)) {
		vm->balloon_mib =
		    (int)((json_object_get_int64(a) + (int64_t)MIB / 2) / (int64_t)MIB);
		vm_status_changed(vm);
	}
}

static void on_ready_cpus(struct qmp_session *s, struct json_object *ret,
			  const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct vm_lim *m = vm->cgroup;
	char *why = NULL;

	(void)s;
	if (err || !m || vm->pid <= 0)
		return;
	/* a reattach too: whatever someone changed meanwhile is set back */
	if (lim_pins_apply(vm, &m->pins, m->pins.mode != VM_PIN_NONE, m->pins.emu, ret, &why)) {
		LOG_W(vm->spec.name, "pinning: %s", why);
		free(why);
	}
}

void vm_limits_qmp_ready(struct vm_limits *l, struct vm *vm)
{
	struct vm_lim *m = vm->cgroup;
	struct qmp_error e;

	if (!l)
		return;
	vm_qmp_call(vm, "query-balloon", NULL, 0, lim_on_balloon, vm, &e);
	if (m && lim_pins_any(&m->pins))
		vm_qmp_call(vm, "query-cpus-fast", NULL, 0, on_ready_cpus, vm, &e);
}

void vm_limits_qmp_event(struct vm_limits *l, struct vm *vm, const char *event,
			 struct json_object *data)
{
	struct json_object *a;

	(void)l;
	if (!strcmp(event, "BALLOON_CHANGE") && data &&
	    json_object_object_get_ex(data, "actual", &a)) {
		vm->balloon_mib =
		    (int)((json_object_get_int64(a) + (int64_t)MIB / 2) / (int64_t)MIB);
		vm_status_changed(vm);
	}
}

/*
 * A SIGKILL while the cgroup counts an OOM kill: the kernel killed qemu at
 * the memory ceiling. Read before vm_limits_exited removes the cgroup.
 */
const char *vm_limits_exit_reason(struct vm_limits *l, struct vm *vm, char *desc, size_t size)
{
	struct vm_lim *m = vm->cgroup;
	uint64_t kills = 0;
	char *err = NULL;

	if (!l || !m || !m->in_cgroup || vm->exit_signal != SIGKILL)
		return NULL;
	if (cg_vm_oom_kills(l->cg, vm->spec.name, &kills, &err)) {
		LOG_W(vm->spec.name, "cgroup: %s", err);
		free(err);
		return NULL;
	}
	if (!kills)
		return NULL;
	snprintf(desc, size,
		 "killed by the kernel's OOM killer: the VM's memory ceiling of %llu MiB "
		 "(guest %u MiB + qemu's overhead) was reached",
		 (unsigned long long)(m->mem_limit / MIB), vm->spec.mem_mib);
	return "oom";
}

void vm_limits_exited(struct vm_limits *l, struct vm *vm)
{
	struct vm_lim *m = vm->cgroup;

	vm->balloon_mib = -1;
	vm_status_changed(vm);
	if (l && m)
		lim_leave_cgroup(l, vm, m);
}

void vm_limits_destroyed(struct vm_limits *l, struct vm *vm)
{
	struct vm_lim *m = vm->cgroup;

	if (!m)
		return;
	if (l)
		lim_leave_cgroup(l, vm, m);
	vm_limits_release(vm);
}

void vm_limits_release(struct vm *vm)
{
	struct vm_lim *m = vm->cgroup;

	if (!m)
		return;
	free(m->cg_path);
	free(m->cg_mem_path);
	free(m);
	vm->cgroup = NULL;
	vm_status_changed(vm);
}

void vm_limits_status(const struct vm *vm, struct json_object *o)
{
	const struct vm_lim *m = vm->cgroup;

#define ADD(k, v) json_object_object_add(o, k, v)
	ADD("cpu_quota_pct",
	    m && m->quota_pct != CG_CPU_UNLIMITED ? json_object_new_int64(m->quota_pct) : NULL);
	ADD("cpu_period_us", json_object_new_int64(m ? m->period_us : CG_DEFAULT_PERIOD));
	if (m) {
		lim_pins_status(&m->pins, o);
	} else {
		struct vm_pins none = {.mode = VM_PIN_NONE};
		lim_pins_status(&none, o);
	}
	ADD("cgroup", m && m->cg_path ? json_object_new_string(m->cg_path) : NULL);
	ADD("cgroup_memory", m && m->cg_mem_path ? json_object_new_string(m->cg_mem_path) : NULL);
	ADD("mem_limit_bytes",
	    m && m->in_cgroup && m->mem_limit ? json_object_new_uint64(m->mem_limit) : NULL);
	ADD("balloon_target_mib",
	    m && m->balloon_target_mib >= 0 ? json_object_new_int64(m->balloon_target_mib) : NULL);
#undef ADD
}

double vm_limits_cpu_seconds(struct vm_limits *l, const struct vm *vm)
{
	const struct vm_lim *m = vm->cgroup;
	uint64_t ns;
	double s;
	char *err = NULL;

	if (vm->pid <= 0)
		return -1;
	if (l && l->cg && m && m->in_cgroup && !cg_vm_cpu_usage_ns(l->cg, vm->spec.name, &ns, NULL))
		return (double)ns / 1e9;
	if (vmsup_proc_cpu_seconds(vm->pid, &s, &err)) {
		free(err);
		return -1;
	}
	return s;
}

/* ---- the module table the daemon registers (ctx: struct vm_limits) ---- */

/*
 * Reattach: the settings vm_limits_status wrote into the state file. The
 * cgroup and the vCPU threads are looked at later (spawned, qmp_ready): an
 * adopted cgroup's quota wins over the file's, the pin list is re-applied;
 * a VM without a process gets them at its next start.
 */
static bool jget(struct json_object *j, const char *key, json_type type, struct json_object **v)
{
	return json_object_object_get_ex(j, key, v) && json_object_is_type(*v, type);
}

void vm_limits_restore(struct vm *vm, struct json_object *j)
{
	struct json_object *v;
	struct vm_lim *m;

	/* a file without the fields (older daemon): nothing recorded */
	if (!json_object_object_get_ex(j, "cpu_period_us", &v) || !(m = lim_get(vm)))
		return;
	m->restored = true;
	if (jget(j, "cpu_quota_pct", json_type_int, &v) && json_object_get_int64(v) >= 1 &&
	    json_object_get_int64(v) <= (int64_t)vm->spec.cpus * 100)
		m->quota_pct = (int)json_object_get_int64(v);
	if (jget(j, "cpu_period_us", json_type_int, &v) &&
	    json_object_get_int64(v) >= CG_MIN_PERIOD && json_object_get_int64(v) <= CG_MAX_PERIOD)
		m->period_us = (unsigned)json_object_get_int64(v);
	if (jget(j, "balloon_target_mib", json_type_int, &v) && json_object_get_int64(v) >= 0)
		m->balloon_target_mib = json_object_get_int64(v);
	lim_pins_restore(vm, &m->pins, j);
}

static int mod_create(void *ctx, struct vmsup *sup, struct json_object *body, struct vm *vm,
		      const char **cls, char **err)
{
	return lim_create(vm, body, cls, err);
}

static int mod_prepare(void *ctx, struct vm *vm, const struct vmsup_peer *peer, const char **cls,
		       char **err)
{
	return lim_prepare(vm, cls, err);
}

static int mod_spawned(void *ctx, struct vm *vm, char **err)
{
	return vm_limits_spawned(ctx, vm, err);
}

static void mod_restore(void *ctx, struct vm *vm, struct json_object *state)
{
	vm_limits_restore(vm, state);
}

static void mod_qmp_ready(void *ctx, struct vm *vm)
{
	vm_limits_qmp_ready(ctx, vm);
}

static void mod_qmp_event(void *ctx, struct vm *vm, const char *event, struct json_object *data)
{
	vm_limits_qmp_event(ctx, vm, event, data);
}

static const char *mod_exit_reason(void *ctx, struct vm *vm, char *desc, size_t size)
{
	return vm_limits_exit_reason(ctx, vm, desc, size);
}

static void mod_exited(void *ctx, struct vm *vm)
{
	vm_limits_exited(ctx, vm);
}

static void mod_destroyed(void *ctx, struct vm *vm)
{
	vm_limits_destroyed(ctx, vm);
}

static void mod_release(void *ctx, struct vm *vm)
{
	vm_limits_release(vm);
}

static void mod_status(void *ctx, const struct vm *vm, struct json_object *o)
{
	vm_limits_status(vm, o);
}

const struct vm_module vm_limits_module = {
    .name = VM_LIMITS_MODULE,
    .create = mod_create,
    .prepare = mod_prepare,
    .spawned = mod_spawned,
    .restore = mod_restore,
    .qmp_ready = mod_qmp_ready,
    .qmp_event = mod_qmp_event,
    .exit_reason = mod_exit_reason,
    .exited = mod_exited,
    .destroyed = mod_destroyed,
    .release = mod_release,
    .status = mod_status,
};

struct vm_limits *vm_limits_of(const struct vmsup *sup)
{
	return vmsup_module_ctx(sup, VM_LIMITS_MODULE);
}
