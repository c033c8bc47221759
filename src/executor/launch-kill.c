/* Stopping a task: SIGTERM in the guest, the grace period, SIGKILL and the
 * VM stopped (launch.h: launch_kill). */
#include "src/executor/launch-internal.h"
#include "src/executor/probe.h"

#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

struct grace_ctx {
	struct launcher *l;
	struct task *t;
};

/* As Mesos's command executor: the KILL's policy, the task's, else the
 * executor's shutdown grace period. */
static int64_t grace_of(const struct launcher *l, struct task *t, int64_t grace_ns)
{
	if (grace_ns >= 0)
		return grace_ns;
	if (t->spec.grace_ns >= 0)
		return t->spec.grace_ns;
	if (l->env->shutdown_grace_ns > 0)
		return l->env->shutdown_grace_ns;
	return LAUNCH_DEFAULT_GRACE_NS;
}

static void start_stop(struct launcher *l, struct task *t)
{
	struct json_object *b = json_object_new_object();
	int64_t s = (t->kill_grace_ns + 999999999LL) / 1000000000LL;
	if (s < 1)
		s = 1;
	json_object_object_add(b, "timeout_s", json_object_new_int64(s));
	t->stop_in_flight = true;
	launch_start_req(l, t, RQ_STOP, "POST", b, (s + 60) * 1000L, "/v1/vms/%s/stop", t->vm);
}

/* kill -SIG the command's process group in the guest (its pid when it leads
 * none), through a vmctl exec of its own; reaped by on_sigchld. */
static int signal_in_guest(struct launcher *l, struct task *t, const char *sig)
{
	char *marker = launch_started_marker(l, t), *script = NULL;
	const char *argv[12];
	int n = 0, rc;
	pid_t pid;

	if (!marker || asprintf(&script,
				"p=$(cat '%s') && [ -n \"$p\" ] && "
				"{ kill -%s -- -$p 2>/dev/null || kill -%s $p; }",
				marker, sig, sig) < 0) {
		free(marker);
		return -1;
	}
	free(marker);
	n = launch_exec_argv(l, t, argv);
	argv[n++] = "/bin/sh";
	argv[n++] = "-c";
	argv[n++] = script;
	argv[n] = NULL;
	rc = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ);
	free(script);
	if (rc != 0) {
		fprintf(stderr, "mesos-vm-executor: task %s: cannot send SIG%s: %s\n",
			t->spec.task_id, sig, strerror(rc));
		return -1;
	}
	fprintf(stderr, "mesos-vm-executor: task %s: SIG%s sent in VM %s\n", t->spec.task_id, sig,
		t->vm);
	return 0;
}

void launch_cancel_grace(struct task *t)
{
	if (!t->grace_ev)
		return;
	free(event_get_callback_arg(t->grace_ev));
	event_free(t->grace_ev);
	t->grace_ev = NULL;
}

/* The grace period is over and the command still runs: SIGKILL, and stop
 * the VM, which also ends an ssh session a surviving child holds open. */
static void on_grace(evutil_socket_t fd, short what, void *arg)
{
	struct grace_ctx *g = arg;
	struct launcher *l = g->l;
	struct task *t = g->t;

	launch_cancel_grace(t);
	if (!t->pid)
		return;
	fprintf(stderr, "mesos-vm-executor: task %s: still running after the %.3f s grace period\n",
		t->spec.task_id, t->kill_grace_ns / 1e9);
	signal_in_guest(l, t, "KILL");
	t->kill_grace_ns = 1000000000LL;
	/* A group member's VM is the group's: SIGKILL must do. */
	if (t->vm_exists && !t->stop_in_flight)
		start_stop(l, t);
}

static int arm_grace(struct launcher *l, struct task *t)
{
	struct grace_ctx *g = malloc(sizeof(*g));
	struct timeval tv = {(time_t)(t->kill_grace_ns / 1000000000LL),
			     (suseconds_t)(t->kill_grace_ns % 1000000000LL / 1000)};

	if (!g)
		return -1;
	g->l = l;
	g->t = t;
	t->grace_ev = evtimer_new(l->base, on_grace, g);
	if (!t->grace_ev || evtimer_add(t->grace_ev, &tv) < 0) {
		if (t->grace_ev)
			event_free(t->grace_ev);
		t->grace_ev = NULL;
		free(g);
		return -1;
	}
	return 0;
}

void launch_kill(struct launcher *l, struct task *t, int64_t grace_ns)
{
	if (t->phase == PH_DONE || t->phase == PH_DELETING || t->kill_requested ||
	    t->terminal_early)
		return;
	/* As Mesos's executors: checks stop before TASK_KILLING goes out, so
	 * no check or health update follows it. */
	probes_stop(t);
	/* Every kill says TASK_KILLING (KILL, a group member's end, a failed
	 * health check, SHUTDOWN), for a framework that declared
	 * TASK_KILLING_STATE and a task it has heard of that is not ending. */
	if (l->killing_state && !t->final_state && t->last_state &&
	    !proto_state_terminal(t->last_state))
		l->ops->send(l->ctx, t, "TASK_KILLING", "stopping the task", t->ip);
	t->kill_requested = true;
	t->kill_grace_ns = grace_of(l, t, grace_ns);
	task_set_final(t, "TASK_KILLED", "killed on request");
	/* Creating, setting the quota or starting: the handler sees
	 * final_state and deletes. Waiting for the address or running: stop
	 * the guest now. */
	if (launch_vm_up(t) && t->phase == PH_RUNNING && t->pid && t->running_sent &&
	    signal_in_guest(l, t, "TERM") == 0 && arm_grace(l, t) == 0)
		return; /* the task ends on its own, or on_grace kills it */
	if (t->vm_exists && (t->phase == PH_WAIT_IP || t->phase == PH_RUNNING))
		start_stop(l, t);
	else if (t->pid && launch_vm_up(t))
		/* A group member before its start marker: end its ssh session,
		 * which hangs up its command; the VM is the group's. */
		kill(t->pid, SIGTERM);
	else
		launch_finish_if_idle(l, t);
}
