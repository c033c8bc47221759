/*
 * vmctl logs NAME [--tail N] [--qemu]: the last lines of a VM's serial
 * console log, or of qemu's own stderr, from GET /v1/vms/NAME/logs. The
 * daemon keeps them until the VM is destroyed, so a crashed or failed VM
 * can be looked at.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "src/cli/vmctl.h"

enum { OPT_TAIL = 1, OPT_QEMU };

struct logs_opts {
	long tail;
	int qemu;
};

static int logs_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	struct logs_opts *o = ctx;

	if (opt == OPT_QEMU) {
		o->qemu = 1;
		return 0;
	}
	/* the daemon's bounds (src/daemon/api-logs.h) */
	if (vmctl_parse_long(arg, 1, 100000, &o->tail) < 0)
		return vmctl_usage_error(cmd, "--tail: '%s' is not a number of lines in 1..100000",
					 arg);
	return 0;
}

/* The log as it is, with a final newline. */
static void print_log(struct json_object *r)
{
	struct json_object *v;

	if (json_object_object_get_ex(r, "log", &v) && v) {
		const char *s = json_object_get_string(v);
		size_t n = strlen(s);
		fputs(s, stdout);
		if (n && s[n - 1] != '\n')
			putchar('\n');
	}
}

int vmctl_cmd_logs(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {{"tail", required_argument, NULL, OPT_TAIL},
					   {"qemu", no_argument, NULL, OPT_QEMU},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct logs_opts o = {.tail = 100};
	struct vmctl_args a;
	char suffix[64];
	int rc = vmctl_parse_name("logs", argc, argv, "h", lo, logs_opt, &o, 1, 0, &a);

	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(suffix, sizeof(suffix), "/logs?tail=%ld&source=%s", o.tail,
		 o.qemu ? "qemu" : "console");
	return vmctl_get_print(g, a.pos[0], suffix, NULL, print_log);
}
