/*
 * vmctl's global options (--socket, -o/--output, -q/--quiet): taken before
 * the command and among its own options, anywhere before "--" (`vmctl
 * status web -o json`, `vmctl list -q`); what follows "--" is the guest
 * command's.
 */
#include "config.h"

#include "src/cli/vmctl.h"
#include "src/client/client.h"

#include <string.h>

static struct vmctl unset;
static struct vmctl *globals = &unset;

void vmctl_set_globals(struct vmctl *g)
{
	globals = g ? g : &unset;
}

int vmctl_global_opt(const char *cmd, int opt, const char *arg)
{
	switch (opt) {
	case VMCTL_OPT_SOCKET:
		if (!*arg)
			return vmctl_usage_error(cmd, "--socket needs a path");
		globals->sock = vmsup_client_socket(arg);
		return 0;
	case 'o':
		if (!strcmp(arg, "json"))
			globals->json = 1;
		else if (!strcmp(arg, "table") || !strcmp(arg, "text"))
			globals->json = 0;
		else
			return vmctl_usage_error(cmd, "-o: '%s' is not json or table", arg);
		return 0;
	case 'q':
		globals->quiet = 1;
		return 0;
	}
	return -1;
}

int vmctl_with_global_opts(const struct option *lo, struct option *all, size_t size)
{
	static const struct option g[] = {VMCTL_GLOBAL_LONGOPTS};
	size_t n = 0, i;

	while (lo && lo[n].name)
		n++;
	if (n + sizeof(g) / sizeof(g[0]) + 1 > size)
		return -1;
	memcpy(all, lo, n * sizeof(*lo));
	for (i = 0; i < sizeof(g) / sizeof(g[0]); i++)
		all[n + i] = g[i];
	memset(&all[n + i], 0, sizeof(*all));
	return 0;
}
