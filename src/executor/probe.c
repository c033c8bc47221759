#include "src/executor/probe.h"

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

/* What a probe may print (an HTTP status code) is short. */
#define PROBE_OUTPUT_MAX 64

double probe_now_s(void)
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

static int write_script(struct probe *p, char **err)
{
	char *tmp = NULL;
	FILE *f = NULL;
	int fd;

	if (asprintf(&tmp, "%s.tmp", p->script_path) < 0) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0 || !(f = fdopen(fd, "w")) || fputs(p->spec->script, f) < 0 || fclose(f) != 0 ||
	    rename(tmp, p->script_path) < 0) {
		vmsup_err(err, "cannot write %s: %s", p->script_path, strerror(errno));
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

int probe_init(struct probe *p, struct task *t, enum probe_kind kind, struct launcher *l,
	       const struct probe_spec *spec, const char *name, bool capture,
	       void (*done)(struct probe *, int), void *arg, char **err)
{
	memset(p, 0, sizeof(*p));
	t->probes[kind] = p;
	p->l = l;
	p->t = t;
	p->spec = spec;
	p->done = done;
	p->arg = arg;
	p->next_ev = evtimer_new(l->base, on_next, p);
	p->timeout_ev = evtimer_new(l->base, on_timeout, p);
	if (asprintf(&p->script_path, "%s/.vm-%s-%s.sh", l->env->directory, name, t->spec.task_id) <
	    0)
		p->script_path = NULL;
	if (capture && p->script_path && asprintf(&p->out_path, "%s.out", p->script_path) < 0)
		p->out_path = NULL;
	if (!p->next_ev || !p->timeout_ev || !p->script_path || (capture && !p->out_path)) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	return write_script(p, err);
}

void probes_start(struct task *t)
{
	for (int k = 0; k < PROBE_KINDS; k++) {
		struct probe *p = t->probes[k];
		struct timeval tv;

		if (!p || p->stopped)
			continue;
		p->start = probe_now_s();
		tv = tv_of(p->spec->delay_s);
		evtimer_add(p->next_ev, &tv);
	}
}

void probe_next(struct probe *p)
{
	struct timeval tv = tv_of(p->spec->interval_s);
	if (!p->stopped)
		evtimer_add(p->next_ev, &tv);
}

static void run_probe(struct probe *p)
{
	const char *argv[16];
	posix_spawn_file_actions_t fa;
	int n, rc;

	n = launch_exec_argv(p->l, p->t, argv);
	argv[n++] = "/bin/sh";
	argv[n++] = p->script_path;
	argv[n] = NULL;
	/* stdin and stdout (curl's status code) are the probe's own; its
	 * stderr goes to the executor's log, as Mesos's does. */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, p->out_path ? p->out_path : "/dev/null",
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	rc = posix_spawnp(&p->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "mesos-vm-executor: task %s: cannot run the %s check: %s\n",
			p->t->spec.task_id, p->spec->type, strerror(rc));
		p->pid = 0;
		probe_next(p);
		return;
	}
	p->l->children++;
	p->timed_out = false;
	if (p->spec->timeout_s > 0) {
		struct timeval tv = tv_of(p->spec->timeout_s);
		evtimer_add(p->timeout_ev, &tv);
	}
}

static void on_next(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	if (p->stopped || p->pid || p->t->final_state || p->t->kill_requested)
		return;
	run_probe(p);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;

	if (!p->pid)
		return;
	p->timed_out = true;
	kill(p->pid, SIGKILL);
}

struct task *probes_reaped(struct launcher *l, pid_t pid, int status)
{
	for (struct task *t = l->tasks->head; t; t = t->next)
		for (int k = 0; k < PROBE_KINDS; k++) {
			struct probe *p = t->probes[k];

			if (!p || !p->pid || p->pid != pid)
				continue;
			p->pid = 0;
			l->children--;
			evtimer_del(p->timeout_ev);
			if (!p->stopped && !t->final_state && !t->kill_requested)
				p->done(p, status);
			return t;
		}
	return NULL;
}

char *probe_output(const struct probe *p)
{
	char *buf;
	ssize_t n;
	int fd = p->out_path ? open(p->out_path, O_RDONLY | O_CLOEXEC) : -1;

	if (fd < 0 || !(buf = malloc(PROBE_OUTPUT_MAX + 1))) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	n = read(fd, buf, PROBE_OUTPUT_MAX);
	close(fd);
	if (n <= 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

void probes_stop(struct task *t)
{
	for (int k = 0; k < PROBE_KINDS; k++) {
		struct probe *p = t->probes[k];

		if (!p)
			continue;
		p->stopped = true;
		evtimer_del(p->next_ev);
		if (p->pid)
			kill(p->pid, SIGKILL); /* reaped by on_sigchld */
	}
}

bool probes_busy(const struct task *t)
{
	for (int k = 0; k < PROBE_KINDS; k++)
		if (t->probes[k] && t->probes[k]->pid)
			return true;
	return false;
}

void probe_clear(struct probe *p)
{
	for (int k = 0; p->t && k < PROBE_KINDS; k++)
		if (p->t->probes[k] == p)
			p->t->probes[k] = NULL;
	if (p->next_ev)
		event_free(p->next_ev);
	if (p->timeout_ev)
		event_free(p->timeout_ev);
	if (p->script_path)
		unlink(p->script_path);
	if (p->out_path)
		unlink(p->out_path);
	free(p->script_path);
	free(p->out_path);
	memset(p, 0, sizeof(*p));
}
