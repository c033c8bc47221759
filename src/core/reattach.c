#include "src/core/reattach-internal.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "src/qemu/argv.h"
#include "src/qemu/net.h"
#include "src/util/err.h"
#include "src/core/module.h"
#include "src/util/log.h"
#include "src/util/proc.h"
#include "src/core/statefile.h"
#include "src/core/supervisor.h"

/* ---- state files ---- */

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

static long long jint(struct json_object *o, const char *key, long long dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		   ? json_object_get_int64(v)
		   : dflt;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A state file we cannot use is kept aside for a human, not retried. */
static void set_aside(const char *path)
{
	char *bad = NULL;

	if (asprintf(&bad, "%s.bad", path) >= 0 && rename(path, bad) == 0)
		LOG_W(NULL, "state file kept as %s", bad);
	free(bad);
}

static void kill_orphan(pid_t pid, unsigned long long start, const char *qmp_sock, const char *why)
{
	if (pid > 0 &&
	    vm_proc_is_our_qemu(pid, start ? start : vm_proc_start_time(pid), qmp_sock)) {
		LOG_W(NULL, "killing orphan qemu pid %d (%s)", (int)pid, why);
		kill(pid, SIGKILL);
	}
}

struct vm *vm_from_state(struct vmsup *sup, const char *name, struct json_object *j, char **err)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct json_object *spec, *created, *ports;
	const char *s;
	int st;

	if (!vm) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	vm->ssh_port_hold = -1;
	if (jint(j, "version", -1) != VM_STATEFILE_VERSION) {
		vmsup_err(err, "unknown state file version %lld", jint(j, "version", -1));
		goto fail;
	}
	if (!json_object_object_get_ex(j, "spec", &spec)) {
		/* else the log would say why as "?" (found by fuzz-statefile) */
		vmsup_err(err, "no 'spec'");
		goto fail;
	}
	if (vm_spec_from_stored(spec, vmsup_config(sup), &vm->spec, err))
		goto fail;
	if (strcmp(vm->spec.name, name) != 0) {
		vmsup_err(err, "the spec names VM '%s'", vm->spec.name);
		goto fail;
	}
	/* the host ports qemu forwards now, also those the kernel picked */
	if (json_object_object_get_ex(j, "ports", &ports))
		vm_net_ports_restore(&vm->spec.net, ports);
	if (!(s = jstr(j, "state")) || (st = vm_state_parse(s)) < 0) {
		vmsup_err(err, "bad or missing 'state'");
		goto fail;
	}
	vm->sup = sup;
	vm->state = (enum vm_state)st;
	vm->pid = (pid_t)jint(j, "pid", 0);
	{
		struct json_object *t;
		vm->start_time =
		    json_object_object_get_ex(j, "start_time", &t) ? json_object_get_uint64(t) : 0;
	}
	vm->restarts = (unsigned)jint(j, "restarts", 0);
	vm->exit_code = (int)jint(j, "exit_status", -1);
	vm->exit_signal = (int)jint(j, "exit_signal", -1);
	vm->error = dup_or_null(jstr(j, "error"));
	vm->log_tail = dup_or_null(jstr(j, "log_tail"));
	vm->accel_used = dup_or_null(jstr(j, "accel"));
	vm->ssh_port = (int)jint(j, "ssh_port", 0);
	vm->balloon_mib = -1;
	vm->created =
	    json_object_object_get_ex(j, "created", &created) ? json_object_get_double(created) : 0;
	vm->state_since = vm->created;
	/* a state file from before owners: the daemon's (admins only) */
	vm->owner = (uid_t)jint(j, "owner", (long long)geteuid());
	vm_mac_from_name(vm->spec.name, vm->mac);
	if (vmsup_vm_paths(vm, err))
		goto fail;
	/* the features' settings (CPU quota, pin, balloon target ...) */
	vmsup_modules_restore(vm, j);
	return vm;
fail:
	vm_release_fields(vm);
	free(vm);
	return NULL;
}

