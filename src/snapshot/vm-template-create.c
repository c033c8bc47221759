/*
 * Making a template (see vm-template.h): a throwaway qemu outside the
 * registry, driven step by step on the supervisor's loop:
 * spawn -> QMP -> cont -> agent ready -> IP -> read /dev/random ->
 * snap_save -> meta committed -> qemu killed and reaped -> reply.
 */
#include "src/snapshot/vm-template.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "src/guest/agent.h"
#include "src/qemu/argv.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/snapshot/snapshot.h"
#include "src/qemu/spawn.h"
#include "src/qemu/stage.h"
#include "src/snapshot/template.h"
#include "src/snapshot/tmpl-boot.h"
#include "src/snapshot/tmpl-disk.h"
#include "src/snapshot/tmpl-tap.h"

#define JOB_TIMEOUT_S	 300 /* boot under TCG on a loaded host, save, all of it */
#define CONNECT_RETRY_MS 5
#define REAP_POLL_MS	 20
#define TAIL_BYTES	 600

enum step { J_BOOT, J_AGENT, J_IP, J_RNG, J_SAVE, J_REAP, J_DONE };

struct vm_tmpl_job {
	struct vmsup *sup;
	struct event_base *base;
	vmsup_done_fn done;
	void *arg;
	enum step step;
	struct vm_spec spec;
	struct json_object *spec_json;
	struct tmpl_new tn;
	struct tmpl_disk disk; /* the image under the template's disk, if any */
	int fds[VM_SPAWN_FDS]; /* for qemu's fds 3..: the disk's image files, the tap */
	bool begun;
	char **argv;
	char *dir, *qmp_sock, *ops_sock, *qga_sock, *pidfile, *console_log, *qemu_log;
	char mac[18];
	uid_t owner; /* the caller's uid: the template is theirs (meta "owner") */
	pid_t pid;
	struct qmp_session *qmp;
	struct agent *agent;
	struct snap_op *save;
	struct event *timer, *deadline;
	double connect_until;
	/* outcome, sent once qemu is reaped */
	char *cls, *desc;
	struct json_object *meta;
	struct vm_tmpl_job *next;
};

static struct vm_tmpl_job *jobs;

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void reply_now(vmsup_done_fn done, void *arg, const char *cls, const char *desc,
		      struct json_object *body)
{
	/* success creates the template */
	struct vmsup_result r = {cls, desc, body, !cls};

	done(&r, arg);
}

