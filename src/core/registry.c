/*
 * The registry of VMs: creating and removing them, finding them, the
 * supervisor's own life (vmsup_new, vmsup_free), and the entry points
 * reattach and the restart policy use.
 */
#include "src/core/sup-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/core/reattach.h"
#include "src/core/restart.h"
#include "src/core/statefile.h"
#include "src/core/statewriter.h"
#include "src/qemu/argv.h"
#include "src/qemu/net.h"
#include "src/qemu/probe.h"
#include "src/qemu/spawn.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/util/peer.h"

void sup_vm_free(struct vm *vm)
{
	if (vm->save_timer) {
		/* a change not yet on disk must not be lost (daemon exit) */
		if (evtimer_pending(vm->save_timer, NULL) && !vm->destroying)
			sup_save_now(vm);
		event_free(vm->save_timer);
	}
	sup_drop_qmp(vm);
	sup_ops_proxy_stop(vm);
	sup_release_ssh_port(vm);
	if (vm->stop_timer)
		event_free(vm->stop_timer);
	vm_restart_release(vm);
	vm_reattach_release(vm);
	vmsup_modules_release(vm);
	vm_release_fields(vm);
	free(vm);
}

void sup_rm_run_dir(struct vm *vm)
{
	if (vm->run_dir && vm_rm_run_dir(vm->run_dir) < 0 && errno != ENOENT)
		LOG_W(vm->spec.name, "rmdir %s: %s", vm->run_dir, strerror(errno));
}

void sup_vm_remove(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	vmsup_modules_destroyed(vm);
	/* unlinked by the writer thread: after any write of it still queued */
	if (!statewriter_put(sup->writer, vm->spec.name, NULL))
		LOG_E(vm->spec.name, "state file not removed: out of memory");
	sup_rm_run_dir(vm);
	for (struct vm **pp = &sup->vms; *pp; pp = &(*pp)->next)
		if (*pp == vm) {
			*pp = vm->next;
			sup->nvms--;
			break;
		}
	LOG_I(vm->spec.name, "destroyed");
	sup_emit_destroyed(vm);
	/* remaining waiters (pause etc.) learn the VM is gone */
	sup_waiters_fail(vm, VMSUP_EC_NOT_FOUND, "the VM was destroyed");
	sup_vm_free(vm);
}

struct vm *vmsup_find(struct vmsup *sup, const char *name)
{
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		if (strcmp(vm->spec.name, name) == 0)
			return vm;
	return NULL;
}

struct vm *vmsup_first(struct vmsup *sup)
{
	return sup->vms;
}

bool vmsup_mac_in_use(struct vmsup *sup, const char *mac, const struct vm *except)
{
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		if (vm != except && !strcmp(vm->mac, mac))
			return true;
	return false;
}

size_t vmsup_count(const struct vmsup *sup)
{
	return sup->nvms;
}

struct json_object *vmsup_get(struct vmsup *sup, const char *name)
{
	struct vm *vm = vmsup_find(sup, name);

	if (!vm)
		return NULL;
	/* the reads tests make most: each compares the list's kept text */
	vmsup_status_check(vm);
	return vm_to_json(vm);
}

const struct vmsup_config *vmsup_config(const struct vmsup *sup)
{
	return &sup->cfg;
}

const char *vmsup_qemu_version(const struct vmsup *sup)
{
	return sup->qemu_version;
}

bool vmsup_qemu_sandbox(const struct vmsup *sup)
{
	return sup->sandbox;
}

/* A create's failure before the VM exists; one that ran out of descriptors says so. */
static void create_refuse(vmsup_done_fn done, void *arg, const char *cls, const char *name,
			  const char *err)
{
	char why[512];

	if (!vmsup_err_is_fd_exhaustion(err)) {
		sup_reply_err(done, arg, cls, "%s", err ? err : "bad spec");
		return;
	}
	sup_exhausted_desc(name, err, why, sizeof(why));
	sup_reply_err(done, arg, VMSUP_EC_EXHAUSTED, "%s", why);
}