/* Its qemu died while nobody watched: crashed, unknown status, cleaned. */
static void dead_meanwhile(struct vm *vm, pid_t pid)
{
	char *why = NULL;

	vm->pid = pid; /* for the log line */
	vm->adopted = true;
	/* a finished stop, else a crash: even one recorded as starting may
	 * have run for long (the file lags the reply by SAVE_DELAY_MS) */
	vm->qmp_ready_once = true;
	vm->kill_requested = vm->state == VM_STOPPING;
	vmsup_adopt(vm);
	vmsup_vm_exited(vm); /* crashed (failed if mid-start), runtime files, cgroup, policy */
	if (vm->state == VM_CRASHED &&
	    asprintf(&why, "qemu (pid %d) exited while vmsupd was down (exit status unknown)",
		     (int)pid) >= 0) {
		free(vm->error);
		vm->error = why;
	}
	vmsup_vm_rm_run_dir(vm);
	vmsup_vm_save(vm);
}

static void reattach_live(struct vm *vm)
{
	enum vm_state recorded = vm->state;
	struct watch *w;
	char *err = NULL;

	vm->adopted = true;
	/* it did run: an exit from now on is a crash, not a failed start */
	vm->qmp_ready_once = recorded != VM_STARTING;
	/* whether its agent ever answered is not recorded: a guest that ran
	 * is given its ACPI power-off */
	vm->agent_seen = recorded != VM_STARTING;
	vmsup_adopt(vm);
	if (vm_reattach_watch(vm, &err)) {
		LOG_W(vm->spec.name, "reattach: %s", err);
		free(err);
		vm_reattach_release(vm);
		vmsup_vm_exited(vm);
		return;
	}
	w = vm->watch;
	w->resume = recorded == VM_STARTING;
	/* the cgroup module finds (or re-creates) the VM's cgroup */
	if (vmsup_modules_spawned(vm, &err)) {
		LOG_W(vm->spec.name, "reattach: %s", err);
		free(err);
		err = NULL;
	}
	if (recorded == VM_STOPPING) {
		/* the old daemon was stopping it: finish that, quickly */
		LOG_I(vm->spec.name, "reattach: was stopping: SIGKILL pid %d", (int)vm->pid);
		vm->kill_requested = true;
		kill(vm->pid, SIGKILL);
		return;
	}
	if (vmsup_vm_ops_reattach(vm, &err)) {
		LOG_W(vm->spec.name, "reattach: %s", err);
		free(err);
		err = NULL;
	}
	reattach_qmp_connect_again(vm);
}

/*
 * Whether the state file's pid is the VM's qemu; if not, the qemu found by
 * its pid file or QMP socket takes its place in vm (and *fixed is set, so
 * the file is written again). False if none runs.
 */
static bool identify(struct vm *vm, bool *fixed)
{
	unsigned long long start = vm->start_time;
	pid_t pid;

	*fixed = false;
	/* a state file from before start times: the command line must do */
	if (!start && vm->pid > 1 && (start = vm_proc_start_time(vm->pid)) &&
	    vm_proc_is_our_qemu(vm->pid, start, vm->qmp_sock)) {
		vm->start_time = start;
		*fixed = true;
		return true;
	}
	if (vm_proc_is_our_qemu(vm->pid, vm->start_time, vm->qmp_sock))
		return true;
	if (!(pid = vm_proc_find_qemu(vm->pidfile, vm->qmp_sock, &start)))
		return false;
	LOG_W(vm->spec.name,
	      "the state file's pid %d is not its qemu (reused or edited): adopting pid %d, "
	      "found by its QMP socket",
	      (int)vm->pid, (int)pid);
	vm->pid = pid;
	vm->start_time = start;
	*fixed = true;
	return true;
}

