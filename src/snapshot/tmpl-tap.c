#include "src/snapshot/tmpl-tap.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "src/core/supervisor.h"
#include "src/net/tap.h"
#include "src/qemu/argv.h"
#include "src/util/err.h"

int tmpl_tap_check(const struct vm_spec *spec, const char **cls, char **err)
{
	return spec->net.bridge ? vm_tap_usable(spec->net.brname, cls, err) : 0;
}

int tmpl_tap_open(const struct vm_spec *spec, int *fd, char **err)
{
	char tap[VM_TAP_NAME_LEN], *key = NULL;
	int t;

	if (!spec->net.bridge)
		return 0;
	if (asprintf(&key, "template:%s", spec->name) < 0)
		return vmsup_err(err, "out of memory");
	vm_tap_name(key, tap);
	free(key);
	if ((t = vm_tap_open(tap, spec->net.brname, err)) < 0)
		return -1;
	*fd = t;
	return 0;
}

static bool mac_in_use(const char *mac, void *sup)
{
	return vmsup_mac_in_use(sup, mac, NULL);
}

int tmpl_tap_mac(struct vmsup *sup, const char *name, char mac[18], char **err)
{
	mac[0] = '\0';
	if (vm_mac_unique(name, mac_in_use, sup, mac))
		return vmsup_err(err, "no free MAC address for template '%s'", name);
	return 0;
}