struct waiter *vmsup_create(struct vmsup *sup, struct json_object *j, const struct vmsup_peer *peer,
			    vmsup_done_fn done, void *arg)
{
	struct vm *vm;
	char *err = NULL;
	struct waiter *w;
	const char *cls = NULL;
	int from;

	if (sup->shutting_down) {
		sup_reply_err(done, arg, VMSUP_EC_SHUTTING_DOWN, "the daemon is shutting down");
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		sup_reply_err(done, arg, VMSUP_EC_INTERNAL, "out of memory");
		return NULL;
	}
	vm->ssh_port_hold = -1;
	/* a module may build the spec from fields it owns ({"from": TEMPLATE}) */
	if ((from = vmsup_modules_create(sup, j, vm, &cls, &err)) < 0) {
		create_refuse(done, arg, cls ? cls : VMSUP_EC_INVALID, vm->spec.name, err);
		goto fail;
	}
	if (!from && vm_spec_from_json(j, &sup->cfg, &vm->spec, &err)) {
		sup_reply_err(done, arg, VMSUP_EC_INVALID, "%s", err ? err : "bad spec");
		goto fail;
	}
	if (vmsup_find(sup, vm->spec.name)) {
		sup_reply_err(done, arg, VMSUP_EC_CONFLICT, "VM '%s' already exists",
			      vm->spec.name);
		goto fail;
	}
	if (sup->nvms >= sup->cfg.max_vms) {
		sup_reply_err(done, arg, VMSUP_EC_CONFLICT, "max_vms (%u) reached",
			      sup->cfg.max_vms);
		goto fail;
	}
	/* a published port someone else holds: refused before anything exists */
	if (vm_net_bind_ports(&vm->spec.net, &err)) {
		create_refuse(done, arg, VMSUP_EC_CONFLICT, vm->spec.name, err);
		goto fail;
	}
	vm->sup = sup;
	vm->state = VM_DEFINED;
	vm->exit_code = vm->exit_signal = -1;
	vm->exit_reason = NULL;
	vm->balloon_mib = -1;
	vm->created = vm->state_since = sup_now_wall();
	vm->owner = peer ? peer->uid : geteuid();
	if (!vm->mac[0])
		vm_mac_from_name(vm->spec.name, vm->mac);
	if (sup_paths_init(vm, &err)) {
		create_refuse(done, arg, VMSUP_EC_INVALID, vm->spec.name, err);
		goto fail;
	}
	if (vmsup_modules_prepare(vm, peer, &cls, &err)) {
		create_refuse(done, arg, cls ? cls : VMSUP_EC_INVALID, vm->spec.name, err);
		goto fail;
	}
	vm->next = sup->vms;
	sup->vms = vm;
	sup->nvms++;
	LOG_I(vm->spec.name, "defined (%u MiB, %u cpus, accel %s%s)", vm->spec.mem_mib,
	      vm->spec.cpus, vm->spec.accel,
	      vm->spec.kernel || vm->spec.disk ? "" : ", guest-less");
	sup_save(vm);
	sup_emit_state(vm);
	if (!vm->spec.start)
		return sup_reply_vm(done, arg, true, vm);
	sup_vm_start(vm);
	if (vm->start_exhausted && vm->pid <= 0) {
		/* out of descriptors before qemu ran: nothing is kept */
		char why[512];
		sup_exhausted_desc(vm->spec.name, vm->error, why, sizeof(why));
		vm->destroying = true;
		sup_vm_remove(vm);
		sup_reply_err(done, arg, VMSUP_EC_EXHAUSTED, "%s", why);
		return NULL;
	}
	if (vm->state != VM_STARTING)
		return sup_reply_vm(done, arg, true, vm);
	w = sup_waiter_add(vm, W_START, 0, true, 0, done, arg);
	if (!w)
		w = sup_reply_vm(done, arg, true, vm);
	return w;
fail:
	free(err);
	vm->sup = sup;
	vmsup_modules_release(vm);
	/* the paths too: vm_paths_init may fail half-way (socket path too long) */
	vm_release_fields(vm);
	free(vm);
	return NULL;
}

/*
 * qemu_user: unset means the dedicated user when the daemon is root (qemu
 * needs no access of its own: it opens its files before -runas drops to
 * it, or is handed descriptors); "root" (0, 0:0) is root's qemu, by
 * explicit choice only; a daemon that is not root runs qemu as itself.
 */
static int sup_qemu_user_init(struct vmsup *sup, char **err)
{
	const char *u = sup->cfg.qemu_user, *def = getenv("VMSUP_QEMU_USER_DEFAULT");

	if (u && (!strcmp(u, "root") || !strcmp(u, "0") || !strcmp(u, "0:0"))) {
		free(sup->cfg.qemu_user);
		sup->cfg.qemu_user = NULL;
		return 0;
	}
	if (u) /* a typo in qemu_user is a start-up error, not a failure of every VM */
		return vmsup_user_resolve(u, &sup->qemu_uid, &sup->qemu_gid, err);
	if (geteuid() != 0)
		return 0;
	/* the default's name, replaceable for the test of its absence only */
	if (!def || !*def)
		def = VMSUP_QEMU_USER_DEFAULT;
	if (vmsup_user_resolve(def, &sup->qemu_uid, &sup->qemu_gid, NULL))
		return vmsup_err(err,
				 "qemu_user: the default user '%s' does not exist; create it "
				 "(scripts/setup or make install do, or: useradd --system "
				 "--user-group --no-create-home --home-dir /nonexistent --shell "
				 "/usr/sbin/nologin %s), or set qemu_user (qemu_user = root runs "
				 "qemu as root, not recommended)",
				 def, def);
	if (!(sup->cfg.qemu_user = strdup(def)))
		return vmsup_err(err, "out of memory");
	sup->qemu_user_default = true;
	return 0;
}

struct vmsup *vmsup_new(struct event_base *base, const struct vmsup_config *cfg, char **err)
{
	struct vmsup *sup = calloc(1, sizeof(*sup));

