/*
 * The limits module's vCPU and emulator pinning (vm-limits.h's struct
 * vm_pins): the fields of a create or PUT .../cpu body, applying them to
 * qemu's threads, and their place in the status and state file.
 */
#include "src/limits/vm-limits-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/limits/pin-map.h"
#include "src/limits/pin.h"
#include "src/util/err.h"
#include "src/util/log.h"

static bool is_null(struct json_object *v)
{
	return !v || json_object_is_type(v, json_type_null);
}

/* A CPU list field: parsed, available to this process, canonical in buf. */
static int list_value(struct json_object *v, const char *what, char *buf, size_t len,
		      cpu_set_t *set, char **err)
{
	char *why = NULL;

	if (!json_object_is_type(v, json_type_string))
		return vmsup_err(err, "'%s' must be a CPU list string like \"0-1,3\" or null",
				 what);
	if (pin_parse(json_object_get_string(v), set, &why) || pin_check_available(set, &why)) {
		vmsup_err(err, "%s: %s", what, why ? why : "bad list");
		free(why);
		return -1;
	}
	if (pin_format(set, buf, len) < 0)
		return vmsup_err(err, "%s: list too long", what);
	return 0;
}

int vm_cpu_change_pins(struct json_object *body, struct vm_cpu_change *c, char **err)
{
	struct json_object *pin = NULL, *map = NULL, *v;
	bool has_pin = json_object_object_get_ex(body, "pin", &pin);
	bool has_map = json_object_object_get_ex(body, "vcpu_pin", &map);
	const char *mode = NULL;

	if (json_object_object_get_ex(body, "pin_mode", &v)) {
		mode = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
		if (!mode || (strcmp(mode, "all") && strcmp(mode, "each")))
			return vmsup_err(err, "'pin_mode' must be \"all\" or \"each\"");
		if (!has_pin)
			return vmsup_err(err, "'pin_mode' needs 'pin'");
	}
	if (!is_null(pin) && !is_null(map))
		return vmsup_err(err, "give 'pin' (one list for every vCPU) or 'vcpu_pin' (a list "
				      "per vCPU), not both");
	if (has_pin || has_map) {
		c->set_pin = true;
		c->pins.mode = VM_PIN_NONE;
	}
	if (!is_null(pin)) {
		if (list_value(pin, "pin", c->pins.pin, sizeof(c->pins.pin), &c->pins.pinset, err))
			return -1;
		c->pins.mode = mode && !strcmp(mode, "each") ? VM_PIN_EACH : VM_PIN_ALL;
	} else if (!is_null(map)) {
		if (pin_map_from_json(map, "vcpu_pin", &c->pins.map, err))
			return -1;
		c->pins.mode = VM_PIN_MAP;
	}
	if (json_object_object_get_ex(body, "emulator_pin", &v)) {
		c->set_emu = true;
		c->pins.emu = !is_null(v);
		if (c->pins.emu && list_value(v, "emulator_pin", c->pins.emu_pin,
					      sizeof(c->pins.emu_pin), &c->pins.emuset, err))
			return -1;
	}
	return 0;
}

bool lim_pins_any(const struct vm_pins *p)
{
	return p->mode != VM_PIN_NONE || p->emu;
}

static int apply_vcpus(struct vm *vm, const struct vm_pins *p, const cpu_set_t *all,
		       struct json_object *cpus_fast, char **err)
{
	static const char *const how[] = {"unpinned", "on", "one each on", "per vCPU"};
	int n = 0, r;

	if (p->mode == VM_PIN_MAP)
		r = pin_vcpus_map(cpus_fast, vm->pid, &p->map, all, &n, err);
	else
		r = pin_vcpus(cpus_fast, vm->pid, p->mode == VM_PIN_NONE ? all : &p->pinset,
			      p->mode == VM_PIN_EACH ? PIN_ONE_EACH : PIN_ALL, &n, err);
	if (r)
		return -1;
	LOG_I(vm->spec.name, "vCPU threads %s%s%s: %d thread(s) set", how[p->mode],
	      p->mode == VM_PIN_ALL || p->mode == VM_PIN_EACH ? " " : "",
	      p->mode == VM_PIN_ALL || p->mode == VM_PIN_EACH ? p->pin : "", n);
	return 0;
}

