/*
 * Runs a task's probe (its health check or its check) as Mesos's checkers do
 * (src/checks/checker_process.cpp): the first delay_seconds after
 * TASK_RUNNING, then every interval_seconds; each one is the spec's script
 * run in the task's VM through `vmctl exec` and killed after timeout_seconds.
 * What a result means is the owner's (health.c, check.c): its done callback
 * gets each one and asks for the next.
 */
#ifndef VMEXEC_PROBE_H
#define VMEXEC_PROBE_H

#include <stdbool.h>
#include <sys/types.h>

#include "src/executor/probe-spec.h"

struct launcher;
struct task;
struct event;

struct probe {
	struct launcher *l;
	struct task *t;
	const struct probe_spec *spec;
	char *script_path;
	char *out_path;		  /* the probe's stdout lands here; NULL: discarded */
	struct event *next_ev;	  /* the next probe */
	struct event *timeout_ev; /* the probe in flight overran */
	pid_t pid;		  /* the probe's vmctl, 0 if none */
	bool timed_out;		  /* the last probe was killed for its timeout */
	bool stopped;
	double start; /* monotonic seconds at probe_start */
	/* One probe ended (status: waitpid's), the task not ending. */
	void (*done)(struct probe *p, int status);
	void *arg;
};

/* Set p up as t's probe of that kind, its script written into the sandbox
 * as .vm-NAME-TASK.sh; capture: keep the probe's stdout (probe_output). -1
 * with *err. */
int probe_init(struct probe *p, struct task *t, enum probe_kind kind, struct launcher *l,
	       const struct probe_spec *spec, const char *name, bool capture,
	       void (*done)(struct probe *, int), void *arg, char **err);
/* Schedule the next probe, interval_seconds from now. */
void probe_next(struct probe *p);

/* For every probe of t (its health check's, its check's). The task's
 * command runs: schedule the first probes. */
void probes_start(struct task *t);
/* The task is ending: no more probes, those in flight are killed. */
void probes_stop(struct task *t);
/* A probe child still running (the executor waits for it). */
bool probes_busy(const struct task *t);
/* pid was a probe's vmctl: account for it, its owner told unless the
 * probes stopped; the probe's task, else NULL. */
struct task *probes_reaped(struct launcher *l, pid_t pid, int status);
/* What the last probe wrote to stdout (malloc'd, NULL if nothing). */
char *probe_output(const struct probe *p);
void probe_clear(struct probe *p);
/* Monotonic seconds. */
double probe_now_s(void);

#endif
