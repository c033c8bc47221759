/*
 * Private to mesos-vm-executor's launcher: the state behind struct launcher,
 * the vmsupd requests it runs in threads (launch-req.c), the launcher script
 * (launch-script.c) and the steps of a launch (launch.c). The interface is
 * launch.h.
 */
#ifndef VMSUP_LAUNCH_INTERNAL_H
#define VMSUP_LAUNCH_INTERNAL_H

#include <json-c/json.h>
#include "src/executor/launch.h"

enum req_kind { RQ_TAKE, RQ_CREATE, RQ_QUOTA, RQ_START, RQ_IP, RQ_STOP, RQ_DELETE };

struct launcher {
	struct event_base *base;
	const struct exec_env *env;
	const struct launch_ops *ops;
	void *ctx;
	const char *sock;
	int pipe[2];
	struct event *pipe_ev;
	struct event *chld_ev;
	int inflight;
	int children;
	struct task_table *tasks;
	bool killing_state; /* the framework takes TASK_KILLING */
};

struct vreq {
	struct launcher *l;
	struct task *t;
	enum req_kind kind;
	const char *method;
	char path[256];
	struct json_object *body;
	long timeout_ms;
	long status;
	struct json_object *reply;
	char *err;
};

/* launch-req.c: ask vmsupd (a detached thread); the answer comes back through the pipe. */
void launch_start_req(struct launcher *l, struct task *t, enum req_kind kind, const char *method,
		      struct json_object *body, long timeout_ms, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
/* "desc" from an error reply, or the transport error. */
const char *launch_req_error(struct vreq *r);
/* "class" from an error reply {"error":{"class","desc"}}, or "". */
const char *launch_req_class(struct vreq *r);

/* launch-script.c */
/* Only characters that need no quoting anywhere (the sandbox path). */
int launch_path_is_plain(const char *p);
/* Write the in-guest launcher script into the sandbox; its path, malloc'd. */
char *launch_write_launcher(struct launcher *l, struct task *t, char **err);
/* The file the launcher creates in the sandbox right before it execs the
 * command (malloc'd path, NULL on out of memory). */
char *launch_started_marker(const struct launcher *l, const struct task *t);

/* launch-net.c: the VM's "net" for the task's ports, NULL when it has none. */
struct json_object *launch_net_spec(const struct task *t);

/* launch-group.c */
/* The leader's command runs: start every waiting member's command. */
void group_start_members(struct launcher *l, struct task *leader);
/* The leader ended before its VM ran commands: members end the same way. */
void group_fail_waiting(struct launcher *l, struct task *leader);
/* Members of leader's group still not done (the VM must stay). */
bool group_members_active(const struct task *leader);
/* t's command ended: a failed or killed member kills the rest, as Mesos's
 * default executor does. */
void group_task_ended(struct launcher *l, struct task *t);
/* The VM t's command runs in exists (its own, or its group's). */
bool launch_vm_up(const struct task *t);

/* launch.c */
void launch_spawn_command(struct launcher *l, struct task *t);

/* launch-watch.c */
/* Poll for t's start marker while its command's session lives. */
void launch_watch_start(struct launcher *l, struct task *t);
/* Has the launcher created t's marker? Then TASK_RUNNING (once). */
bool launch_check_started(struct launcher *l, struct task *t);
/* Validate t and write its launcher and health scripts; the VM size into
 * t->mem_req_mib. false when t already failed (terminal update under way). */
bool launch_prepare(struct launcher *l, struct task *t);
/* `vmctl [--socket S] exec --via ssh VM --` into argv (10 slots at least):
 * the count. */
int launch_exec_argv(const struct launcher *l, const struct task *t, const char **argv);

/* launch-kill.c: the pending SIGKILL of a task that ended within its grace. */
void launch_cancel_grace(struct task *t);

/* Once t has its final state and nothing is in flight: delete its VM, else report t. */
void launch_finish_if_idle(struct launcher *l, struct task *t);
/* One vmsupd answer: the next step of its task. */
void launch_on_req_done(struct launcher *l, struct vreq *r);

#endif
