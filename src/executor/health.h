/*
 * A task's health checker, as Mesos's (src/checks/health_checker.cpp): the
 * first check delay_seconds after TASK_RUNNING, then every interval_seconds;
 * each check is the spec's script run in the task's VM through `vmctl exec`
 * and killed after timeout_seconds. Failures within grace_period_seconds of
 * the start are ignored until a check has passed. The first pass, and the
 * first pass after failures, report healthy; every counted failure reports
 * unhealthy, asking for the kill once consecutive_failures is reached.
 */
#ifndef VMEXEC_HEALTH_H
#define VMEXEC_HEALTH_H

#include <stdbool.h>
#include <sys/types.h>

#include "src/executor/health-spec.h"

struct launcher;
struct task;
struct health;

/* The checker for t when its TaskInfo has a health_check (t->health set, its
 * script written into the sandbox): 0; t has none: 0, t->health NULL; an
 * invalid check: -1 with *err. Nothing runs before health_start. */
int health_prepare(struct launcher *l, struct task *t, char **err);
/* The task's command runs: schedule the first check. */
void health_start(struct task *t);
/* The task is ending: no more checks, a check in flight is killed. */
void health_stop(struct task *t);
/* pid was a check's vmctl: account for it; its task, else NULL. */
struct task *health_reaped(struct launcher *l, pid_t pid, int status);
/* A check child still running (the executor waits for it). */
bool health_busy(const struct task *t);
void health_free(struct task *t);

#endif
