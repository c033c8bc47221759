/* vmctl: the command-line client of vmsupd (global options, dispatch). */
#include "config.h"

#include "src/cli/vmctl.h"
#include "src/client/client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

static const struct {
	const char *name;
	int (*fn)(const struct vmctl *g, int argc, char **argv);
} cmds[] = {
    {"create", vmctl_cmd_create},
    {"list", vmctl_cmd_list},
    {"status", vmctl_cmd_status},
    {"start", vmctl_cmd_lifecycle},
    {"pause", vmctl_cmd_lifecycle},
    {"resume", vmctl_cmd_lifecycle},
    {"kill", vmctl_cmd_lifecycle},
    {"reset", vmctl_cmd_lifecycle},
    {"stop", vmctl_cmd_stop},
    {"destroy", vmctl_cmd_destroy},
    {"memory", vmctl_cmd_memory},
    {"cpu", vmctl_cmd_cpu},
    {"ip", vmctl_cmd_ip},
    {"logs", vmctl_cmd_logs},
    {"console", vmctl_cmd_console},
    {"port", vmctl_cmd_port},
    {"exec", vmctl_cmd_exec},
    {"run", vmctl_cmd_run},
    {"qmp", vmctl_cmd_qmp},
    {"events", vmctl_cmd_events},
    {"metrics", vmctl_cmd_metrics},
    {"health", vmctl_cmd_health},
    {"pool", vmctl_cmd_pool},
    {"version", vmctl_cmd_version},
    {"autostart", vmctl_cmd_autostart},
    {"shutdown", vmctl_cmd_shutdown},
    {"template", vmctl_cmd_template},
};

enum { OPT_VERSION = 1 };

/*
 * The options before the command (the global ones, --help, --version);
 * the global ones may also come among the command's (vmctl_parse). 0 to
 * go on, 1 after --help, or a usage exit status.
 */
static int global_opts(int argc, char **argv, struct vmctl *g, int *version)
{
	static const struct option lo[] = {VMCTL_GLOBAL_LONGOPTS,
					   {"help", no_argument, NULL, 'h'},
					   {"version", no_argument, NULL, OPT_VERSION},
					   {0}};
	int opt, rc;

	vmctl_set_globals(g);
	opterr = 0;
	/* '+': global options end at the command name; the rest is the
	 * command's. */
	while ((opt = getopt_long(argc, argv, "+:h" VMCTL_GLOBAL_SHORTOPTS, lo, NULL)) != -1) {
		switch (opt) {
		case 'h':
			vmctl_print_help(stdout, NULL);
			return 1;
		case OPT_VERSION:
			*version = 1;
			break;
		case ':':
			return vmctl_usage_error(NULL, "option '%s' needs a value",
						 argv[optind - 1]);
		case '?':
			if (optopt)
				return vmctl_usage_error(NULL, "unknown option '-%c'", optopt);
			return vmctl_usage_error(NULL, "unknown option '%s'", argv[optind - 1]);
		default:
			if ((rc = vmctl_global_opt(NULL, opt, optarg)))
				return rc;
		}
	}
	if (!g->sock)
		g->sock = vmsup_client_socket(NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct vmctl g = {0};
	int rc, version = 0;
	size_t i;

	if ((rc = global_opts(argc, argv, &g, &version)))
		return rc == 1 ? 0 : rc;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return vmctl_fail("vmctl", "cannot initialise libcurl");
	if (version) {
		char *v[] = {"version", NULL};

		rc = vmctl_cmd_version(&g, 1, v);
		goto out;
	}
	if (optind >= argc) {
		rc = vmctl_usage_error(NULL, "missing COMMAND");
		goto out;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, argv[optind]) == 0)
			break;
	if (i == sizeof(cmds) / sizeof(cmds[0])) {
		rc = vmctl_usage_error(NULL, "unknown command '%s'", argv[optind]);
		goto out;
	}
	rc = cmds[i].fn(&g, argc - optind, argv + optind);
out:
	if (fflush(stdout) != 0 && !rc)
		rc = vmctl_fail("vmctl", "writing output failed");
	curl_global_cleanup();
	return rc;
}
