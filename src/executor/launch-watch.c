/* Watching for the launcher's start marker in the sandbox: TASK_RUNNING once
 * the command runs (launch-internal.h). */
#include "src/executor/launch-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "src/executor/probe.h"

/* How often to look for the marker. */
#define START_POLL_US 50000

struct watch {
	struct launcher *l;
	struct task *t;
};

/* TASK_RUNNING, once: the launcher in the guest has reached the command. */
static void report_running(struct launcher *l, struct task *t)
{
	char *m = NULL;

	if (t->running_sent)
		return;
	t->running_sent = true;
	if (asprintf(&m, "running in VM %s at %s%s%s", t->vm, t->ip ? t->ip : "?",
		     t->note ? "; " : "", t->note ? t->note : "") < 0)
		m = NULL;
	l->ops->send(l->ctx, t, "TASK_RUNNING", m ? m : "running", t->ip);
	free(m);
	probes_start(t);
	/* The members' ssh sessions follow the leader's first one, which
	 * found the guest ready (two first sessions at once could fail). */
	if (t->group == t)
		group_start_members(l, t);
}

/* Has the launcher created its marker? Then say TASK_RUNNING. */
bool launch_check_started(struct launcher *l, struct task *t)
{
	char *marker = launch_started_marker(l, t);
	bool started = marker && access(marker, F_OK) == 0;

	free(marker);
	if (started && !t->kill_requested && !t->final_state)
		report_running(l, t);
	return started;
}

/* Polls for the launcher's marker while the command's ssh session lives;
 * counted in flight so the task cannot be torn down under it. */
static void on_watch(evutil_socket_t fd, short what, void *arg)
{
	struct watch *ir = arg;
	struct launcher *l = ir->l;
	struct task *t = ir->t;
	struct timeval tv = {0, START_POLL_US};

	t->inflight--;
	l->inflight--;
	if (t->pid && !t->final_state && !t->kill_requested && !launch_check_started(l, t) &&
	    event_base_once(l->base, -1, EV_TIMEOUT, on_watch, ir, &tv) == 0) {
		t->inflight++;
		l->inflight++;
		return;
	}
	free(ir);
	launch_finish_if_idle(l, t);
}

void launch_watch_start(struct launcher *l, struct task *t)
{
	struct watch *ir = malloc(sizeof(*ir));
	struct timeval tv = {0, START_POLL_US};

	if (!ir)
		return; /* TASK_RUNNING then comes with the exit, if at all */
	ir->l = l;
	ir->t = t;
	if (event_base_once(l->base, -1, EV_TIMEOUT, on_watch, ir, &tv) < 0) {
		free(ir);
		return;
	}
	t->inflight++;
	l->inflight++;
}
