/*
 * The template record of a VM restored from a template: its fields in the
 * status (and so in the state file), and read back from the state file when
 * a restarted daemon reattaches the VM.
 */
#include "src/snapshot/vm-template-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/log.h"

static struct json_object *ms_or_null(double ms)
{
	return ms > 0 ? json_object_new_double((double)(long long)(ms * 10) / 10) : NULL;
}

void vm_template_status(const struct vm *vm, struct json_object *o)
{
	struct vm_restore *r = vm->tmpl;
	struct json_object *t, *f = NULL;

	if (!r) {
		json_object_object_add(o, "template", NULL);
		return;
	}
	t = json_object_new_object();
	json_object_object_add(t, "name", json_object_new_string(r->name));
	json_object_object_add(t, "state_bytes",
			       r->t ? json_object_new_int64((int64_t)r->t->state_bytes) : NULL);
	json_object_object_add(t, "restore_ms", ms_or_null(r->restore_ms));
	json_object_object_add(t, "load_ms", ms_or_null(r->load_ms));
	json_object_object_add(t, "agent_ms", ms_or_null(r->agent_ms));
	if (r->refreshed) {
		f = json_object_new_object();
		json_object_object_add(f, "time_set", json_object_new_boolean(r->res.time_set));
		json_object_object_add(f, "clock_method",
				       !r->res.time_set ? NULL
				       : r->res.clock_by_date
					   ? json_object_new_string("date")
					   : json_object_new_string("guest-set-time"));
		json_object_object_add(
		    f, "skew_ms", r->res.time_set ? json_object_new_double(r->res.skew_ms) : NULL);
		json_object_object_add(f, "reseeded", json_object_new_boolean(r->res.reseeded));
		json_object_object_add(f, "seed_bytes",
				       json_object_new_int64((int64_t)r->res.seed_bytes));
		json_object_object_add(f, "identity", json_object_new_boolean(r->res.identity));
		json_object_object_add(f, "ms",
				       json_object_new_double((double)(long long)r->res.wall_ms));
		json_object_object_add(
		    f, "error",
		    r->refresh_err[0]	       ? json_object_new_string(r->refresh_err)
		    : r->res.time_error[0]     ? json_object_new_string(r->res.time_error)
		    : r->res.seed_error[0]     ? json_object_new_string(r->res.seed_error)
		    : r->res.identity_error[0] ? json_object_new_string(r->res.identity_error)
					       : NULL);
	}
	json_object_object_add(t, "refresh", f);
	json_object_object_add(o, "template", t);
}

/* Reattach: the "template" object vm_template_status wrote. The VM was
 * restored by the earlier daemon: nothing is pending; the template is
 * opened again for its figures, and kept by name if it is gone since. */
static double jnum(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && (json_object_is_type(v, json_type_double) ||
							 json_object_is_type(v, json_type_int))
		   ? json_object_get_double(v)
		   : 0;
}

static bool jbool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

void vm_template_restore(struct vm *vm, struct json_object *state)
{
	struct json_object *t, *n, *f, *e;
	struct vm_restore *r;
	char *err = NULL;

	if (vm->tmpl || !json_object_object_get_ex(state, "template", &t) ||
	    !json_object_is_type(t, json_type_object) ||
	    !json_object_object_get_ex(t, "name", &n) || !json_object_is_type(n, json_type_string))
		return;
	if (!(r = calloc(1, sizeof(*r))) || !(r->name = strdup(json_object_get_string(n)))) {
		free(r);
		return;
	}
	r->vm = vm;
	if (!(r->t = tmpl_open(vmsup_config(vm->sup)->state_dir, r->name, &err))) {
		LOG_W(vm->spec.name, "template '%s': %s", r->name, err ? err : "cannot open");
		free(err);
	}
	r->restore_ms = jnum(t, "restore_ms");
	r->load_ms = jnum(t, "load_ms");
	r->agent_ms = jnum(t, "agent_ms");
	if (json_object_object_get_ex(t, "refresh", &f) &&
	    json_object_is_type(f, json_type_object)) {
		r->refreshed = true;
		r->res.time_set = jbool(f, "time_set");
		r->res.clock_by_date = json_object_object_get_ex(f, "clock_method", &e) &&
				       json_object_is_type(e, json_type_string) &&
				       !strcmp(json_object_get_string(e), "date");
		r->res.skew_ms = jnum(f, "skew_ms");
		r->res.reseeded = jbool(f, "reseeded");
		r->res.seed_bytes = (size_t)jnum(f, "seed_bytes");
		r->res.identity = jbool(f, "identity");
		r->res.wall_ms = jnum(f, "ms");
		if (json_object_object_get_ex(f, "error", &e) &&
		    json_object_is_type(e, json_type_string))
			snprintf(r->refresh_err, sizeof(r->refresh_err), "%s",
				 json_object_get_string(e));
	}
	vm->tmpl = r;
	vm_status_changed(vm);
}
