/* The template store as the daemon serves it: list, remove, verify, and
 * the bus events the pool listens for (see vm-template.h). */
#include "src/snapshot/vm-template.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/err.h"
#include "src/util/log.h"
#include "src/snapshot/template.h"
#include "src/snapshot/tmpl-ram.h"

/*
 * Templates whose guest's date could not take a relative `date -s`
 * (busybox): their restores and the pool's takes of their restores set the
 * clock with guest-set-time straight away rather than after a failed
 * process. Others (GNU date) skip guest-set-time, whose `hwclock -w` waits
 * for the RTC's next second (snapshot-refresh.c). Learnt at the first
 * clock refresh of a VM of each (a restore's or a take's), per daemon; one
 * list so that neither pays the failed date again after the other.
 */
struct date_fail {
	struct date_fail *next;
	char name[];
};
static struct date_fail *date_fails;

static struct date_fail **date_fail_of(const char *name)
{
	struct date_fail **p = &date_fails;

	while (*p && strcmp((*p)->name, name))
		p = &(*p)->next;
	return p;
}

bool vm_template_clock_by_date(const char *name)
{
	return !*date_fail_of(name);
}

void vm_template_clock_learnt(const char *name, bool by_date)
{
	struct date_fail **p = date_fail_of(name), *f = *p;
	size_t n = strlen(name) + 1;

	if (by_date && f) {
		*p = f->next;
		free(f);
	} else if (!by_date && !f && (f = malloc(sizeof(*f) + n))) {
		memcpy(f->name, name, n);
		f->next = NULL;
		*p = f;
	}
}

static void emit(struct vmsup *sup, const char *name, const char *event)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "type", json_object_new_string("template"));
	json_object_object_add(ev, "template", json_object_new_string(name));
	json_object_object_add(ev, "event", json_object_new_string(event));
	vmsup_emit(sup, NULL, ev);
}

void vm_template_emit_saved(struct vmsup *sup, const char *name)
{
	/* saved again: perhaps from another guest, whose date is to be tried */
	vm_template_clock_learnt(name, true);
	emit(sup, name, "saved");
}

struct json_object *vm_template_list(struct vmsup *sup, const char **cls)
{
	char *err = NULL;
	struct json_object *o = tmpl_list(vmsup_config(sup)->state_dir, &err);

	if (o)
		return o;
	*cls = VMSUP_EC_INTERNAL;
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(err ? err : "out of memory"));
	free(err);
	return o;
}

struct json_object *vm_template_rm(struct vmsup *sup, const char *name, const char **cls)
{
	char *err = NULL, *path;
	struct json_object *o = json_object_new_object();

	if (asprintf(&path, "%s/templates/%s/ram", vmsup_config(sup)->state_dir, name) < 0)
		path = NULL;
	if (tmpl_rm(vmsup_config(sup)->state_dir, name, &err) == 0) {
		if (path)
			tmpl_ram_forget(path);
		free(path);
		vm_template_clock_learnt(name, true);
		LOG_I(NULL, "template '%s' removed", name);
		return o;
	}
	free(path);
	*cls = err && !strncmp(err, "no template", 11) ? VMSUP_EC_NOT_FOUND : VMSUP_EC_INVALID;
	json_object_object_add(o, "error", json_object_new_string(err ? err : "out of memory"));
	free(err);
	return o;
}

struct json_object *vm_template_verify(struct vmsup *sup, const char *name, const char **cls)
{
	char *err = NULL;
	struct json_object *o = tmpl_verify(vmsup_config(sup)->state_dir, name, cls, &err);

	if (o) {
		LOG_I(NULL, "template '%s' verified: every file as saved", name);
		/* repaired by hand, perhaps: the pool may fill from it again */
		emit(sup, name, "verified");
		return o;
	}
	if (*cls && !strcmp(*cls, VMSUP_EC_DAMAGED))
		LOG_E(NULL, "template '%s': %s", name, err ? err : "damaged");
	o = json_object_new_object();
	json_object_object_add(o, "error", json_object_new_string(err ? err : "out of memory"));
	if (!*cls)
		*cls = VMSUP_EC_INTERNAL;
	free(err);
	return o;
}
