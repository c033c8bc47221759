/*
 * A task's general check (TaskInfo.check, Mesos v1 CheckInfo), as Mesos's
 * checker (src/checks/checker.cpp) on the probe runner health checks share:
 * COMMAND reports the command's exit code, HTTP the status code, TCP whether
 * a connection opened. A probe that fails to give a result (timed out, no
 * HTTP answer) reports the empty result of the type. Every change of the
 * result is a TASK_RUNNING with REASON_TASK_CHECK_STATUS_UPDATED; a check
 * never kills its task.
 */
#ifndef VMEXEC_CHECK_H
#define VMEXEC_CHECK_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

struct launcher;
struct task;
struct check;

#define CHECK_REASON "REASON_TASK_CHECK_STATUS_UPDATED"

/* As health_prepare and health_free, for t->check. */
int check_prepare(struct launcher *l, struct task *t, char **err);
void check_free(struct task *t);

/* A task with a check: every status carries check_status, as Mesos's
 * executors send it. A fresh one (reason NULL or another) the empty
 * result of the type; a check or health update (reason one of the
 * *_STATUS_UPDATED) the last result. */
void check_status_attach(const struct task *t, struct json_object *st, const char *reason);

#endif
