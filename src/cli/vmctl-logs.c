/*
 * vmctl logs NAME [-f] [--tail N] [--qemu]: the last lines of a VM's serial
 * console log, or of qemu's own stderr, from GET /v1/vms/NAME/logs. The
 * daemon keeps them until the VM is destroyed, so a crashed or failed VM
 * can be looked at. -f follows the log until the VM is destroyed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cli/vmctl.h"
#include "src/client/client.h"

enum { OPT_TAIL = 1, OPT_QEMU, OPT_FOLLOW = 'f' };

struct logs_opts {
	long tail;
	int qemu;
	int follow;
};

static int logs_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	struct logs_opts *o = ctx;

	if (opt == OPT_QEMU || opt == OPT_FOLLOW) {
		*(opt == OPT_QEMU ? &o->qemu : &o->follow) = 1;
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

static int print_line(const char *line, void *arg)
{
	(void)arg;
	puts(line);
	fflush(stdout);
	return 0;
}

/* The stream (GET .../logs?follow=1) until the VM is destroyed; Ctrl-C
 * ends vmctl as it ends tail -f. */
static int follow(const struct vmctl *g, const char *name, const char *suffix)
{
	char path[256], *err = NULL;
	int rc = 0;

	snprintf(path, sizeof(path), "/v1/vms/%s%s&follow=1", name, suffix);
	if (vmsup_stream(g->sock, path, print_line, NULL, &err) < 0) {
		rc = vmctl_fail(name, "%s", err ? err : "out of memory");
		free(err);
	}
	return rc;
}

int vmctl_cmd_logs(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {{"tail", required_argument, NULL, OPT_TAIL},
					   {"qemu", no_argument, NULL, OPT_QEMU},
					   {"follow", no_argument, NULL, OPT_FOLLOW},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct logs_opts o = {.tail = 100};
	struct vmctl_args a;
	char suffix[64];
	int rc = vmctl_parse_name("logs", argc, argv, "hf", lo, logs_opt, &o, 1, 0, &a);

	if (rc)
		return rc < 0 ? 0 : rc;
	snprintf(suffix, sizeof(suffix), "/logs?tail=%ld&source=%s", o.tail,
		 o.qemu ? "qemu" : "console");
	if (o.follow && g->json)
		return vmctl_usage_error("logs", "-f prints the log as text: not with -o json");
	if (o.follow)
		return follow(g, a.pos[0], suffix);
	return vmctl_get_print(g, a.pos[0], suffix, NULL, print_log);
}