static void job_free(struct vm_tmpl_job *j)
{
	for (struct vm_tmpl_job **pp = &jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	snap_op_cancel(j->save);
	agent_free(j->agent);
	if (j->qmp)
		qmp_session_free(j->qmp);
	if (j->timer)
		event_free(j->timer);
	if (j->deadline)
		event_free(j->deadline);
	if (j->begun)
		tmpl_abort(&j->tn);
	if (j->dir)
		vm_rm_run_dir(j->dir);
	vm_argv_free(j->argv);
	tmpl_disk_free(&j->disk);
	for (int i = 0; i < VM_SPAWN_FDS; i++)
		if (j->fds[i] >= 0)
			close(j->fds[i]);
	vm_spec_release(&j->spec);
	json_object_put(j->spec_json);
	json_object_put(j->meta);
	free(j->dir);
	free(j->qmp_sock);
	free(j->ops_sock);
	free(j->qga_sock);
	free(j->pidfile);
	free(j->console_log);
	free(j->qemu_log);
	free(j->cls);
	free(j->desc);
	free(j);
}

static void on_timer(evutil_socket_t fd, short what, void *arg);

static void arm(struct vm_tmpl_job *j, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(j->timer, &tv);
}

/* The outcome is fixed: drop the agent and QMP, kill qemu, reply once reaped. */
static void conclude(struct vm_tmpl_job *j, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void conclude(struct vm_tmpl_job *j, const char *cls, const char *fmt, ...)
{
	va_list ap;

	if (j->step >= J_REAP)
		return;
	if (cls) {
		char *tail = snap_stderr_tail(j->qemu_log, TAIL_BYTES), *d = NULL;
		j->cls = strdup(cls);
		va_start(ap, fmt);
		if (vasprintf(&d, fmt, ap) < 0)
			d = NULL;
		va_end(ap);
		if (d && tail && *tail && j->pid > 0 &&
		    asprintf(&j->desc, "%s; qemu: %s", d, tail) >= 0)
			free(d);
		else
			j->desc = d;
		free(tail);
		LOG_E(j->spec.name, "template: %s", j->desc ? j->desc : cls);
	}
	j->step = J_REAP;
	snap_op_cancel(j->save);
	j->save = NULL;
	agent_free(j->agent);
	j->agent = NULL;
	if (j->qmp) {
		qmp_session_free(j->qmp);
		j->qmp = NULL;
	}
	evtimer_del(j->deadline);
	if (j->pid > 0)
		kill(j->pid, SIGKILL);
	arm(j, 0);
}

static void finish(struct vm_tmpl_job *j)
{
	j->step = J_DONE;
	if (j->done) {
		if (j->cls)
			reply_now(j->done, j->arg, j->cls, j->desc ? j->desc : j->cls, NULL);
		else
			reply_now(j->done, j->arg, NULL, NULL, j->meta);
	}
	job_free(j);
}

static const char *step_name(enum step s)
{
	static const char *const n[] = {"booting",
					"waiting for the guest agent",
					"waiting for the guest's IP address",
					"reading /dev/random in the guest",
					"saving the state",
					"",
					""};
	return n[s];
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct vm_tmpl_job *j = arg;
	(void)fd, (void)what;

	conclude(j, VMSUP_EC_TIMEOUT, "template '%s': gave up after %d s %s", j->spec.name,
		 JOB_TIMEOUT_S, step_name(j->step));
}

static void on_saved(const struct snap_stats *st, const char *err, void *arg)
{
	struct vm_tmpl_job *j = arg;
	struct json_object *dc;
	char *e = NULL;

	j->save = NULL;
	if (err) {
		conclude(j, VMSUP_EC_SAVE, "template '%s': %s", j->spec.name, err);
		return;
	}
	if (!(dc = snap_devconfig((const char *const *)j->argv, &e))) {
		conclude(j, VMSUP_EC_INTERNAL, "template '%s': %s", j->spec.name, e);
		free(e);
		return;
	}
	j->meta =
	    tmpl_meta_new(j->spec.name, vmsup_qemu_version(j->sup), NULL, dc, j->spec_json, st);
	json_object_put(dc);
	if (!j->meta) {
		conclude(j, VMSUP_EC_INTERNAL, "out of memory");
		return;
	}
	json_object_object_add(j->meta, "owner", json_object_new_int64((int64_t)j->owner));
	/* restored VMs boot the template's disk, not the image it was made from */
	if (!json_object_object_get_ex(j->meta, "spec", &dc) ||
	    tmpl_disk_seal(&j->disk, j->tn.final_dir, j->meta, dc, &e)) {
		conclude(j, VMSUP_EC_INTERNAL, "template '%s': %s", j->spec.name,
			 e ? e : "no spec in meta.json");
		free(e);
		return;
	}
	tmpl_meta_set_ram(j->meta, (unsigned long long)j->spec.mem_mib << 20);
	/* the VM is stopped since the migration ended: its RAM is final */
	if (tmpl_meta_set_hashes(&j->tn, j->meta, &e) < 0 || tmpl_commit(&j->tn, j->meta, &e) < 0) {
		conclude(j, VMSUP_EC_INTERNAL, "template '%s': %s", j->spec.name, e);
		free(e);
		return;
	}
	j->begun = false;
	json_object_object_add(j->meta, "save_wall_ms", json_object_new_double(st->wall_ms));
	LOG_I(j->spec.name, "template saved: %llu bytes in %.0f ms (%llu zero pages not stored)",
	      (unsigned long long)st->file_bytes, st->wall_ms,
	      (unsigned long long)st->ram_zero_pages);
	/* a pool waiting for this template fills now, not at its next retry */
	vm_template_emit_saved(j->sup, j->spec.name);
	conclude(j, NULL, NULL);
}

static void save(struct vm_tmpl_job *j)
{
	/* qemu writes the state through a descriptor of ours: it (perhaps
	 * qemu_user, who cannot reach the state dir) opens and spawns nothing */
	struct snap_save_opts o = {
	    .state_path = j->tn.state_path, .timeout_ms = 0, .ignore_shared = true, .state_fd = -1};
	char *err = NULL, *tmp = NULL;

	j->step = J_SAVE;
	if (asprintf(&tmp, "%s.tmp", j->tn.state_path) < 0)
		tmp = NULL;
	if (!tmp || (o.state_fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		conclude(j, VMSUP_EC_SAVE, "template '%s': %s.tmp: %s", j->spec.name,
			 j->tn.state_path, strerror(errno));
		free(tmp);
		return;
	}
	free(tmp);
	if (!(j->save = snap_save(j->base, j->qmp, &o, on_saved, j, &err))) {
		conclude(j, VMSUP_EC_SAVE, "template '%s': %s", j->spec.name, err);
		free(err);
	}
	close(o.state_fd);
}

static void on_rng(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct vm_tmpl_job *j = arg;

	if (j->step != J_RNG)
		return;
	if (err) {
		conclude(j, VMSUP_EC_AGENT, "template '%s': reading /dev/random: %s: %s",
			 j->spec.name, err->cls, err->desc);
		return;
	}
	if (res->status != 0 || res->out_len < 1) {
		conclude(j, VMSUP_EC_AGENT,
			 "template '%s': reading /dev/random in the guest failed (status %d)",
			 j->spec.name, res->status);
		return;
	}
	save(j);
}

static void on_ip(struct json_object *ipinfo, const struct qmp_error *err, void *arg)
{
	struct vm_tmpl_job *j = arg;
	static const char *const rng[] = {"head", "-c1", "/dev/random", NULL};
	struct json_object *v;
	struct qmp_error e = {0};

	if (j->step != J_IP)
		return;
	if (err || !ipinfo || !json_object_object_get_ex(ipinfo, "ip", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		conclude(j, VMSUP_EC_TIMEOUT, "template '%s': the guest got no IP address%s%s",
			 j->spec.name, err ? ": " : "", err ? err->desc : "");
		return;
	}
	LOG_I(j->spec.name, "template VM has address %s", json_object_get_string(v));
	/* a crng initialised before the save: restored VMs never wait for entropy */
	j->step = J_RNG;
	if (!agent_exec(j->agent, rng, NULL, 0, 120000, on_rng, j, &e))
		conclude(j, VMSUP_EC_AGENT, "template '%s': guest-exec: %s", j->spec.name, e.desc);
}

static void on_agent_state(struct agent *a, enum agent_state st, void *arg)
{
	struct vm_tmpl_job *j = arg;
	(void)a;

	if (st != AGENT_READY || j->step != J_AGENT)
		return;
	j->step = J_IP;
	if (agent_get_ip(j->agent, 120000, on_ip, j) < 0)
		conclude(j, VMSUP_EC_INTERNAL, "out of memory");
}

static void on_event(struct qmp_session *s, const char *name, struct json_object *data, int64_t sec,
		     int64_t usec, void *arg)
{
	struct vm_tmpl_job *j = arg;
	(void)s, (void)sec, (void)usec;

	if (j->agent)
		agent_qmp_event(j->agent, name, data);
}

static void on_cont(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		    void *arg)
{
	struct vm_tmpl_job *j = arg;
	(void)s, (void)ret;

	if (err && j->step < J_REAP)
		conclude(j, VMSUP_EC_QEMU, "template '%s': cont: %s", j->spec.name, err->desc);
}

static void on_qmp_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	static const struct agent_callbacks cb = {.state_changed = on_agent_state};
	struct vm_tmpl_job *j = arg;
	struct agent_config ac = {.port_id = VM_AGENT_PORT_ID, .mac_only = j->spec.net.bridge};
	struct qmp_error e;
	(void)s;

	if (err) {
		conclude(j, VMSUP_EC_QEMU, "template '%s': QMP: %s", j->spec.name, err->desc);
		return;
	}
	/* no ssh key in the template: each restored VM's agent pushes its own */
	if (!(j->agent = agent_new(j->base, j->qga_sock, j->mac, &ac, &cb, j))) {
		conclude(j, VMSUP_EC_INTERNAL, "cannot set up the guest agent");
		return;
	}
	j->step = J_AGENT;
	if (qmp_call(j->qmp, "cont", NULL, 0, on_cont, j, &e) < 0)
		conclude(j, VMSUP_EC_QEMU, "template '%s': cont: %s", j->spec.name, e.desc);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vm_tmpl_job *j = arg;
	struct qmp_error e;
	int st;
	pid_t r;
	(void)fd, (void)what;

	if (j->pid > 0) {
		do
			r = waitpid(j->pid, &st, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == j->pid || (r < 0 && errno == ECHILD)) {
			j->pid = 0;
			if (j->step < J_REAP)
				conclude(j, VMSUP_EC_QEMU, "template '%s': qemu exited while %s",
					 j->spec.name, step_name(j->step));
		}
	}
	if (j->step == J_REAP) {
		if (j->pid <= 0) {
			finish(j); /* frees j */
			return;
		}
		arm(j, REAP_POLL_MS);
		return;
	}
	if (j->step == J_BOOT && !j->qmp) {
		if (!(j->qmp = qmp_session_new(j->base, QMP_KIND_QMP, NULL))) {
			conclude(j, VMSUP_EC_INTERNAL, "out of memory");
			return;
		}
	}
	if (j->step == J_BOOT && j->qmp && !qmp_is_ready(j->qmp)) {
		if (qmp_connect(j->qmp, j->qmp_sock, on_qmp_ready, j, &e) == 0) {
			qmp_subscribe(j->qmp, on_event, j);
			j->step = J_AGENT; /* on_qmp_ready moves on; the poll only reaps now */
		} else if (now_mono() > j->connect_until) {
			conclude(j, VMSUP_EC_QEMU, "template '%s': QMP socket never came up: %s",
				 j->spec.name, e.desc);
			return;
		}
	}
	arm(j, j->step == J_BOOT ? CONNECT_RETRY_MS : REAP_POLL_MS);
}

static int build(struct vm_tmpl_job *j, char **err)
{
	const struct vmsup_config *cfg = vmsup_config(j->sup);
	struct vm_argv_opts o = {cfg->qemu, false, cfg->qemu_user, cfg->tcg_tb_size_mib};
	struct vm_paths p;
	char *root = NULL;
	int port, r = -1;

	o.sandbox = vmsup_qemu_sandbox(j->sup);
	if (asprintf(&root, "%s/tmpl", cfg->run_dir) < 0 ||
	    asprintf(&j->dir, "%s/%s", root, j->spec.name) < 0) {
		j->dir = NULL;
		vmsup_err(err, "out of memory");
		goto out;
	}
	if (vm_mkdir(root, 0700, err) || vm_mkdir(j->dir, 0700, err) ||
	    vm_stage_create(j->dir, cfg->qemu_user, err))
		goto out;
	if (vm_run_files(j->dir, &j->qmp_sock, &j->ops_sock, NULL, &j->qga_sock, &j->pidfile,
			 &j->console_log, &j->qemu_log, err))
		goto out;
	unlink(j->qemu_log);
	if ((port = vm_free_port(NULL, err)) < 0)
		goto out;
	if (tmpl_tap_mac(j->sup, j->spec.name, j->mac, err))
		goto out;
	p = (struct vm_paths){j->dir,	  j->qmp_sock,	  j->ops_sock, j->qga_sock,
			      j->pidfile, j->console_log, port,	       j->mac};
	if (!(j->argv = vm_argv_build(&j->spec, &p, &o, err)) ||
	    tmpl_disk_argv(&j->disk, &j->argv, j->fds, err) ||
	    tmpl_tap_open(&j->spec, &j->fds[VM_SPAWN_TAP_FD], err))
		goto out;
	r = 0;
out:
	free(root);
	return r;
}

/* The body's checks: a guest that boots a kernel, nothing a snapshot cannot carry. */
static int check_spec(struct vm_tmpl_job *j, const char **cls, char **err)
{
	if (!j->spec.guest || (!j->spec.kernel && !j->spec.disk))
		return vmsup_err(err, "a template needs a guest with the agent: give 'kernel' "
				      "(and 'initrd')");
	if (j->spec.ndisks)
		return vmsup_err(err, "a template cannot have data disks ('disks'), only a root "
				      "'disk'");
	if (j->spec.nshares)
		return vmsup_err(err, "a template cannot have 'shares': a mounted 9p share "
				      "blocks migration");
	return tmpl_tap_check(&j->spec, cls, err);
}

struct vm_tmpl_job *vm_template_create(struct vmsup *sup, struct json_object *body,
				       const struct vmsup_peer *peer, vmsup_done_fn done, void *arg)
{
	const struct vmsup_config *cfg = vmsup_config(sup);
	struct vm_tmpl_job *j;
	struct json_object *v;
	const char *cls = VMSUP_EC_INVALID; /* unless the check says otherwise */
	char *err = NULL;
	struct timeval tv = {JOB_TIMEOUT_S, 0};

	if (vmsup_shutting_down(sup)) {
		reply_now(done, arg, VMSUP_EC_SHUTTING_DOWN, "the daemon is shutting down", NULL);
		return NULL;
	}
	if (!json_object_is_type(body, json_type_object)) {
		reply_now(done, arg, VMSUP_EC_INVALID, "the body must be a VM spec object", NULL);
		return NULL;
	}
	if (json_object_object_get_ex(body, "from", &v)) {
		reply_now(done, arg, VMSUP_EC_INVALID,
			  "a template is made from a VM spec, not from another template", NULL);
		return NULL;
	}
	if (json_object_object_get_ex(body, "pin", &v) ||
	    json_object_object_get_ex(body, "vcpu_pin", &v) ||
	    json_object_object_get_ex(body, "emulator_pin", &v)) {
		reply_now(done, arg, VMSUP_EC_INVALID,
			  "pins are a VM's, not a template's: set them on a VM made from it (PUT "
			  "/v1/vms/NAME/cpu)",
			  NULL);
		return NULL;
	}
	if (!(j = calloc(1, sizeof(*j)))) {
		reply_now(done, arg, VMSUP_EC_INTERNAL, "out of memory", NULL);
		return NULL;
	}
	j->sup = sup;
	j->owner = peer ? peer->uid : geteuid();
	j->base = vmsup_base(sup);
	j->step = J_BOOT;
	for (int i = 0; i < VM_SPAWN_FDS; i++)
		j->fds[i] = -1;
	if (vm_spec_from_json(body, cfg, &j->spec, &err) || tmpl_name_check(j->spec.name, &err) ||
	    check_spec(j, &cls, &err)) {
		reply_now(done, arg, cls, err ? err : "bad spec", NULL);
		goto fail;
	}
	/* restored VMs can have a host directory bound in later (a pool take) */
	j->spec.stage = true;
	for (struct vm_tmpl_job *o = jobs; o; o = o->next)
		if (!strcmp(o->spec.name, j->spec.name)) {
			reply_now(done, arg, VMSUP_EC_CONFLICT, "template is being made already",
				  NULL);
			goto fail;
		}
	if (tmpl_begin(cfg->state_dir, j->spec.name, &j->tn, &err) < 0) {
		struct stat sb;
		char *d = NULL;
		int exists = asprintf(&d, "%s/templates/%s", cfg->state_dir, j->spec.name) >= 0 &&
			     stat(d, &sb) == 0;
		free(d);
		reply_now(done, arg, exists ? VMSUP_EC_CONFLICT : VMSUP_EC_INTERNAL,
			  err ? err : "cannot start the template", NULL);
		goto fail;
	}
	j->begun = true;
	cls = NULL;
	if (tmpl_disk_begin(peer, &j->spec, j->tn.tmp_dir, &j->disk, &cls, &err) ||
	    tmpl_boot_copy(peer, cfg->default_kernel, cfg->default_initrd, &j->spec, j->tn.tmp_dir,
			   j->fds, &cls, &err)) {
		reply_now(done, arg, cls ? cls : VMSUP_EC_INVALID, err ? err : "disk", NULL);
		goto fail;
	}
	/* stored with the template: restored VMs are made from it (start is theirs) */
	j->spec_json = vm_spec_to_json(&j->spec);
	if (!j->spec_json || !(j->timer = evtimer_new(j->base, on_timer, j)) ||
	    !(j->deadline = evtimer_new(j->base, on_deadline, j))) {
		reply_now(done, arg, VMSUP_EC_INTERNAL, "out of memory", NULL);
		goto fail;
	}
	/* guest RAM in the template's own file, mapped shared: the save skips
	 * it (x-ignore-shared) and restored VMs map it copy-on-write */
	if (!(j->spec.ram_file = strdup(j->tn.ram_path))) {
		reply_now(done, arg, VMSUP_EC_INTERNAL, "out of memory", NULL);
		goto fail;
	}
	j->spec.ram_shared = true;
	if (build(j, &err) ||
	    vm_spawn_fds(j->argv, j->qemu_log, j->fds, VM_SPAWN_FDS, &j->pid, &err)) {
		reply_now(done, arg, VMSUP_EC_INTERNAL, err ? err : "cannot start qemu", NULL);
		goto fail;
	}
	LOG_I(j->spec.name, "making template: qemu pid %d", (int)j->pid);
	j->done = done;
	j->arg = arg;
	j->connect_until = now_mono() + 30;
	j->next = jobs;
	jobs = j;
	evtimer_add(j->deadline, &tv);
	arm(j, 1);
	return j;
fail:
	free(err);
	job_free(j);
	return NULL;
}

void vm_template_job_detach(struct vm_tmpl_job *j)
{
	if (j)
		j->done = NULL;
}

void vm_template_teardown(void)
{
	while (jobs) {
		struct vm_tmpl_job *j = jobs;
		j->done = NULL;
		if (j->pid > 0) {
			kill(j->pid, SIGKILL);
			while (waitpid(j->pid, NULL, 0) < 0 && errno == EINTR)
				;
			j->pid = 0;
		}
		job_free(j);
	}
}
