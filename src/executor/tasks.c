#include "src/executor/tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int task_vm_name(const char *task_id, char out[TASK_VM_NAME_MAX + 1], char **err)
{
	size_t n = strlen(task_id);

	if (n == 0 || n > TASK_VM_NAME_MAX - strlen(TASK_VM_PREFIX)) {
		if (asprintf(err, "task id of %zu bytes: a VM name holds %zu", n,
			     TASK_VM_NAME_MAX - strlen(TASK_VM_PREFIX)) < 0)
			*err = NULL;
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = task_id[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-')) {
			if (asprintf(err,
				     "task id '%s': byte 0x%02x not allowed (VM names take "
				     "A-Z a-z 0-9 _ . -)",
				     task_id, (unsigned char)c) < 0)
				*err = NULL;
			return -1;
		}
	}
	snprintf(out, TASK_VM_NAME_MAX + 1, "%s%s", TASK_VM_PREFIX, task_id);
	return 0;
}

struct task *tasks_add(struct task_table *tt, struct proto_task *spec)
{
	struct task *t = calloc(1, sizeof(*t)), **p;
	if (!t)
		return NULL;
	t->spec = *spec;
	memset(spec, 0, sizeof(*spec));
	/* Appended so SUBSCRIBE lists tasks in launch order. */
	for (p = &tt->head; *p; p = &(*p)->next)
		;
	*p = t;
	tt->count++;
	return t;
}

struct task *tasks_find(struct task_table *tt, const char *task_id)
{
	for (struct task *t = tt->head; t; t = t->next)
		if (t->spec.task_id && strcmp(t->spec.task_id, task_id) == 0)
			return t;
	return NULL;
}

struct task *tasks_find_pid(struct task_table *tt, pid_t pid)
{
	for (struct task *t = tt->head; t; t = t->next)
		if (t->pid == pid)
			return t;
	return NULL;
}

struct task_update *task_add_update(struct task *t, const char *state, struct json_object *status,
				    const char *uuid_b64)
{
	struct task_update *u = calloc(1, sizeof(*u)), **p;
	char *ls = strdup(state);
	if (!u || !ls || !(u->uuid_b64 = strdup(uuid_b64)) || !(u->state = strdup(state))) {
		if (u) {
			free(u->uuid_b64);
			free(u);
		}
		free(ls);
		return NULL;
	}
	u->status = json_object_get(status);
	for (p = &t->unacked; *p; p = &(*p)->next)
		;
	*p = u;
	free(t->last_state);
	t->last_state = ls;
	return u;
}

void tasks_mark_all_sent(struct task_table *tt)
{
	for (struct task *t = tt->head; t; t = t->next)
		for (struct task_update *u = t->unacked; u; u = u->next)
			u->sent = true;
}

static void update_free(struct task_update *u)
{
	free(u->uuid_b64);
	free(u->state);
	json_object_put(u->status);
	free(u);
}

int task_ack(struct task *t, const char *uuid_b64)
{
	for (struct task_update **p = &t->unacked; *p; p = &(*p)->next) {
		if (strcmp((*p)->uuid_b64, uuid_b64) == 0) {
			struct task_update *u = *p;
			*p = u->next;
			update_free(u);
			t->any_acked = true;
			return 1;
		}
	}
	return 0;
}

void task_set_final(struct task *t, const char *state, const char *msg)
{
	if (t->final_state)
		return;
	t->final_state = strdup(state);
	t->final_msg = msg ? strdup(msg) : NULL;
}

bool task_terminal_sent(const struct task *t)
{
	return t->last_state && proto_state_terminal(t->last_state);
}

struct json_object *tasks_unacked_updates(struct task_table *tt)
{
	struct json_object *a = json_object_new_array();
	for (struct task *t = tt->head; t; t = t->next)
		for (struct task_update *u = t->unacked; u; u = u->next)
			json_object_array_add(a, json_object_get(u->status));
	return a;
}

struct json_object *tasks_unacked_tasks(struct task_table *tt)
{
	struct json_object *a = json_object_new_array();
	for (struct task *t = tt->head; t; t = t->next)
		if (!t->any_acked && t->spec.info)
			json_object_array_add(a, json_object_get(t->spec.info));
	return a;
}

bool tasks_all_settled(struct task_table *tt)
{
	for (struct task *t = tt->head; t; t = t->next)
		if (!task_terminal_sent(t) || t->unacked)
			return false;
	return true;
}

size_t tasks_active(struct task_table *tt)
{
	size_t n = 0;
	for (struct task *t = tt->head; t; t = t->next)
		if (!task_terminal_sent(t))
			n++;
	return n;
}

void tasks_free(struct task_table *tt)
{
	struct task *t = tt->head;
	while (t) {
		struct task *next = t->next;
		while (t->unacked) {
			struct task_update *u = t->unacked;
			t->unacked = u->next;
			update_free(u);
		}
		proto_task_clear(&t->spec);
		free(t->ip);
		free(t->note);
		free(t->final_state);
		free(t->final_msg);
		free(t->last_state);
		free(t);
		t = next;
	}
	tt->head = NULL;
	tt->count = 0;
}
