#include "src/net/vm-bridge.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "src/core/supervisor.h"
#include "src/net/tap.h"
#include "src/qemu/argv.h"
#include "src/util/err.h"
#include "src/util/log.h"

static bool mac_taken(const char *mac, void *vm)
{
	return vmsup_mac_in_use(((struct vm *)vm)->sup, mac, vm);
}

/* Free among this daemon's VMs (vm_mac_unique); the result is kept in the
 * state file (mod_restore), so a restart keeps it. */
static int unique_mac(struct vm *vm, char **err)
{
	if (vm_mac_unique(vm->spec.name, mac_taken, vm, vm->mac))
		return vmsup_err(err, "no free MAC address for '%s'", vm->spec.name);
	return 0;
}

static int mod_prepare(void *ctx, struct vm *vm, const struct vmsup_peer *peer, const char **cls,
		       char **err)
{
	(void)ctx;
	(void)peer;
	if (!vm->spec.net.bridge)
		return 0;
	if (vm_tap_usable(vm->spec.net.brname, cls, err))
		return -1;
	if (unique_mac(vm, err)) {
		*cls = VMSUP_EC_CONFLICT;
		return -1;
	}
	return 0;
}

static int mod_argv(void *ctx, struct vm *vm, char ***argv, int *fds, char **err)
{
	char tap[VM_TAP_NAME_LEN];

	(void)ctx;
	(void)argv;
	if (!vm->spec.net.bridge)
		return 0;
	vm_tap_name(vm->spec.name, tap);
	/* the core closes its copy after the spawn: qemu then holds the only
	 * descriptor and the tap dies with qemu (tap.h) */
	if ((fds[VM_SPAWN_TAP_FD] = vm_tap_open(tap, vm->spec.net.brname, err)) < 0)
		return -1;
	LOG_I(vm->spec.name, "tap %s on bridge %s, mac %s", tap, vm->spec.net.brname, vm->mac);
	return 0;
}

static void mod_adopted(void *ctx, struct vm *vm)
{
	char tap[VM_TAP_NAME_LEN];

	(void)ctx;
	if (!vm->spec.net.bridge)
		return;
	vm_tap_name(vm->spec.name, tap);
	if (!vm_tap_exists(tap))
		LOG_W(vm->spec.name, "adopted, but its tap %s is gone: the VM is off the bridge",
		      tap);
}

static void mod_restore(void *ctx, struct vm *vm, struct json_object *state)
{
	struct json_object *v;

	(void)ctx;
	/* the MAC unique_mac chose, which the name alone does not give */
	if (vm->spec.net.bridge && json_object_object_get_ex(state, "mac", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) == sizeof(vm->mac) - 1)
		snprintf(vm->mac, sizeof(vm->mac), "%s", json_object_get_string(v));
}

static void mod_status(void *ctx, const struct vm *vm, struct json_object *o)
{
	char tap[VM_TAP_NAME_LEN];

	(void)ctx;
	if (!vm->spec.net.bridge)
		return;
	vm_tap_name(vm->spec.name, tap);
	json_object_object_add(o, "bridge", json_object_new_string(vm->spec.net.brname));
	json_object_object_add(o, "tap", json_object_new_string(tap));
}

const struct vm_module vm_bridge_module = {
    .name = "bridge",
    .prepare = mod_prepare,
    .argv = mod_argv,
    .adopted = mod_adopted,
    .restore = mod_restore,
    .status = mod_status,
};