int lim_pins_apply(struct vm *vm, const struct vm_pins *p, bool vcpus, bool emu,
		   struct json_object *cpus_fast, char **err)
{
	cpu_set_t all;
	int seen = 0, n = 0;

	/* "not pinned" is every CPU the daemon itself may use */
	if (sched_getaffinity(0, sizeof(all), &all) < 0)
		return vmsup_err(err, "sched_getaffinity: %s", strerror(errno));
	if (vcpus && apply_vcpus(vm, p, &all, cpus_fast, err))
		return -1;
	if (!emu)
		return 0;
	if (pin_emulator(cpus_fast, vm->pid, p->emu ? &p->emuset : &all, &seen, &n, err))
		return -1;
	LOG_I(vm->spec.name, "emulator threads %s%s: %d of %d set", p->emu ? "on " : "unpinned",
	      p->emu ? p->emu_pin : "", n, seen);
	return 0;
}

void lim_pins_status(const struct vm_pins *p, struct json_object *o)
{
	static const char *const mode[] = {"all", "all", "each", "map"};
	bool list = p->mode == VM_PIN_ALL || p->mode == VM_PIN_EACH;

	json_object_object_add(o, "pin", list ? json_object_new_string(p->pin) : NULL);
	json_object_object_add(o, "pin_mode", json_object_new_string(mode[p->mode]));
	json_object_object_add(o, "vcpu_pin",
			       p->mode == VM_PIN_MAP ? pin_map_to_json(&p->map) : NULL);
	json_object_object_add(o, "emulator_pin",
			       p->emu ? json_object_new_string(p->emu_pin) : NULL);
}

/*
 * The fields lim_pins_status wrote, parsed as the API parses them (the
 * status's pin_mode "map" stands for vcpu_pin's presence). A CPU the
 * daemon may no longer use drops the pins, with a warning.
 */
void lim_pins_restore(struct vm *vm, struct vm_pins *p, struct json_object *state)
{
	static const char *const keys[] = {"pin", "pin_mode", "vcpu_pin", "emulator_pin"};
	struct json_object *o = json_object_new_object(), *v;
	struct vm_cpu_change c;
	char *why = NULL;

	memset(&c, 0, sizeof(c));
	for (size_t i = 0; o && i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(state, keys[i], &v) &&
		    !(i == 1 && !strcmp(json_object_get_string(v), "map")))
			json_object_object_add(o, keys[i], json_object_get(v));
	if (!o || vm_cpu_change_pins(o, &c, &why) ||
	    (c.pins.mode == VM_PIN_MAP &&
	     pin_map_check_vcpus(&c.pins.map, "vcpu_pin", vm->spec.cpus, &why)))
		LOG_W(vm->spec.name, "state file: pinning ignored: %s",
		      why ? why : "out of memory");
	else
		*p = c.pins;
	free(why);
	json_object_put(o);
}

/* POST /v1/vms: the pins a create asks for, kept until the spec is known. */
int lim_create(struct vm *vm, struct json_object *body, const char **cls, char **err)
{
	struct vm_cpu_change c;
	struct vm_lim *m;

	memset(&c, 0, sizeof(c));
	if (!json_object_is_type(body, json_type_object))
		return 0;
	if (vm_cpu_change_pins(body, &c, err))
		return vmsup_errc(NULL, cls, VMSUP_EC_INVALID, "bad pins");
	if (!c.set_pin && !c.set_emu)
		return 0;
	if (!(m = lim_get(vm)))
		return vmsup_errc(err, cls, VMSUP_EC_INTERNAL, "out of memory");
	m->pins = c.pins;
	vm_status_changed(vm);
	return 0;
}

/* The spec is valid: the map names only vCPUs the VM has. */
int lim_prepare(struct vm *vm, const char **cls, char **err)
{
	const struct vm_lim *m = vm->cgroup;

	if (m && m->pins.mode == VM_PIN_MAP &&
	    pin_map_check_vcpus(&m->pins.map, "vcpu_pin", vm->spec.cpus, err)) {
		*cls = VMSUP_EC_INVALID;
		return -1;
	}
	return 0;
}