static void reattach_file(struct vmsup *sup, const char *dir, const char *file)
{
	char *path = NULL, *name = NULL, *err = NULL;
	struct json_object *j = NULL;
	struct vm *vm;
	size_t len = strlen(file);
	bool fixed = false;

	if (asprintf(&path, "%s/%s", dir, file) < 0 || !(name = strndup(file, len - 5)))
		goto out;
	if (!(j = vm_statefile_read(path, &err)))
		goto bad;
	if (vmsup_find(sup, name)) {
		vmsup_err(&err, "VM '%s' is already known", name);
		goto bad;
	}
	if (!(vm = vm_from_state(sup, name, j, &err)))
		goto bad;
	if (!vm_state_has_process(vm->state)) {
		vm->pid = 0;
		vmsup_adopt(vm);
		LOG_I(name, "restored (%s)", vm_state_name(vm->state));
	} else if (identify(vm, &fixed)) {
		LOG_I(name, "reattaching qemu pid %d (%s)", (int)vm->pid, vm_state_name(vm->state));
		reattach_live(vm);
		if (fixed && vmsup_find(sup, name) == vm)
			vmsup_vm_save(vm);
	} else {
		pid_t pid = vm->pid;
		LOG_W(name, "qemu pid %d is gone (or is another process now): crashed", (int)pid);
		vm->pid = 0;
		dead_meanwhile(vm, pid);
	}
	/* whatever the steps above left in its record */
	if ((vm = vmsup_find(sup, name)))
		vm_status_changed(vm);
	goto out;
bad:
	LOG_E(name ? name : file, "cannot restore from its state file: %s", err ? err : "?");
	/* a VM we cannot manage must not run on unseen */
	if (j) {
		struct json_object *t;
		kill_orphan(
		    (pid_t)jint(j, "pid", 0),
		    json_object_object_get_ex(j, "start_time", &t) ? json_object_get_uint64(t) : 0,
		    jstr(j, "qmp_socket"), "its state file is unusable");
	}
	set_aside(path);
out:
	json_object_put(j);
	free(err);
	free(name);
	free(path);
}

/* Run dirs no VM claims: a qemu may still run there (its state file was
 * never written); without a manager it must go. */
static void clean_run_dirs(struct vmsup *sup)
{
	char *root = NULL;
	DIR *d;
	struct dirent *e;

	if (asprintf(&root, "%s/vm", vmsup_config(sup)->run_dir) < 0)
		return;
	if (!(d = opendir(root))) {
		free(root);
		return;
	}
	while ((e = readdir(d))) {
		struct vm tmp = {0};
		char *dir = NULL, *pf = NULL, *sock = NULL, buf[32];
		if (e->d_name[0] == '.' || vmsup_find(sup, e->d_name))
			continue;
		if (asprintf(&dir, "%s/%s", root, e->d_name) < 0)
			continue;
		if (asprintf(&pf, "%s/qemu.pid", dir) >= 0 &&
		    asprintf(&sock, "%s/qmp.sock", dir) >= 0 &&
		    vmsup_read_small(pf, buf, sizeof(buf)) > 0)
			kill_orphan((pid_t)atoi(buf), 0, sock, "no state file claims it");
		LOG_I(e->d_name, "removing stale run dir %s", dir);
		tmp.spec.name = e->d_name;
		tmp.run_dir = dir;
		vmsup_vm_rm_run_dir(&tmp);
		free(dir);
		free(pf);
		free(sock);
	}
	closedir(d);
	free(root);
}

int vm_reattach_all(struct vmsup *sup, char **err)
{
	const char *dir = vmsup_config(sup)->state_dir;
	double t0 = reattach_now_mono();
	struct dirent *e;
	DIR *d = opendir(dir);
	size_t n = 0;

	if (!d)
		return vmsup_err(err, "state dir %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".json"))
			continue;
		reattach_file(sup, dir, e->d_name);
		n++;
	}
	closedir(d);
	clean_run_dirs(sup);
	if (n)
		LOG_I(NULL, "state dir: %zu VMs read back in %.1f ms", n,
		      (reattach_now_mono() - t0) * 1000);
	return 0;
}