	if (!sup) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	sup->base = base;
	if (vmsup_config_copy(&sup->cfg, cfg, err)) {
		free(sup);
		return NULL;
	}
	if (asprintf(&sup->vm_root, "%s/vm", sup->cfg.run_dir) < 0) {
		sup->vm_root = NULL;
		vmsup_err(err, "out of memory");
		goto fail;
	}
	if (vm_mkdir(sup->cfg.run_dir, 0755, err) || vm_mkdir(sup->vm_root, 0700, err) ||
	    vm_mkdir(sup->cfg.state_dir, 0700, err))
		goto fail;
	if (vm_probe_qemu(sup->cfg.qemu, &sup->sandbox, &sup->qemu_version, err))
		goto fail;
	if (sup->cfg.qemu_sandbox == VMSUP_SANDBOX_ON && !sup->sandbox) {
		vmsup_err(err,
			  "qemu_sandbox = on, but %s has no usable -sandbox (built without "
			  "seccomp?)",
			  sup->cfg.qemu);
		goto fail;
	}
	if (sup->cfg.qemu_sandbox == VMSUP_SANDBOX_OFF)
		sup->sandbox = false;
	if (sup_qemu_user_init(sup, err))
		goto fail;
	LOG_I(NULL, "qemu %s (%s), -sandbox %s", sup->qemu_version, sup->cfg.qemu,
	      sup->sandbox				   ? "on"
	      : sup->cfg.qemu_sandbox == VMSUP_SANDBOX_OFF ? "off (qemu_sandbox)"
							   : "unavailable");
	if (!(sup->writer = statewriter_new(base, sup->cfg.state_dir, sup_saved, sup, err)))
		goto fail;
	sup->sigchld = evsignal_new(base, SIGCHLD, sup_on_sigchld, sup);
	if (!sup->sigchld || evsignal_add(sup->sigchld, NULL) < 0) {
		vmsup_err(err, "cannot watch SIGCHLD");
		goto fail;
	}
	return sup;
fail:
	vmsup_free(sup);
	return NULL;
}

void vmsup_free(struct vmsup *sup)
{
	if (!sup)
		return;
	while (sup->vms) {
		struct vm *vm = sup->vms;
		sup->vms = vm->next;
		sup_waiters_fail(vm, VMSUP_EC_SHUTTING_DOWN, "the daemon is shutting down");
		sup_vm_free(vm);
	}
	/* every change queued reaches the disk before the daemon exits; the
	 * replies still held are answered as it drains (their clients may be
	 * gone: the API lets go of them before the supervisor) */
	statewriter_free(sup->writer);
	while (sup->durable) {
		struct waiter *w = sup->durable;
		sup->durable = w->dnext;
		w->durable = false;
		sup_waiter_free(w);
	}
	sup_bus_free(sup);
	if (sup->sigchld)
		event_free(sup->sigchld);
	free(sup->vm_root);
	free(sup->qemu_version);
	vmsup_config_release(&sup->cfg);
	free(sup);
}

struct event_base *vmsup_base(const struct vmsup *sup)
{
	return sup->base;
}

bool vmsup_shutting_down(const struct vmsup *sup)
{
	return sup->shutting_down;
}

int vmsup_vm_paths(struct vm *vm, char **err)
{
	return sup_paths_init(vm, err);
}

int vmsup_vm_ops_reattach(struct vm *vm, char **err)
{
	struct stat sb;

	if (!vm->ops_qemu_sock || stat(vm->ops_qemu_sock, &sb) || !S_ISSOCK(sb.st_mode))
		return 0;
	return sup_ops_proxy_start(vm, err);
}

void vmsup_adopt(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	vm->next = sup->vms;
	sup->vms = vm;
	sup->nvms++;
	sup_save(vm);
	sup_emit_state(vm);
}

void vmsup_vm_set_state(struct vm *vm, enum vm_state to)
{
	sup_set_state(vm, to);
	sup_check_waiters(vm);
}

void vmsup_vm_save(struct vm *vm)
{
	sup_save(vm);
}

void vmsup_save_all_now(struct vmsup *sup)
{
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		sup_save_flush(vm);
	statewriter_drain(sup->writer);
}

void vmsup_vm_save_start(struct vm *vm)
{
	sup_save_now(vm);
}

struct waiter *vmsup_vm_reply_saved(struct vm *vm, struct json_object *body, bool created,
				    vmsup_done_fn done, void *arg)
{
	return sup_reply_body(done, arg, created, vm, body);
}

void vmsup_vm_exited(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	vm->adopted = false;
	sup_process_gone(vm, -1); /* may free vm */
	sup_maybe_shutdown_done(sup);
}

void vmsup_vm_rm_run_dir(struct vm *vm)
{
	sup_rm_run_dir(vm);
}

int vmsup_vm_restart(struct vm *vm)
{
	vm->restarts++;
	sup_vm_start(vm);
	return vm->state == VM_STARTING ? 0 : -1;
}
