/*
 * A task's health checker, as Mesos's (src/checks/health_checker.cpp), on
 * the probe runner (probe.h) that checks share: each result is a verdict.
 * Failures within grace_period_seconds of the start are ignored until a
 * check has passed. The first pass, and the first pass after failures,
 * report healthy; every counted failure reports unhealthy, asking for the
 * kill once consecutive_failures is reached.
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
 * invalid check: -1 with *err. Nothing runs before probes_start (probe.h),
 * which with probes_stop, probes_busy and probes_reaped runs it. */
int health_prepare(struct launcher *l, struct task *t, char **err);
void health_free(struct task *t);

#endif
