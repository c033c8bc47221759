#include "src/executor/launch-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/client/client.h"
#include "src/executor/check.h"
#include "src/executor/health.h"
#include "src/executor/probe.h"

extern char **environ;

/* Guest boot under TCG is slow on a loaded host: be generous. */
#define CREATE_TIMEOUT_MS 180000L
#define DELETE_STOP_S	  2

/* The VM's "state" in a VM reply is "failed": its "error", else NULL. */
static const char *vm_failed(struct json_object *vm)
{
	struct json_object *v;

	if (!json_object_object_get_ex(vm, "state", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    strcmp(json_object_get_string(v), "failed") != 0)
		return NULL;
	if (json_object_object_get_ex(vm, "error", &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return "no reason given";
}

/* Whole percent of one CPU, as vmsupd takes it (1..vCPUs*100). */
static int64_t quota_pct_of(const struct task *t)
{
	int64_t q = (int64_t)ceil((t->spec.cpus > 0 ? t->spec.cpus : 1) * 100);
	return q < 1 ? 1 : q;
}

void launch_finish_if_idle(struct launcher *l, struct task *t)
{
	if (t->final_state)
		probes_stop(t);
	/* A check still running holds an ssh session into the VM: wait for it. */
	if (t->phase == PH_DONE || t->phase == PH_DELETING || !t->final_state || t->inflight ||
	    t->pid || probes_busy(t))
		return;
	if (t->group == t && group_members_active(t)) {
		/* The others' commands still run in the VM: this task's
		 * terminal update goes now, the VM once they are done. */
		group_fail_waiting(l, t);
		if (group_members_active(t)) {
			if (!t->terminal_early) {
				t->terminal_early = true;
				l->ops->send(l->ctx, t, t->final_state, t->final_msg, NULL);
			}
			return;
		}
	}
	if (t->vm_exists) {
		t->phase = PH_DELETING;
		launch_start_req(l, t, RQ_DELETE, "DELETE", NULL, (DELETE_STOP_S + 90) * 1000L,
				 "/v1/vms/%s?timeout=%d", t->vm, DELETE_STOP_S);
		return;
	}
	t->phase = PH_DONE;
	if (!t->terminal_early)
		l->ops->send(l->ctx, t, t->final_state, t->final_msg, NULL);
	l->ops->settled(l->ctx, t);
	if (t->group && t->group != t)
		launch_finish_if_idle(l, t->group);
}

static void fail_task(struct launcher *l, struct task *t, const char *state, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail_task(struct launcher *l, struct task *t, const char *state, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	task_set_final(t, state, msg ? msg : state);
	free(msg);
	launch_finish_if_idle(l, t);
}

static long host_mem_mib(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	return pages > 0 && psz > 0 ? (long)((double)pages * psz / (1024 * 1024)) : -1;
}

static int vcpus_of(struct task *t)
{
	return t->spec.cpus > 0 ? (int)ceil(t->spec.cpus) : 1;
}

static void take_vm(struct launcher *l, struct task *t);
static void create_vm(struct launcher *l, struct task *t);

bool launch_prepare(struct launcher *l, struct task *t)
{
	char *err = NULL;
	long hostmem = host_mem_mib(), ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double mem = t->spec.mem_mib >= 0 ? t->spec.mem_mib : LAUNCH_DEFAULT_MEM_MIB;
	/* A group member's resources count in the leader's sum only. */
	bool sized = !t->group || t->group == t;
	bool ok = false;

	t->phase = PH_CREATING;
	if (task_vm_name(t->spec.task_id, t->vm, &err) < 0) {
		fail_task(l, t, "TASK_ERROR", "%s", err ? err : "bad task id");
		goto out;
	}
	if (!launch_path_is_plain(l->env->directory)) {
		fail_task(l, t, "TASK_ERROR", "sandbox path %s has characters we do not share",
			  l->env->directory);
		goto out;
	}
	if (sized && mem < LAUNCH_MIN_MEM_MIB) {
		fail_task(l, t, "TASK_ERROR", "mem %.0f MiB is below the %d MiB a VM needs", mem,
			  LAUNCH_MIN_MEM_MIB);
		goto out;
	}
	if (sized && hostmem > 0 && mem > hostmem) {
		fail_task(l, t, "TASK_ERROR", "mem %.0f MiB exceeds the host's %ld MiB", mem,
			  hostmem);
		goto out;
	}
	if (sized && (t->spec.cpus == 0 || (ncpu > 0 && t->spec.cpus > ncpu))) {
		fail_task(l, t, "TASK_ERROR", "cpus %g: the host has %ld CPUs", t->spec.cpus, ncpu);
		goto out;
	}
	char *launcher = launch_write_launcher(l, t, &err);
	if (!launcher) {
		fail_task(l, t, "TASK_ERROR", "%s", err ? err : "cannot write the launcher");
		goto out;
	}
	free(launcher);
	if (health_prepare(l, t, &err) < 0 || check_prepare(l, t, &err) < 0) {
		fail_task(l, t, "TASK_ERROR", "%s", err ? err : "bad health_check or check");
		goto out;
	}
	t->mem_req_mib = (int64_t)ceil(mem);
	ok = true;
out:
	free(err);
	return ok;
}

void launch_task(struct launcher *l, struct task *t)
{
	if (!launch_prepare(l, t))
		return;
	/* A warm VM's network is fixed: a task with ports boots its own; a
	 * group's VM is sized for the whole group. */
	if (l->env->pool && !t->spec.nports && !t->group)
		take_vm(l, t);
	else
		create_vm(l, t);
}

/* The sandbox, shared read-write at its own path: {"path","readonly"}. */
static struct json_object *sandbox_shares(const struct launcher *l)
{
	struct json_object *shares = json_object_new_array(), *share = json_object_new_object();

	json_object_object_add(share, "path", json_object_new_string(l->env->directory));
	json_object_object_add(share, "readonly", json_object_new_boolean(0));
	json_object_array_add(shares, share);
	return shares;
}

/* VMEXEC_POOL: a warm VM from vmsupd's pool, resized and with the sandbox bound in. */
static void take_vm(struct launcher *l, struct task *t)
{
	struct json_object *b = json_object_new_object();

	json_object_object_add(b, "mem_mib", json_object_new_int64(t->mem_req_mib));
	json_object_object_add(b, "quota_pct", json_object_new_int64(quota_pct_of(t)));
	json_object_object_add(b, "shares", sandbox_shares(l));
	launch_start_req(l, t, RQ_TAKE, "POST", b, CREATE_TIMEOUT_MS, "/v1/pool/take");
}

static void create_vm(struct launcher *l, struct task *t)
{
	struct json_object *spec;

	t->phase = PH_CREATING;
	spec = json_object_new_object();
	json_object_object_add(spec, "name", json_object_new_string(t->vm));
	json_object_object_add(spec, "mem_mib", json_object_new_int64(t->mem_req_mib));
	json_object_object_add(spec, "cpus", json_object_new_int(vcpus_of(t)));
	json_object_object_add(spec, "shares", sandbox_shares(l));
	if (t->spec.nports)
		json_object_object_add(spec, "net", launch_net_spec(t));
	/* Defined, not started: the quota is set first, so qemu never runs
	 * unbounded and a quota the host refuses costs no boot. */
	json_object_object_add(spec, "start", json_object_new_boolean(0));
	launch_start_req(l, t, RQ_CREATE, "POST", spec, CREATE_TIMEOUT_MS, "/v1/vms");
}

int launch_exec_argv(const struct launcher *l, const struct task *t, const char **argv)
{
	int n = 0;

	argv[n++] = l->env->vmctl;
	if (l->env->vmsup_socket) {
		argv[n++] = "--socket";
		argv[n++] = l->env->vmsup_socket;
	}
	argv[n++] = "exec";
	argv[n++] = "--via";
	argv[n++] = "ssh";
	argv[n++] = t->vm;
	argv[n++] = "--";
	return n;
}

void launch_spawn_command(struct launcher *l, struct task *t)
{
	char *launcher = NULL;
	const char *argv[12];
	int n = 0, rc;
	pid_t pid;

	if (asprintf(&launcher, "%s/.vm-launcher-%s.sh", l->env->directory, t->spec.task_id) < 0) {
		fail_task(l, t, "TASK_FAILED", "out of memory");
		return;
	}
	n = launch_exec_argv(l, t, argv);
	argv[n++] = "/bin/sh";
	argv[n++] = launcher;
	argv[n] = NULL;
	rc = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ);
	free(launcher);
	if (rc != 0) {
		fail_task(l, t, "TASK_FAILED", "cannot run %s: %s", l->env->vmctl, strerror(rc));
		return;
	}
	t->pid = pid;
	t->phase = PH_RUNNING;
	l->children++;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void ask_ip(struct launcher *l, struct task *t)
{
	long left = (long)ceil(t->ip_deadline - now_s());
	if (left < 1)
		left = 1;
	launch_start_req(l, t, RQ_IP, "GET", NULL, (left + 30) * 1000L, "/v1/vms/%s/ip?wait=%ld",
			 t->vm, left);
}

struct ip_retry {
	struct launcher *l;
	struct task *t;
};

static void on_ip_retry(evutil_socket_t fd, short what, void *arg)
{
	struct ip_retry *ir = arg;
	struct launcher *l = ir->l;
	struct task *t = ir->t;
	free(ir);
	t->inflight--;
	l->inflight--;
	if (t->final_state)
		launch_finish_if_idle(l, t);
	else
		ask_ip(l, t);
}

void launch_on_req_done(struct launcher *l, struct vreq *r)
{
	struct task *t = r->t;
	struct json_object *v;
	const char *s;

	l->inflight--;
	t->inflight--;
	switch (r->kind) {
	case RQ_TAKE:
		if (t->final_state) {
			/* a VM taken for a task already over is its to destroy */
			if (!r->err && r->status == 201 &&
			    json_object_object_get_ex(r->reply, "name", &v)) {
				snprintf(t->vm, sizeof(t->vm), "%s", json_object_get_string(v));
				t->vm_exists = true;
			}
			launch_finish_if_idle(l, t);
			break;
		}
		if (!r->err && (r->status == 404 || r->status == 409)) {
			/* no pool, or the task does not fit its VMs: boot one */
			fprintf(stderr, "mesos-vm-executor: task %s: pool: %s; booting a VM\n",
				t->spec.task_id, launch_req_error(r));
			create_vm(l, t);
			break;
		}
		if (r->err || r->status != 201 ||
		    !json_object_object_get_ex(r->reply, "name", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    strlen(json_object_get_string(v)) > TASK_VM_NAME_MAX) {
			fail_task(l, t, "TASK_ERROR", "no VM from the pool: %s",
				  launch_req_error(r));
			break;
		}
		snprintf(t->vm, sizeof(t->vm), "%s", json_object_get_string(v));
		t->vm_exists = true;
		l->ops->send(l->ctx, t, "TASK_STARTING", "VM taken from the warm pool", NULL);
		t->phase = PH_WAIT_IP;
		t->ip_deadline = now_s() + l->env->ip_wait_s;
		ask_ip(l, t);
		break;
	case RQ_CREATE:
		if (r->err || r->status != 201) {
			/* 409 may be someone else's VM of that name: never delete it. */
			fail_task(l, t, "TASK_ERROR", "VM %s could not be created: %s", t->vm,
				  launch_req_error(r));
			break;
		}
		t->vm_exists = true;
		if ((s = vm_failed(r->reply))) {
			fail_task(l, t, "TASK_ERROR", "VM %s could not be created: %s", t->vm, s);
			break;
		}
		if (t->final_state) {
			launch_finish_if_idle(l, t);
			break;
		}
		l->ops->send(l->ctx, t, "TASK_STARTING", "VM created", NULL);
		for (struct task *m = t->next; t->group == t && m; m = m->next)
			if (m->group == t && !m->final_state)
				l->ops->send(l->ctx, m, "TASK_STARTING", "the group's VM created",
					     NULL);
		t->phase = PH_QUOTA;
		v = json_object_new_object();
		json_object_object_add(v, "quota_pct", json_object_new_int64(quota_pct_of(t)));
		launch_start_req(l, t, RQ_QUOTA, "PUT", v, 30000L, "/v1/vms/%s/cpu", t->vm);
		break;
	case RQ_QUOTA:
		if (t->final_state) {
			launch_finish_if_idle(l, t);
			break;
		}
		if (!r->err && r->status == 503 &&
		    strcmp(launch_req_class(r), "CgroupUnavailable") == 0) {
			/* The host has no cgroup CPU control at all: the vCPU count
			 * still bounds the task. Said in the log and in TASK_RUNNING. */
			free(t->note);
			if (asprintf(&t->note, "CPU quota not enforced: %s", launch_req_error(r)) <
			    0)
				t->note = NULL;
			fprintf(stderr, "mesos-vm-executor: VM %s: %s\n", t->vm,
				t->note ? t->note : "CPU quota not enforced");
		} else if (r->err || r->status != 200) {
			/* The host can enforce quotas but not this one: the task
			 * would get more CPU than its offer says. */
			fail_task(l, t, "TASK_ERROR", "VM %s: CPU quota %lld%% refused: %s", t->vm,
				  (long long)quota_pct_of(t), launch_req_error(r));
			break;
		}
		t->phase = PH_STARTING;
		launch_start_req(l, t, RQ_START, "POST", NULL, CREATE_TIMEOUT_MS,
				 "/v1/vms/%s/start", t->vm);
		break;
	case RQ_START:
		if (t->final_state) {
			launch_finish_if_idle(l, t);
			break;
		}
		if (r->err || r->status != 200) {
			fail_task(l, t, "TASK_ERROR", "VM %s could not be started: %s", t->vm,
				  launch_req_error(r));
			break;
		}
		if ((s = vm_failed(r->reply))) {
			/* e.g. "cgroup: ..." when the quota cannot be written. */
			fail_task(l, t, "TASK_ERROR", "VM %s failed to start: %s", t->vm, s);
			break;
		}
		t->phase = PH_WAIT_IP;
		t->ip_deadline = now_s() + l->env->ip_wait_s;
		ask_ip(l, t);
		break;
	case RQ_IP:
		if (t->final_state) {
			launch_finish_if_idle(l, t);
			break;
		}
		if (!r->err && r->status == 200 && json_object_object_get_ex(r->reply, "ip", &v) &&
		    json_object_is_type(v, json_type_string) && *json_object_get_string(v)) {
			free(t->ip);
			t->ip = strdup(json_object_get_string(v));
			launch_spawn_command(l, t);
			if (t->pid)
				launch_watch_start(l, t);
			break;
		}
		if (!r->err && (r->status == 200 || r->status == 503 || r->status == 504) &&
		    now_s() < t->ip_deadline) {
			/* The agent is not up yet, or has no address yet. */
			struct timeval tv = {1, 0};
			struct ip_retry *ir = malloc(sizeof(*ir));
			if (ir) {
				ir->l = l;
				ir->t = t;
				t->inflight++;
				l->inflight++;
				event_base_once(l->base, -1, EV_TIMEOUT, on_ip_retry, ir, &tv);
				break;
			}
		}
		/* The guest agent also installs the ssh key the command runs
		 * through: without it the task cannot run. */
		fail_task(l, t, "TASK_FAILED", "VM %s: no guest address within %d s: %s", t->vm,
			  l->env->ip_wait_s,
			  r->err || r->status != 200 ? launch_req_error(r)
						     : "the guest reports no IPv4 address");
		break;
	case RQ_STOP:
		t->stop_in_flight = false;
		if (r->err || r->status != 200)
			fprintf(stderr, "mesos-vm-executor: stop %s: %s (deleting it anyway)\n",
				t->vm, launch_req_error(r));
		/* The guest is down; the ssh session ends with it, but do not trust it. */
		if (t->pid)
			kill(t->pid, SIGTERM);
		launch_finish_if_idle(l, t);
		break;
	case RQ_DELETE:
		if (!r->err && (r->status == 200 || r->status == 404)) {
			t->vm_exists = false;
		} else {
			char *m = NULL;
			fprintf(stderr, "mesos-vm-executor: delete %s: %s\n", t->vm,
				launch_req_error(r));
			if (asprintf(&m, "%s (VM %s not deleted: %s)",
				     t->final_msg ? t->final_msg : "", t->vm,
				     launch_req_error(r)) >= 0) {
				free(t->final_msg);
				t->final_msg = m;
			}
		}
		t->phase = PH_DONE;
		if (!t->terminal_early)
			l->ops->send(l->ctx, t, t->final_state, t->final_msg, NULL);
		l->ops->settled(l->ctx, t);
		break;
	}
	json_object_put(r->body);
	json_object_put(r->reply);
	free(r->err);
	free(r);
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
	struct launcher *l = arg;
	struct vreq *r;
	ssize_t n;

	while ((n = read(fd, &r, sizeof(r))) == (ssize_t)sizeof(r))
		launch_on_req_done(l, r);
}

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct launcher *l = arg;
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct task *t = probes_reaped(l, pid, status);
		if (t) {
			launch_finish_if_idle(l, t);
			continue;
		}
		if (!(t = tasks_find_pid(l->tasks, pid)))
			continue;
		l->children--;
		t->pid = 0;
		probes_stop(t);
		/* A command quicker than the poll still ran: RUNNING goes first. */
		if (!t->running_sent)
			launch_check_started(l, t);
		if (t->kill_requested) {
			launch_cancel_grace(t);
			launch_finish_if_idle(l, t);
		} else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			fail_task(l, t, "TASK_FINISHED", "command exited with status 0");
		} else if (WIFEXITED(status)) {
			fail_task(l, t, "TASK_FAILED", "command exited with status %d",
				  WEXITSTATUS(status));
		} else {
			fail_task(l, t, "TASK_FAILED", "command killed by signal %d",
				  WTERMSIG(status));
		}
		group_task_ended(l, t);
	}
}

struct launcher *launcher_new(struct event_base *base, const struct exec_env *env,
			      struct task_table *tasks, const struct launch_ops *ops, void *ctx,
			      char **err)
{
	struct launcher *l = calloc(1, sizeof(*l));
	if (!l)
		goto oom;
	l->base = base;
	l->env = env;
	l->tasks = tasks;
	l->ops = ops;
	l->ctx = ctx;
	l->sock = vmsup_client_socket(env->vmsup_socket);
	l->pipe[0] = l->pipe[1] = -1;
	if (pipe2(l->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		if (asprintf(err, "pipe: %s", strerror(errno)) < 0)
			*err = NULL;
		free(l);
		return NULL;
	}
	l->pipe_ev = event_new(base, l->pipe[0], EV_READ | EV_PERSIST, on_pipe, l);
	l->chld_ev = evsignal_new(base, SIGCHLD, on_sigchld, l);
	if (!l->pipe_ev || !l->chld_ev || event_add(l->pipe_ev, NULL) < 0 ||
	    event_add(l->chld_ev, NULL) < 0) {
		launcher_free(l);
		goto oom;
	}
	return l;
oom:
	if (asprintf(err, "out of memory") < 0)
		*err = NULL;
	return NULL;
}

void launcher_free(struct launcher *l)
{
	if (!l)
		return;
	/* A grace timer still pending belongs to the launcher, not the task. */
	for (struct task *t = l->tasks ? l->tasks->head : NULL; t; t = t->next) {
		launch_cancel_grace(t);
		health_free(t);
		check_free(t);
	}
	if (l->pipe_ev)
		event_free(l->pipe_ev);
	if (l->chld_ev)
		event_free(l->chld_ev);
	/* Threads still running hold the write end: leave it open so their
	 * write does not SIGPIPE; the process is about to exit anyway. */
	if (l->pipe[0] >= 0)
		close(l->pipe[0]);
	free(l);
}

void launcher_set_killing_state(struct launcher *l, bool on)
{
	l->killing_state = on;
}

int launcher_busy(struct launcher *l)
{
	return l->inflight + l->children;
}
