/* VMs restored from a template (see vm-template.h). */
#include "src/snapshot/vm-template-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/qemu/argv.h"
#include "src/snapshot/tmpl-boot.h"
#include "src/snapshot/tmpl-disk.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/snapshot/snapshot.h"
#include "src/snapshot/template.h"
#include "src/snapshot/tmpl-hash.h"
#include "src/snapshot/tmpl-ram.h"

#define RESTORE_TIMEOUT_MS 120000u
#define SEED_BYTES	   64
#define TAIL_BYTES	   600
#define SKEW_RETRY_MS	   250.0
/* qemu's fds 3 and 4 (vm_spawn_fds): the state, the RAM's sealed copy */
#define STATE_FD 3
#define RAM_FD	 4
#define STR_(x)	 #x
#define STR(x)	 STR_(x)

/* The VM's guest agent, from the agent module (set by the daemon). */
static struct agent *(*agent_of)(const struct vm *vm);

void vm_template_setup(struct agent *(*fn)(const struct vm *vm))
{
	agent_of = fn;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static struct vm_restore *rs_of(const struct vm *vm)
{
	return vm ? vm->tmpl : NULL;
}

/* ---- resolving "from" ---- */

/*
 * The files are what was saved: the state (under a megabyte) hashed every
 * time, the RAM when its sealed copy is made (the first restore after the
 * daemon starts or the file changes; later restores share that copy, which
 * nothing can change). 0, or -1 with *err naming the file.
 */
static int check_files(const struct tmpl *t, char **err)
{
	int fd;

	if (t->state_sha256 && tmpl_hash_check(t->state_path, t->state_sha256, NULL, err))
		return -1;
	if (!t->ram_path)
		return 0;
	if ((fd = tmpl_ram_fd(t->ram_path, t->ram_bytes, t->ram_sha256, err)) < 0)
		return -1;
	close(fd);
	return 0;
}

static const char *const from_fields[] = {"name", "from", "start", "restart", NULL};

static int mod_create(void *ctx, struct vmsup *sup, struct json_object *j, struct vm *vm,
		      const char **cls, char **err)
{
	const struct vmsup_config *cfg = vmsup_config(sup);
	struct json_object *from, *spec = NULL, *v;
	struct vm_restore *r = NULL;
	struct stat sb;
	char *dir = NULL;
	const char *c = VMSUP_EC_INVALID;

	if (!json_object_is_type(j, json_type_object) ||
	    !json_object_object_get_ex(j, "from", &from))
		return 0;
	if (!json_object_is_type(from, json_type_string)) {
		return vmsup_errc(err, cls, VMSUP_EC_INVALID,
				  "'from' must be a template name (a string)");
	}
	json_object_object_foreach(j, k, val)
	{
		size_t i = 0;
		(void)val;
		while (from_fields[i] && strcmp(from_fields[i], k))
			i++;
		if (!from_fields[i]) {
			return vmsup_errc(err, cls, VMSUP_EC_INVALID,
					  "'%s' cannot be given with 'from': a restored VM has "
					  "the template's devices (allowed: name, start, restart)",
					  k);
		}
	}
	if (tmpl_name_check(json_object_get_string(from), err) < 0) {
		*cls = VMSUP_EC_INVALID;
		return -1;
	}
	if (!(r = calloc(1, sizeof(*r))) || !(r->name = strdup(json_object_get_string(from))) ||
	    asprintf(&dir, "%s/templates/%s", cfg->state_dir, r->name) < 0) {
		dir = NULL;
		vmsup_err(err, "out of memory");
		c = VMSUP_EC_INTERNAL;
		goto fail;
	}
	if (stat(dir, &sb) < 0) {
		vmsup_err(err, "no template named '%s'", r->name);
		c = VMSUP_EC_NOT_FOUND;
		goto fail;
	}
	if (!(r->t = tmpl_open(cfg->state_dir, r->name, err)) || check_files(r->t, err)) {
		/* there, but not what was saved: the pool stops filling from it */
		c = VMSUP_EC_DAMAGED;
		goto fail;
	}
	if (!r->t->spec || !json_object_is_type(r->t->spec, json_type_object) || !r->t->mac) {
		vmsup_err(err, "template '%s' has no VM spec or MAC in its meta.json", r->name);
		goto fail;
	}
	if (strcmp(r->t->qemu_version, vmsup_qemu_version(sup))) {
		vmsup_err(err,
			  "template '%s' was saved by qemu %s, this daemon runs qemu %s: a "
			  "snapshot only loads into the qemu that made it",
			  r->name, r->t->qemu_version, vmsup_qemu_version(sup));
		goto fail;
	}
	if (json_object_deep_copy(r->t->spec, &spec, NULL) < 0) {
		vmsup_err(err, "out of memory");
		c = VMSUP_EC_INTERNAL;
		goto fail;
	}
	json_object_object_del(spec, "name");
	json_object_object_del(spec, "start");
	json_object_object_foreach(j, k2, val2)
	{
		if (strcmp(k2, "from"))
			json_object_object_add(spec, k2, json_object_get(val2));
	}
	if (!json_object_object_get_ex(spec, "name", &v)) {
		vmsup_err(err, "'name' is required");
		goto fail;
	}
	if (vm_spec_from_json(spec, cfg, &vm->spec, err))
		goto fail;
	/* the template's disk and the files under it are the ones its RAM
	 * was saved against; checked when its maker made it */
	if (tmpl_disk_check(r->t, err)) {
		c = VMSUP_EC_DAMAGED;
		goto fail;
	}
	vm->spec.disk_trusted = vm->spec.disk != NULL;
	/* not part of the spec's JSON: the device set says */
	vm->spec.stage = snap_devconfig_has_stage(r->t->devconfig);
	vm->spec.no_pvpanic = !snap_devconfig_has_device(r->t->devconfig, "pvpanic");
	vm->spec.no_rng = !snap_devconfig_has_device(r->t->devconfig, "virtio-rng-pci");
	if (r->t->ram_path) {
		/* copy-on-write of a sealed copy (tmpl-ram.h): qemu never
		 * opens the template's file */
		if (!(vm->spec.ram_file = strdup("/proc/self/fd/" STR(RAM_FD)))) {
			vmsup_err(err, "out of memory");
			c = VMSUP_EC_INTERNAL;
			goto fail;
		}
		vm->spec.ram_shared = false;
		r->ignore_shared = true;
	}
	/* the template's own kernel and initrd, not the paths its maker named */
	if (tmpl_boot_paths(&vm->spec, r->t->dir, err)) {
		c = VMSUP_EC_INTERNAL;
		goto fail;
	}
	/* the guest's RAM holds the template's MAC. In mode user each VM has a
	 * network of its own, so that one serves; a template made on a bridge
	 * has clones on it, which would all bring it (one lease, lost frames):
	 * each gets a MAC of its own (the bridge module's, vm->mac left empty)
	 * and the refresh has the guest take it and renew its lease
	 * (maybe_refresh) */
	snprintf(r->tmpl_mac, sizeof(r->tmpl_mac), "%s", r->t->mac);
	if (!vm->spec.net.bridge)
		snprintf(vm->mac, sizeof(vm->mac), "%s", r->t->mac);
	r->vm = vm;
	r->pending = true;
	vm->tmpl = r;
	vm_status_changed(vm);
	json_object_put(spec);
	free(dir);
	return 1;
fail:
	json_object_put(spec);
	free(dir);
	if (r) {
		tmpl_close(r->t);
		free(r->name);
		free(r);
	}
	if (!*cls)
		*cls = c;
	return -1;
}

/* ---- spawning ---- */

int vm_template_argv(struct vm *vm, char ***argv, int *fds, char **err)
{
	struct vm_restore *r = rs_of(vm);
	char *why = NULL;
	int fd;

	if (!r || !r->pending)
		return 0;
	/* one attempt: a failed restore must not repeat on restart */
	r->pending = false;
	if (tmpl_check_vm(r->t, vmsup_qemu_version(vm->sup), (const char *const *)*argv, &why)) {
		vmsup_err(err, "%s", why ? why : "the VM does not fit the template");
		free(why);
		return -1;
	}
	if (vm_argv_append(argv, snap_restore_argv()))
		return vmsup_err(err, "out of memory");
	if ((fd = open(r->t->state_path, O_RDONLY | O_CLOEXEC)) < 0)
		return vmsup_err(err, "template '%s': %s: %s", r->name, r->t->state_path,
				 strerror(errno));
	fds[STATE_FD - 3] = fd;
	if (tmpl_boot_open(&vm->spec, r->t->dir, fds, err))
		return -1;
	if (r->t->ram_path && (fds[RAM_FD - 3] = tmpl_ram_fd(r->t->ram_path, r->t->ram_bytes,
							     r->t->ram_sha256, err)) < 0)
		return -1;
	/* only this start maps the template's RAM: a later one boots afresh */
	free(vm->spec.ram_file);
	vm->spec.ram_file = NULL;
	r->loading = true;
	r->t_spawn = now_ms();
	r->restore_ms = r->load_ms = r->agent_ms = 0;
	r->refreshed = r->retried = false;
	r->refresh_err[0] = '\0';
	vm_status_changed(vm); /* the template's figures */
	return 0;
}

bool vm_template_restoring(const struct vm *vm)
{
	struct vm_restore *r = rs_of(vm);

	return r && r->loading;
}

bool vm_template_refreshed(const struct vm *vm)
{
	struct vm_restore *r = rs_of(vm);

	return r && !r->loading && r->refreshed && !r->refresh;
}

/* ---- after the restore: clock and RNG ---- */

static void maybe_refresh(struct vm_restore *r);

static void on_refreshed(const struct snap_refresh_result *res, void *arg)
{
	struct vm_restore *r = arg;

	r->refresh = NULL;
	r->refreshed = true;
	r->res = *res;
	if (res->time_set)
		vm_template_clock_learnt(r->name, res->clock_by_date);
	vm_status_changed(r->vm);
	/* the first set can land late when the agent and the host are busy
	 * (the time is taken when the command is queued): once more, idle */
	if (res->time_set && (res->skew_ms > SKEW_RETRY_MS || res->skew_ms < -SKEW_RETRY_MS) &&
	    !r->retried) {
		LOG_I(r->vm->spec.name, "after restore: clock %.0f ms off, setting it again",
		      res->skew_ms);
		r->retried = true;
		r->refreshed = false;
		maybe_refresh(r);
		return;
	}
	if (!res->identity)
		LOG_W(r->vm->spec.name, "after restore: identity not renewed: %s",
		      res->identity_error);
	/* a new MAC: an address read before the guest took it is stale */
	if (strcmp(r->vm->mac, r->tmpl_mac) && agent_of && agent_of(r->vm))
		agent_invalidate(agent_of(r->vm));
	if (!res->time_set || !res->reseeded)
		LOG_W(r->vm->spec.name, "after restore: clock %s%s, RNG %s%s",
		      res->time_set ? "set" : "not set: ", res->time_error,
		      res->reseeded ? "reseeded" : "not reseeded: ", res->seed_error);
	else
		LOG_I(r->vm->spec.name,
		      "after restore: clock set (skew %.1f ms), RNG reseeded with %zu bytes",
		      res->skew_ms, res->seed_bytes);
}

static void maybe_refresh(struct vm_restore *r)
{
	struct agent *a = agent_of ? agent_of(r->vm) : NULL;
	char *err = NULL;

	if (r->loading || r->refresh || r->refreshed || r->t_spawn == 0 || !a ||
	    agent_state(a) != AGENT_READY)
		return;
	if (r->agent_ms == 0)
		r->agent_ms = now_ms() - r->t_spawn;
	vm_status_changed(r->vm); /* agent_ms; refresh, if it cannot start */
	if (!(r->refresh = snap_refresh(vmsup_base(r->vm->sup), a, SEED_BYTES, r->vm->spec.name,
					on_refreshed, r, &err))) {
		r->refreshed = true;
		snprintf(r->refresh_err, sizeof(r->refresh_err), "%s", err ? err : "failed");
		LOG_W(r->vm->spec.name, "after restore: %s", r->refresh_err);
		free(err);
		return;
	}
	snap_refresh_set_by_date(r->refresh, vm_template_clock_by_date(r->name));
	if (strcmp(r->vm->mac, r->tmpl_mac))
		snap_refresh_set_mac(r->refresh, r->tmpl_mac, r->vm->mac);
}

static void on_bus(struct json_object *ev, void *arg)
{
	struct vm_restore *r = arg;
	struct json_object *v;

	if (!json_object_object_get_ex(ev, "type", &v))
		return;
	if (!strcmp(json_object_get_string(v), "agent")) {
		maybe_refresh(r);
	} else if (!strcmp(json_object_get_string(v), "state") && r->loading && r->op &&
		   json_object_object_get_ex(ev, "state", &v) &&
		   !strcmp(json_object_get_string(v), "running")) {
		/* the restore's cont resumed it: the create reply goes out next */
		r->restore_ms = now_ms() - r->t_spawn;
		vm_status_changed(r->vm);
	}
}

static void on_restored(const struct snap_stats *st, const char *err, void *arg)
{
	struct vm_restore *r = arg;
	struct vm *vm = r->vm;

	r->op = NULL;
	r->loading = false;
	vm_status_changed(vm);
	if (err) {
		char *tail = snap_stderr_tail(vm->qemu_log, TAIL_BYTES);
		char *msg = NULL;
		if (asprintf(&msg, "restoring template '%s': %s%s%s", r->name, err,
			     tail && *tail ? "; qemu: " : "", tail ? tail : "") < 0)
			msg = NULL;
		free(tail);
		LOG_E(vm->spec.name, "%s", msg ? msg : err);
		free(r->fail);
		r->fail = msg;
		/* start_failed is set: the exit makes the VM "failed", and
		 * vm_template_exited gives it this error. Without a monitor qemu
		 * is exiting (or already reaped: its pid may be reused) */
		if (vm->pid > 0 && vm->qmp)
			kill(vm->pid, SIGKILL);
		else if (vm->pid <= 0)
			vm_template_exited(vm);
		return;
	}
	vm->start_failed = false;
	r->load_ms = st->wall_ms;
	if (r->restore_ms == 0)
		r->restore_ms = now_ms() - r->t_spawn;
	LOG_I(vm->spec.name, "restored from template '%s' in %.0f ms (state loaded in %.0f ms)",
	      r->name, r->restore_ms, r->load_ms);
	maybe_refresh(r);
}

void vm_template_qmp_ready(struct vm *vm)
{
	struct vm_restore *r = rs_of(vm);
	struct snap_restore_opts o = {.state_path = NULL,
				      .state_fd = STATE_FD,
				      .timeout_ms = RESTORE_TIMEOUT_MS,
				      .resume = true};
	char *err = NULL;

	if (!r || !r->loading || r->op)
		return;
	o.ignore_shared = r->ignore_shared;
	if (!r->sub)
		r->sub = vmsup_subscribe(vm->sup, vm->spec.name, on_bus, r);
	/* until the state is loaded an exit of qemu is a failed start */
	vm->start_failed = true;
	if (!(r->op = snap_restore(vmsup_base(vm->sup), vm->qmp, &o, on_restored, r, &err))) {
		struct snap_stats st = {0};
		on_restored(&st, err ? err : "cannot start the restore", r);
		free(err);
	}
}

void vm_template_exited(struct vm *vm)
{
	struct vm_restore *r = rs_of(vm);

	if (!r)
		return;
	if (r->op) {
		/* qemu exits by itself when the state does not load */
		char *tail = snap_stderr_tail(vm->qemu_log, TAIL_BYTES);
		char *msg = NULL;
		snap_op_cancel(r->op);
		r->op = NULL;
		if (asprintf(&msg,
			     "restoring template '%s': qemu exited while loading the state%s%s",
			     r->name, tail && *tail ? ": " : "", tail ? tail : "") >= 0) {
			free(vm->error);
			vm->error = msg;
		}
		free(tail);
	}
	if (r->fail) {
		free(vm->error);
		vm->error = r->fail;
		r->fail = NULL;
		vmsup_vm_save(vm);
	}
	r->loading = false;
	snap_refresh_cancel(r->refresh);
	r->refresh = NULL;
}

void vm_template_release(struct vm *vm)
{
	struct vm_restore *r = rs_of(vm);

	if (!r)
		return;
	snap_op_cancel(r->op);
	snap_refresh_cancel(r->refresh);
	if (r->sub)
		vmsup_unsubscribe(vm->sup, r->sub);
	tmpl_close(r->t);
	free(r->fail);
	free(r->name);
	free(r);
	vm->tmpl = NULL;
	vm_status_changed(vm);
}

/* ---- the module table the daemon registers (no ctx) ---- */

static int mod_argv(void *ctx, struct vm *vm, char ***argv, int *fds, char **err)
{
	return vm_template_argv(vm, argv, fds, err);
}

static bool mod_holds_cont(void *ctx, const struct vm *vm)
{
	return vm_template_restoring(vm);
}

static void mod_qmp_ready(void *ctx, struct vm *vm)
{
	vm_template_qmp_ready(vm);
}

/* first among the modules (registered last): a refresh in flight must not
 * outlive the agent */
static void mod_exited(void *ctx, struct vm *vm)
{
	vm_template_exited(vm);
}

static void mod_release(void *ctx, struct vm *vm)
{
	vm_template_release(vm);
}

static void mod_status(void *ctx, const struct vm *vm, struct json_object *o)
{
	vm_template_status(vm, o);
}

static void mod_restore(void *ctx, struct vm *vm, struct json_object *state)
{
	vm_template_restore(vm, state);
}

const struct vm_module vm_template_module = {
    .name = "template",
    .create = mod_create,
    .argv = mod_argv,
    .holds_cont = mod_holds_cont,
    .qmp_ready = mod_qmp_ready,
    .exited = mod_exited,
    .destroyed = mod_exited,
    .release = mod_release,
    .status = mod_status,
    .restore = mod_restore,
};
