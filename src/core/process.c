/* Spawning a VM's qemu, and what its exit means for the VM's state. */
#include "src/core/sup-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/core/reattach.h"
#include "src/core/restart.h"
#include "src/qemu/argv.h"
#include "src/qemu/net.h"
#include "src/qemu/spawn.h"
#include "src/qemu/stage.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/util/peer.h"

static char *read_tail(const char *path)
{
	char buf[LOG_TAIL_BYTES + 1];
	ssize_t n;
	off_t size;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0, SEEK_SET);
	n = read(fd, buf, LOG_TAIL_BYTES);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* NUL bytes would cut the JSON string short */
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = '?';
	return strdup(buf);
}

void sup_remove_runtime_files(struct vm *vm)
{
	const char *files[] = {vm->qmp_sock, vm->ops_sock, vm->ops_qemu_sock, vm->qga_sock,
			       vm->pidfile};

	sup_ops_proxy_stop(vm);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i])
			unlink(files[i]);
}

/* "signal 9", "status 1", or "exit status unknown" (a reattached qemu) */
static const char *exit_what(const struct vm *vm, char *buf, size_t size)
{
	if (vm->exit_signal >= 0)
		snprintf(buf, size, "signal %d", vm->exit_signal);
	else if (vm->exit_code >= 0)
		snprintf(buf, size, "status %d", vm->exit_code);
	else
		snprintf(buf, size, "exit status unknown");
	return buf;
}

/* The last non-empty line of text into out (empty if none). */
static const char *last_line(const char *text, char *out, size_t size)
{
	const char *end = text ? text + strlen(text) : NULL, *start;

	out[0] = '\0';
	while (end && end > text && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (!end || end == text)
		return out;
	for (start = end; start > text && start[-1] != '\n';)
		start--;
	snprintf(out, size, "%.*s", (int)(end - start), start);
	return out;
}

/* status: as from waitpid, or -1 when unknown (not our child) */
void sup_process_gone(struct vm *vm, int status)
{
	enum vm_state to;
	char what[32], line[256], why[256] = "";

	/* the state change below reaches the bus, whose subscribers may
	 * destroy the VM (the pool does, for a member that crashed): it is
	 * freed at the end, not under our feet */
	vm->busy++;
	/* the exit can be noticed before qemu's last events are read (both
	 * ready in one loop turn): a SHUTDOWN left unread would make an
	 * orderly stop look like a crash */
	if (vm->qmp)
		qmp_session_drain(vm->qmp);
	sup_drop_qmp(vm);
	if (vm->stop_timer) {
		event_free(vm->stop_timer);
		vm->stop_timer = NULL;
	}
	vm->exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	vm->exit_signal = status != -1 && WIFSIGNALED(status) ? WTERMSIG(status) : -1;
	exit_what(vm, what, sizeof(what));
	vm->exit_reason = vmsup_modules_exit_reason(vm, why, sizeof(why));
	free(vm->log_tail);
	vm->log_tail = read_tail(vm->qemu_log);
	if (vm->start_failed || (!vm->qmp_ready_once && !vm->kill_requested)) {
		to = VM_FAILED;
		/* qemu's own last words (e.g. no /dev/kvm) say more than the
		 * QMP side's symptom of its exit */
		if (vm->exit_reason)
			sup_set_error(vm, "qemu exited during start-up (%s): %s", what, why);
		else if (vm->exit_code > 0 && *last_line(vm->log_tail, line, sizeof(line)))
			sup_set_error(vm, "qemu exited during start-up (%s): %s", what, line);
		else if (!vm->error)
			sup_set_error(vm, "qemu exited during start-up (%s)", what);
	} else if (vm->fatal) {
		/* before a stop asked for meanwhile: the VM was lost first */
		to = VM_CRASHED;
		sup_set_error(vm, "%s (qemu: %s)", vm->fatal, what);
	} else if (vm->shutdown_seen || vm->kill_requested) {
		to = VM_STOPPED;
	} else {
		to = VM_CRASHED;
		if (vm->exit_reason)
			sup_set_error(vm, "%s (qemu: %s)", why, what);
		else
			sup_set_error(vm, "qemu exited without a SHUTDOWN event (%s)", what);
	}
	LOG_I(vm->spec.name, "qemu pid %d exited (%s)", (int)vm->pid, what);
	sup_release_ssh_port(vm);
	vm->pid = 0;
	vm->agent_state = VM_AGENT_ABSENT;
	sup_remove_runtime_files(vm);
	vmsup_modules_exited(vm);
	if (vm->state == VM_DEFINED || vm->state == VM_STOPPED || vm->state == VM_CRASHED ||
	    vm->state == VM_FAILED)
		sup_save(vm);
	else
		sup_set_state(vm, to);
	/* only arms a timer: a destroy below frees it with the VM */
	vm_restart_exited(vm);
	vm->busy--;
	sup_check_waiters(vm);
}

void sup_on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct vmsup *sup = arg;
	struct vm *vm, *next;

	/* waitpid per VM, never -1: the process may have other children */
	for (vm = sup->vms; vm; vm = next) {
		int st;
		pid_t r;
		next = vm->next;
		/* an adopted qemu is no child of ours: its pidfd watch reports it */
		if (vm->pid <= 0 || vm->adopted)
			continue;
		do
			r = waitpid(vm->pid, &st, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == vm->pid || (r < 0 && errno == ECHILD)) {
			if (r < 0)
				st = 0;
			/* vm may be freed by a destroy waiter: next was read before */
			sup_process_gone(vm, st);
		}
	}
	sup_maybe_shutdown_done(sup);
}

