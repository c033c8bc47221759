#include "src/executor/health.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/executor/launch-internal.h"
#include "src/util/err.h"

extern char **environ;

struct health {
	struct launcher *l;
	struct task *t;
	struct health_spec spec;
	char *script_path;
	struct event *next_ev;	  /* the next check */
	struct event *timeout_ev; /* the check in flight overran */
	pid_t pid;		  /* the check's vmctl, 0 if none */
	bool timed_out;
	bool stopped;
	bool initializing; /* no check has passed yet */
	unsigned failures; /* consecutive */
	double start;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timeval tv_of(double s)
{
	struct timeval tv = {(time_t)s, (suseconds_t)((s - (double)(time_t)s) * 1e6)};
	return tv;
}

static int write_script(struct health *h, char **err)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd;

	if (asprintf(&h->script_path, "%s/.vm-health-%s.sh", h->l->env->directory,
		     h->t->spec.task_id) < 0 ||
	    asprintf(&tmp, "%s.tmp", h->script_path) < 0) {
		vmsup_err(err, "out of memory");
		free(tmp);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0 || !(f = fdopen(fd, "w")) || fputs(h->spec.script, f) < 0 || fclose(f) != 0 ||
	    rename(tmp, h->script_path) < 0) {
		vmsup_err(err, "cannot write %s: %s", h->script_path, strerror(errno));
		if (fd >= 0 && !f)
			close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

static void on_next(evutil_socket_t fd, short what, void *arg);
static void on_timeout(evutil_socket_t fd, short what, void *arg);

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
	h->l = l;
	h->t = t;
	h->initializing = true;
	h->next_ev = evtimer_new(l->base, on_next, h);
	h->timeout_ev = evtimer_new(l->base, on_timeout, h);
	t->health = h;
	if (!h->next_ev || !h->timeout_ev) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	return write_script(h, err);
}

void health_start(struct task *t)
{
	struct health *h = t->health;
	struct timeval tv;

	if (!h || h->stopped)
		return;
	h->start = now_s();
	tv = tv_of(h->spec.delay_s);
	evtimer_add(h->next_ev, &tv);
}

static void schedule_next(struct health *h)
{
	struct timeval tv = tv_of(h->spec.interval_s);
	if (!h->stopped)
		evtimer_add(h->next_ev, &tv);
}

static void run_check(struct health *h)
{
	const char *argv[16];
	posix_spawn_file_actions_t fa;
	int n, rc;

	n = launch_exec_argv(h->l, h->t, argv);
	argv[n++] = "/bin/sh";
	argv[n++] = h->script_path;
	argv[n] = NULL;
	/* stdin and stdout (curl's status code) are the check's own; its
	 * stderr goes to the executor's log, as Mesos's does. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&h->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "mesos-vm-executor: task %s: cannot run the health check: %s\n",
			h->t->spec.task_id, strerror(rc));
		h->pid = 0;
		schedule_next(h);
		return;
	}
	h->l->children++;
	h->timed_out = false;
	if (h->spec.timeout_s > 0) {
		struct timeval tv = tv_of(h->spec.timeout_s);
		evtimer_add(h->timeout_ev, &tv);
	}
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;

	if (h->stopped || h->pid || h->t->final_state || h->t->kill_requested)
		return;
	run_check(h);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct health *h = arg;

	if (!h->pid)
		return;
	h->timed_out = true;
	kill(h->pid, SIGKILL);
}

static void passed(struct health *h)
{
	if (h->initializing || h->failures > 0) {
		h->initializing = false;
		h->l->ops->health(h->l->ctx, h->t, true, false, "health check passed");
	}
	h->failures = 0;
	schedule_next(h);
}

static void failed(struct health *h, const char *why)
{
	char *m = NULL;
	bool kill_task;

	if (h->initializing && h->spec.grace_s > 0 && now_s() - h->start <= h->spec.grace_s) {
		fprintf(stderr,
			"mesos-vm-executor: task %s: %s health check failed within the grace "
			"period (%s): ignored\n",
			h->t->spec.task_id, h->spec.type, why);
		schedule_next(h);
		return;
	}
	h->failures++;
	kill_task = h->failures >= h->spec.consecutive_failures;
	if (asprintf(&m, "%s health check failed %u times consecutively: %s", h->spec.type,
		     h->failures, why) < 0)
		m = NULL;
	fprintf(stderr, "mesos-vm-executor: task %s: %s\n", h->t->spec.task_id,
		m ? m : "health check failed");
	if (kill_task)
		h->stopped = true; /* the kill ends the task; no more checks */
	h->l->ops->health(h->l->ctx, h->t, false, kill_task, m ? m : "health check failed");
	free(m);
	schedule_next(h);
}

struct task *health_reaped(struct launcher *l, pid_t pid, int status)
{
	for (struct task *t = l->tasks->head; t; t = t->next) {
		struct health *h = t->health;
		char why[96];

		if (!h || h->pid != pid)
			continue;
		h->pid = 0;
		l->children--;
		evtimer_del(h->timeout_ev);
		if (h->stopped || t->final_state || t->kill_requested)
			return t;
		if (h->timed_out)
			snprintf(why, sizeof(why), "no answer within %g s", h->spec.timeout_s);
		else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
			passed(h);
			return t;
		} else if (WIFEXITED(status))
			snprintf(why, sizeof(why), "exited with status %d", WEXITSTATUS(status));
		else
			snprintf(why, sizeof(why), "killed by signal %d", WTERMSIG(status));
		failed(h, why);
		return t;
	}
	return NULL;
}

void health_stop(struct task *t)
{
	struct health *h = t->health;

	if (!h)
		return;
	h->stopped = true;
	evtimer_del(h->next_ev);
	if (h->pid)
		kill(h->pid, SIGKILL); /* reaped by on_sigchld */
}

bool health_busy(const struct task *t)
{
	return t->health && t->health->pid;
}

void health_free(struct task *t)
{
	struct health *h = t->health;

	if (!h)
		return;
	if (h->next_ev)
		event_free(h->next_ev);
	if (h->timeout_ev)
		event_free(h->timeout_ev);
	if (h->script_path)
		unlink(h->script_path);
	free(h->script_path);
	health_spec_clear(&h->spec);
	free(h);
	t->health = NULL;
}
