/* The event bus behind GET /v1/events: state changes, QMP events and the
 * modules' own events, fanned out to subscribers. */
#include "src/core/sup-internal.h"

#include <stdlib.h>
#include <string.h>

void vmsup_emit(struct vmsup *sup, struct vm *vm, struct json_object *ev)
{
	struct sub **pp;

	/* an event about a VM tells of a change its record may show */
	if (vm)
		vm_status_changed(vm);
	json_object_object_add(ev, "ts", json_object_new_double(sup_now_wall()));
	/* the API shows a VM's events to its owner and admins only */
	if (vm)
		json_object_object_add(ev, "owner", json_object_new_int64(vm->owner));
	sup->emitting++;
	for (struct sub *s = sup->subs; s; s = s->next)
		if (s->fn && (!s->vm || (vm && strcmp(s->vm, vm->spec.name) == 0)))
			s->fn(ev, s->arg);
	sup->emitting--;
	json_object_put(ev);
	if (sup->emitting)
		return;
	/* subscribers that left while we iterated */
	for (pp = &sup->subs; *pp;) {
		struct sub *s = *pp;
		if (!s->fn) {
			*pp = s->next;
			free(s->vm);
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

int vmsup_subscribe(struct vmsup *sup, const char *vm_filter, vmsup_event_fn fn, void *arg)
{
	struct sub *s = calloc(1, sizeof(*s));

	if (!s || (vm_filter && !(s->vm = strdup(vm_filter)))) {
		free(s);
		return -1;
	}
	s->handle = ++sup->next_sub;
	s->fn = fn;
	s->arg = arg;
	s->next = sup->subs;
	sup->subs = s;
	return s->handle;
}

void vmsup_unsubscribe(struct vmsup *sup, int handle)
{
	for (struct sub **pp = &sup->subs; *pp; pp = &(*pp)->next) {
		struct sub *s = *pp;
		if (s->handle != handle)
			continue;
		if (sup->emitting) {
			s->fn = NULL;
		} else {
			*pp = s->next;
			free(s->vm);
			free(s);
		}
		return;
	}
}

void sup_emit_state(struct vm *vm)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "vm", json_object_new_string(vm->spec.name));
	json_object_object_add(ev, "type", json_object_new_string("state"));
	json_object_object_add(ev, "state", json_object_new_string(vm_state_name(vm->state)));
	if (vm->error && (vm->state == VM_CRASHED || vm->state == VM_FAILED))
		json_object_object_add(ev, "error", json_object_new_string(vm->error));
	vmsup_emit(vm->sup, vm, ev);
}

void sup_emit_destroyed(struct vm *vm)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "vm", json_object_new_string(vm->spec.name));
	json_object_object_add(ev, "type", json_object_new_string("state"));
	json_object_object_add(ev, "state", json_object_new_string("destroyed"));
	vmsup_emit(vm->sup, vm, ev);
}

void sup_bus_free(struct vmsup *sup)
{
	while (sup->subs) {
		struct sub *s = sup->subs;
		sup->subs = s->next;
		free(s->vm);
		free(s);
	}
}
