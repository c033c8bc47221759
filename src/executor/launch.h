/*
 * Running a task in its own VM through vmsupd: define the VM sized from the
 * task's resources with the sandbox shared at the same path, set its CPU
 * quota (refused: TASK_ERROR; no cgroups on the host: noted, not fatal),
 * start it, wait for the guest address (TASK_RUNNING carries it), run the
 * command in the guest with `vmctl exec --via ssh`, then delete the VM and
 * report the outcome.
 * vmsupd calls block (libcurl), so each runs on a short-lived thread and its
 * result comes back to the event loop through a pipe.
 */
#ifndef VMEXEC_LAUNCH_H
#define VMEXEC_LAUNCH_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "src/executor/env.h"
#include "src/executor/tasks.h"

/* Kill grace when neither KILL nor the TaskInfo names one (Mesos's default). */
#define LAUNCH_DEFAULT_GRACE_NS 3000000000LL
/* The smallest VM our guest boots in. */
#define LAUNCH_MIN_MEM_MIB 64
/* Used when the task has no "mem" / "cpus" resource. */
#define LAUNCH_DEFAULT_MEM_MIB 256

struct launch_ops {
	/* Send a status update for t (ip may be NULL). */
	void (*send)(void *ctx, struct task *t, const char *state, const char *msg, const char *ip);
	/* A TASK_RUNNING for t's health check (healthy 0/1) or check
	 * (healthy -1), reason the TaskStatus.Reason, msg says why; kill: the
	 * health check failed consecutive_failures times and the task is to
	 * be killed. */
	void (*running)(void *ctx, struct task *t, int healthy, bool kill, const char *reason,
			const char *msg);
	/* t reached its end: VM gone, terminal update sent. */
	void (*settled)(void *ctx, struct task *t);
};

struct launcher;

/* tasks: the table children are looked up in (borrowed). */
struct launcher *launcher_new(struct event_base *base, const struct exec_env *env,
			      struct task_table *tasks, const struct launch_ops *ops, void *ctx,
			      char **err);
void launcher_free(struct launcher *l);

/* Start t (parsed, phase PH_NEW). Failures end as a terminal update. */
void launch_task(struct launcher *l, struct task *t);

/* Start a LAUNCH_GROUP's tasks (parsed, PH_NEW) in one VM sized by the sum
 * of their resources, each its own command with its own updates. */
void launch_group(struct launcher *l, struct task **tasks, size_t n);

/* The framework declared TASK_KILLING_STATE: every kill first sends
 * TASK_KILLING (from SUBSCRIBED's framework_info). */
void launcher_set_killing_state(struct launcher *l, bool on);

/* Stop t: TASK_KILLING if the framework takes it, SIGTERM to its command in the guest, SIGKILL and
 * the VM stopped after grace_ns (<0: the task's kill policy, else the shutdown grace, else the
 * default); ends with TASK_KILLED unless t already ended. */
void launch_kill(struct launcher *l, struct task *t, int64_t grace_ns);

/* Requests or children still outstanding. */
int launcher_busy(struct launcher *l);

#endif
