/* The non-admin QMP allowlist (see qmp-allow.h). */
#include "src/qemu/qmp-allow.h"

#include <string.h>

/* guest-visible lifecycle and reading qemu's state; nothing names a host path */
static const char *const allowed[] = {
    "stop",    "cont",	  "system_powerdown", "system_reset",	  "system_wakeup",
    "balloon", "qom-get", "qom-list",	      "qmp_capabilities", "inject-nmi",
};

bool vm_qmp_unprivileged_ok(struct json_object *cmd)
{
	struct json_object *e;
	const char *name;

	if (!json_object_is_type(cmd, json_type_object) ||
	    (!json_object_object_get_ex(cmd, "execute", &e) &&
	     !json_object_object_get_ex(cmd, "exec-oob", &e)) ||
	    !json_object_is_type(e, json_type_string))
		return false;
	name = json_object_get_string(e);
	if (!strncmp(name, "query-", 6))
		return true;
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (!strcmp(name, allowed[i]))
			return true;
	return false;
}