void sup_release_ssh_port(struct vm *vm)
{
	if (vm->ssh_port_hold >= 0)
		close(vm->ssh_port_hold);
	vm->ssh_port_hold = -1;
}

void sup_fail_start(struct vm *vm, const char *why)
{
	sup_set_error(vm, "%s", why);
	vm->start_failed = true;
	vm->start_exhausted = vm->start_exhausted || vmsup_err_is_fd_exhaustion(why);
	LOG_E(vm->spec.name, "start failed: %s", why);
	/* the exit handler turns this into "failed" (qmp never became ready) */
	if (vm->pid > 0)
		kill(vm->pid, SIGKILL);
}

int sup_paths_init(struct vm *vm, char **err)
{
	struct vmsup *sup = vm->sup;

	free(vm->run_dir);
	if (asprintf(&vm->run_dir, "%s/%s", sup->vm_root, vm->spec.name) < 0) {
		vm->run_dir = NULL;
		return vmsup_err(err, "out of memory");
	}
	return vm_run_files(vm->run_dir, &vm->qmp_sock, &vm->ops_sock, &vm->ops_qemu_sock,
			    &vm->qga_sock, &vm->pidfile, &vm->console_log, &vm->qemu_log, err);
}

/*
 * Root's VM under the default qemu_user: qemu is that user, not root, and
 * each share not already that user's reaches it as an idmapped mount
 * showing the share's owner as qemu's ids (src/files/vm-files.c), so
 * qemu serves root's 0700 directory and what the guest makes lands as the
 * owner's. Shares of different owners each get their own map.
 */
bool vmsup_vm_share_idmap(const struct vm *vm, uid_t *uid, gid_t *gid)
{
	const struct vmsup *sup = vm->sup;

	*uid = sup->qemu_uid;
	*gid = sup->qemu_gid;
	return geteuid() == 0 && sup->qemu_user_default && vm->owner == 0 && vm->spec.nshares;
}

/*
 * Whom qemu runs as (-runas), into *runas (NULL: as the daemon) and as
 * "uid:gid" into buf (when *runas is set): a configured qemu_user; else,
 * for a VM with shares made by a user other than root, that user. The 9p
 * export (security_model=none) makes what the guest asks for as qemu's
 * own user, so a root qemu let the guest leave setuid-root files in the
 * user's directory. Else the default user: also for root's VM with
 * shares (vmsup_vm_share_idmap) and a warm pool's VM (no shares of its
 * own: the share a take binds in later is idmapped as well,
 * vm_stage_bind). Root's qemu only with qemu_user = root.
 */
static void qemu_runas(const struct vmsup *sup, const struct vm *vm, const char **runas, char *buf,
		       size_t n)
{
	const struct passwd *pw;

	*runas = sup->cfg.qemu_user;
	if ((sup->cfg.qemu_user && !sup->qemu_user_default) || !vm->spec.nshares ||
	    geteuid() != 0 || (sup->qemu_user_default && vm->owner == 0)) {
		/* the ids to give the run dir to, known without a lookup */
		snprintf(buf, n, "%u:%u", (unsigned)sup->qemu_uid, (unsigned)sup->qemu_gid);
		return;
	}
	if (vm->owner == 0) { /* qemu_user = root */
		*runas = NULL;
		return;
	}
	/* a uid with no passwd entry gets nogroup, not root's group */
	pw = getpwuid(vm->owner);
	snprintf(buf, n, "%u:%u", (unsigned)vm->owner, pw ? (unsigned)pw->pw_gid : 65534u);
	*runas = buf;
}

