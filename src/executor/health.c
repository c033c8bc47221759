#include "src/executor/health.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "src/executor/launch-internal.h"
#include "src/executor/probe.h"
#include "src/util/err.h"

#define HEALTH_REASON "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED"

struct health {
	struct probe p;
	struct health_spec spec;
	bool initializing; /* no check has passed yet */
	unsigned failures; /* consecutive */
};

static void on_done(struct probe *p, int status);

int health_prepare(struct launcher *l, struct task *t, char **err)
{
	struct health *h;
	int rc;

	t->health = NULL;
	if (!(h = calloc(1, sizeof(*h)))) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	rc = health_spec_parse(t->spec.info, l->env->directory, &h->spec, err);
	if (rc <= 0) {
		free(h);
		return rc;
	}
	h->initializing = true;
	t->health = h;
	return probe_init(&h->p, t, PROBE_HEALTH, l, &h->spec.p, "health", false, on_done, h, err);
}

static void passed(struct health *h)
{
	struct probe *p = &h->p;

	if (h->initializing || h->failures > 0) {
		h->initializing = false;
		p->l->ops->running(p->l->ctx, p->t, 1, false, HEALTH_REASON, "health check passed");
	}
	h->failures = 0;
	probe_next(p);
}

static void failed(struct health *h, const char *why)
{
	struct probe *p = &h->p;
	char *m = NULL;
	bool kill_task;

	if (h->initializing && h->spec.grace_s > 0 && probe_now_s() - p->start <= h->spec.grace_s) {
		fprintf(stderr,
			"mesos-vm-executor: task %s: %s health check failed within the grace "
			"period (%s): ignored\n",
			p->t->spec.task_id, h->spec.p.type, why);
		probe_next(p);
		return;
	}
	h->failures++;
	kill_task = h->failures >= h->spec.consecutive_failures;
	if (asprintf(&m, "%s health check failed %u times consecutively: %s", h->spec.p.type,
		     h->failures, why) < 0)
		m = NULL;
	fprintf(stderr, "mesos-vm-executor: task %s: %s\n", p->t->spec.task_id,
		m ? m : "health check failed");
	if (kill_task)
		p->stopped = true; /* the kill ends the task; no more checks */
	p->l->ops->running(p->l->ctx, p->t, 0, kill_task, HEALTH_REASON,
			   m ? m : "health check failed");
	free(m);
	probe_next(p);
}

static void on_done(struct probe *p, int status)
{
	struct health *h = p->arg;
	char why[96];

	if (p->timed_out)
		snprintf(why, sizeof(why), "no answer within %g s", h->spec.p.timeout_s);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		passed(h);
		return;
	} else if (WIFEXITED(status))
		snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
	failed(h, why);
}

void health_free(struct task *t)
{
	struct health *h = t->health;

	if (!h)
		return;
	probe_clear(&h->p);
	health_spec_clear(&h->spec);
	free(h);
	t->health = NULL;
}
