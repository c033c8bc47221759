/*
 * LAUNCH_GROUP as one VM (launch.h: launch_group): the first task leads and
 * owns the VM, sized by the sum of the group's resources; the others wait for
 * its address and then run their own commands in it, sharing its network and
 * the sandbox. A member's terminal update goes out when its command ends; the
 * VM goes once every member is done.
 */
#include "src/executor/launch-internal.h"

#include <stdlib.h>
#include <string.h>

bool launch_vm_up(const struct task *t)
{
	return t->vm_exists || (t->group && t->group != t && t->group->vm_exists);
}

void launch_group(struct launcher *l, struct task **tasks, size_t n)
{
	struct task *leader = NULL;
	double cpus = 0, mem = 0;
	bool any_cpus = false, any_mem = false;

	for (size_t i = 0; i < n; i++) {
		struct task *t = tasks[i];
		if (t->phase != PH_NEW)
			continue; /* refused at parse: its TASK_ERROR is out */
		if (!leader)
			leader = t;
		t->group = leader;
		if (t->spec.cpus >= 0) {
			cpus += t->spec.cpus;
			any_cpus = true;
		}
		if (t->spec.mem_mib >= 0) {
			mem += t->spec.mem_mib;
			any_mem = true;
		}
	}
	if (!leader)
		return;
	/* The leader's spec sizes the VM; members keep their own for updates. */
	leader->spec.cpus = any_cpus ? cpus : -1;
	leader->spec.mem_mib = any_mem ? mem : -1;
	for (size_t i = 0; i < n; i++) {
		struct task *t = tasks[i];
		if (t->group != leader || t == leader)
			continue;
		/* Waits for the leader's VM: PH_CREATING, no request of its own. */
		t->phase = PH_CREATING;
		snprintf(t->vm, sizeof(t->vm), "%s", leader->vm);
		launch_prepare(l, t);
	}
	launch_task(l, leader);
}

void group_start_members(struct launcher *l, struct task *leader)
{
	for (struct task *t = l->tasks->head; t; t = t->next) {
		if (t->group != leader || t == leader || t->final_state || t->pid)
			continue;
		snprintf(t->vm, sizeof(t->vm), "%s", leader->vm);
		free(t->ip);
		t->ip = leader->ip ? strdup(leader->ip) : NULL;
		launch_spawn_command(l, t);
		if (t->pid)
			launch_watch_start(l, t);
	}
}

void group_fail_waiting(struct launcher *l, struct task *leader)
{
	for (struct task *t = l->tasks->head; t; t = t->next) {
		if (t->group != leader || t == leader || t->pid || t->final_state)
			continue;
		task_set_final(t, leader->final_state, leader->final_msg);
		launch_finish_if_idle(l, t);
	}
}

bool group_members_active(const struct task *leader)
{
	for (const struct task *t = leader->next; t; t = t->next)
		if (t->group == leader && t->phase != PH_DONE)
			return true;
	return false;
}

void group_task_ended(struct launcher *l, struct task *t)
{
	struct task *leader = t->group;

	if (!leader || leader->group_killing || !t->final_state ||
	    (strcmp(t->final_state, "TASK_FAILED") != 0 &&
	     strcmp(t->final_state, "TASK_KILLED") != 0))
		return;
	leader->group_killing = true;
	for (struct task *m = l->tasks->head; m; m = m->next)
		if (m->group == leader && m != t && !m->final_state && !m->kill_requested) {
			fprintf(stderr,
				"mesos-vm-executor: task %s ended %s: killing task %s of its "
				"group\n",
				t->spec.task_id, t->final_state, m->spec.task_id);
			launch_kill(l, m, -1);
		}
}