/* Spawn qemu; the VM is "starting" (or "failed" with vm->error). */
int sup_vm_start(struct vm *vm)
{
	struct vmsup *sup = vm->sup;
	char runas_ids[48]; /* "uid:gid" of runas */
	const char *runas = NULL;
	struct vm_argv_opts o = {sup->cfg.qemu, sup->sandbox, NULL, sup->cfg.tcg_tb_size_mib};
	struct vm_paths p;
	char **argv = NULL, *err = NULL;
	int ret = -1, fds[VM_SPAWN_FDS];

	for (int i = 0; i < VM_SPAWN_FDS; i++)
		fds[i] = -1;
	free(vm->error);
	vm->error = NULL;
	free(vm->log_tail);
	vm->log_tail = NULL;
	free(vm->accel_used);
	vm->accel_used = NULL;
	vm->exit_code = vm->exit_signal = -1;
	vm->exit_reason = NULL;
	vm->qmp_ready_once = vm->shutdown_seen = vm->kill_requested = vm->start_failed = false;
	vm->start_exhausted = false;
	free(vm->fatal);
	vm->fatal = NULL;
	vm->agent_seen = false;
	vm->stop_stage = 0;
	vm->qmp_unresponsive = false;
	qemu_runas(sup, vm, &runas, runas_ids, sizeof(runas_ids));
	/* a restart policy's or autostart's start: fails naming the file */
	if (vm_spec_check_files(&vm->spec, &err) || sup_paths_init(vm, &err) ||
	    vm_mkdir(vm->run_dir, 0700, &err) ||
	    (runas && vmsup_chown_for_user(vm->run_dir, runas_ids, &err)) ||
	    (vm->spec.stage && vm_stage_create(vm->run_dir, runas ? runas_ids : NULL, &err)))
		goto out;
	sup_remove_runtime_files(vm);
	/* a fresh log per start, so the tail is this run's */
	unlink(vm->qemu_log);
	/* mode none has no NIC, so nothing to forward ssh to; on a bridge
	 * ssh goes to the guest's own address and port */
	vm->ssh_port = vm->spec.net.bridge ? 22 : 0;
	sup_release_ssh_port(vm);
	if (!vm->spec.net.none && !vm->spec.net.bridge &&
	    (vm->ssh_port = vm_free_port(&vm->ssh_port_hold, &err)) < 0)
		goto out;
	if (vm_net_bind_ports(&vm->spec.net, &err))
		goto out;
	/* qemu's ops monitor is private: vmsupd serves ops_sock (ops-proxy.c) */
	o.qemu_user = runas;
	p = (struct vm_paths){vm->run_dir, vm->qmp_sock,    vm->ops_qemu_sock, vm->qga_sock,
			      vm->pidfile, vm->console_log, vm->ssh_port,      vm->mac};
	if (!(argv = vm_argv_build(&vm->spec, &p, &o, &err)) ||
	    vmsup_modules_argv(vm, &argv, fds, &err))
		goto out;
	if (vm_spawn_fds(argv, vm->qemu_log, fds, VM_SPAWN_FDS, &vm->pid, &err))
		goto out;
	vm->start_time = vm_proc_start_time(vm->pid);
	LOG_I(vm->spec.name, "spawned qemu pid %d", (int)vm->pid);
	sup_set_state(vm, VM_STARTING);
	if (sup_ops_proxy_start(vm, &err) && vmsup_err_is_fd_exhaustion(err)) {
		/* the next descriptor the VM needs would fail as well */
		sup_fail_start(vm, err);
		ret = 0; /* the exit handler finishes the job */
		goto out;
	} else if (err) {
		/* the VM runs; only operators' socket is missing */
		LOG_W(vm->spec.name, "%s", err);
		free(err);
		err = NULL;
	}
	if (vmsup_modules_spawned(vm, &err)) {
		sup_fail_start(vm, err);
		ret = 0; /* the exit handler finishes the job */
		goto out;
	}
	if (sup_connect_start(vm)) {
		sup_fail_start(vm, "out of memory");
		ret = 0;
		goto out;
	}
	ret = 0;
out:
	if (ret) {
		sup_release_ssh_port(vm);
		sup_set_error(vm, "%s", err ? err : "start failed");
		vm->start_exhausted = vmsup_err_is_fd_exhaustion(err);
		LOG_E(vm->spec.name, "%s", vm->error);
		vm->pid = 0;
		sup_set_state(vm, VM_FAILED);
		sup_save(vm);
	}
	free(err);
	vm_argv_free(argv);
	for (int i = 0; i < VM_SPAWN_FDS; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return ret;
}
