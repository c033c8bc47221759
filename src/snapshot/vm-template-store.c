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
