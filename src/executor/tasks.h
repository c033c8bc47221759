/*
 * The executor's task table: per task its parsed TaskInfo, VM name, where its
 * launch stands, and the status updates the agent has not acknowledged yet.
 */
#ifndef VMEXEC_TASKS_H
#define VMEXEC_TASKS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event;
struct health;
struct check;
struct probe;

#include "src/executor/probe-spec.h"
#include "src/executor/protocol.h"

/* VM names are [A-Za-z0-9][A-Za-z0-9_.-]{0,62}; ours are PREFIX + task id. */
#define TASK_VM_PREFIX	 "mesos-"
#define TASK_VM_NAME_MAX 63

enum task_phase {
	PH_NEW,
	PH_CREATING, /* POST /v1/vms in flight */
	PH_QUOTA,    /* PUT cpu quota in flight (VM defined, not started) */
	PH_STARTING, /* POST start in flight */
	PH_WAIT_IP,  /* GET ip?wait in flight */
	PH_RUNNING,  /* command running in the guest (child pid) */
	PH_DELETING, /* DELETE in flight; then the terminal update goes out */
	PH_DONE,     /* terminal update sent */
};

struct task_update {
	char *uuid_b64;
	char *state;
	struct json_object *status;
	bool sent; /* went out in an UPDATE or a SUBSCRIBE */
	struct task_update *next;
};

struct task {
	struct proto_task spec;
	char vm[TASK_VM_NAME_MAX + 1]; /* vm-TASKID, or the pool VM's name */
	int64_t mem_req_mib;
	enum task_phase phase;
	bool vm_exists; /* created in vmsupd: must be deleted */
	bool kill_requested;
	bool stop_in_flight;
	int inflight; /* vmsupd requests in flight */
	int64_t kill_grace_ns;
	pid_t pid; /* vmctl exec child, 0 if none */
	char *ip;
	bool running_sent;	/* TASK_RUNNING went out (the launcher reported the start) */
	struct event *grace_ev; /* KILL: SIGTERM sent, SIGKILL when this fires;
				 * freed by launcher_free */
	char *note;		/* a degradation to mention in TASK_RUNNING */
	struct health *health;	/* TaskInfo.health_check, NULL if none */
	struct check *check;	/* TaskInfo.check, NULL if none */
	struct probe *probes[PROBE_KINDS]; /* theirs, by kind (probe.h runs them) */
	bool killed_by_health;		   /* its terminal update says healthy: false */
	struct task *group;		   /* LAUNCH_GROUP: the task whose VM the group shares
					    * (the leader, itself included); NULL alone */
	bool group_killing;		   /* leader: the group is being killed */
	bool terminal_early;		   /* leader: terminal sent while others still ran */
	char *final_state;		   /* terminal outcome, sent once the VM is gone */
	char *final_msg;
	char *last_state;	     /* last state sent */
	bool any_acked;		     /* some update of this task was acknowledged */
	struct task_update *unacked; /* oldest first */
	double t_launch;	     /* monotonic seconds at LAUNCH */
	double ip_deadline;	     /* monotonic seconds: give up waiting for the address */
	struct task *next;
};

struct task_table {
	struct task *head;
	size_t count;
};

/* The VM name for a task id into out, or -1 with *err when the id has
 * characters or a length a VM name cannot hold. */
int task_vm_name(const char *task_id, char out[TASK_VM_NAME_MAX + 1], char **err);

/* New task for a parsed spec (ownership of *spec moves in; *spec is zeroed).
 * NULL on out of memory. */
struct task *tasks_add(struct task_table *tt, struct proto_task *spec);
struct task *tasks_find(struct task_table *tt, const char *task_id);
struct task *tasks_find_pid(struct task_table *tt, pid_t pid);

/* Remember an update sent (or to be sent) until its ACKNOWLEDGED. status is
 * referenced. The new entry, or NULL (out of memory). */
struct task_update *task_add_update(struct task *t, const char *state, struct json_object *status,
				    const char *uuid_b64);

/* Mark every pending update sent (they are in a SUBSCRIBE call). */
void tasks_mark_all_sent(struct task_table *tt);

/* Drop the update with that uuid: 1 if it was pending, 0 if unknown. */
int task_ack(struct task *t, const char *uuid_b64);

/* Record the terminal outcome (first one wins). */
void task_set_final(struct task *t, const char *state, const char *msg);

bool task_terminal_sent(const struct task *t);

/* New arrays for SUBSCRIBE: every unacknowledged status, oldest first, and the
 * TaskInfo of every task none of whose updates was acknowledged. */
struct json_object *tasks_unacked_updates(struct task_table *tt);
struct json_object *tasks_unacked_tasks(struct task_table *tt);

/* Every task has sent its terminal update and has nothing unacknowledged. */
bool tasks_all_settled(struct task_table *tt);
/* Number of tasks whose terminal update is not yet sent. */
size_t tasks_active(struct task_table *tt);

void tasks_free(struct task_table *tt);

#endif
