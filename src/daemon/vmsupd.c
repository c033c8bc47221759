/* vmsupd: the VM supervisor daemon. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "src/qemu/config.h"
#include "src/daemon/daemon.h"
#include "src/util/log.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vmsupd [OPTIONS]\n"
		"Run the VM supervisor: one qemu per VM, an HTTP API on a unix socket.\n\n"
		"  -c, --config FILE     configuration file (default " SYSCONFDIR
		"/vmsupd.conf if it exists)\n"
		"      --socket PATH     API socket (overrides 'socket')\n"
		"      --state-dir DIR   per-VM state files (overrides 'state_dir')\n"
		"      --run-dir DIR     per-VM sockets and logs (overrides 'run_dir')\n"
		"  -f, --foreground      stay in the foreground (the default; logs go to stderr)\n"
		"  -v, --verbose         log debug messages\n"
		"  -q, --quiet           log errors only\n"
		"  -h, --help            this text\n\n"
		"On SIGTERM/SIGINT it exits at once and leaves every VM running for the next\n"
		"vmsupd, which reattaches them (on_exit = keep, the default); with\n"
		"on_exit = stop it first stops every VM (bounded by stop_grace_s).\n"
		"One vmsupd per state and run directory (a lock file in each).\n");
}

/*
 * vmsupd holds a few descriptors per VM (QMP, ops and agent sockets, the
 * ops relay) and the API's connections: a service manager's soft limit of
 * 1024 runs out near 250 VMs. The loop is epoll (no select() and its
 * FD_SETSIZE), so the soft limit goes up to the hard one, as systemd
 * advises (systemd.exec(5), LimitNOFILE=); capped, as a huge hard limit
 * would only size tables nobody uses.
 */
#define NOFILE_WANT 65536

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= NOFILE_WANT)
		return;
	rl.rlim_cur = rl.rlim_max < NOFILE_WANT ? rl.rlim_max : NOFILE_WANT;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"socket", required_argument, NULL, 'S'},
	    {"state-dir", required_argument, NULL, 'D'},
	    {"run-dir", required_argument, NULL, 'R'},
	    {"foreground", no_argument, NULL, 'f'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct vmsup_config cfg;
	const char *file = NULL, *sock = NULL, *state = NULL, *run = NULL;
	int verbose = 0, quiet = 0, c, ret = 1;
	char *err = NULL;

	while ((c = getopt_long(argc, argv, "c:fvqh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			file = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'D':
			state = optarg;
			break;
		case 'R':
			run = optarg;
			break;
		case 'f':
			break;
		case 'v':
			verbose = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmsupd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (vmsup_config_init(&cfg, &err)) {
		fprintf(stderr, "vmsupd: %s\n", err);
		free(err);
		return 1;
	}
	if (!file && access(SYSCONFDIR "/vmsupd.conf", F_OK) == 0)
		file = SYSCONFDIR "/vmsupd.conf";
	if ((file && vmsup_config_load(&cfg, file, &err)) ||
	    (sock && vmsup_config_set(&cfg, "socket", sock, &err)) ||
	    (state && vmsup_config_set(&cfg, "state_dir", state, &err)) ||
	    (run && vmsup_config_set(&cfg, "run_dir", run, &err)) ||
	    vmsup_config_finish(&cfg, &err)) {
		fprintf(stderr, "vmsupd: %s\n", err ? err : "bad configuration");
		goto out;
	}
	if (verbose)
		cfg.log_level = VMSUP_LOG_DEBUG;
	if (quiet)
		cfg.log_level = VMSUP_LOG_ERROR;
	raise_nofile(); /* before max_connections = 0 is sized from it */
	if (vmsup_serve(&cfg, -1, &err)) {
		fprintf(stderr, "vmsupd: %s\n", err ? err : "failed");
		goto out;
	}
	ret = 0;
out:
	free(err);
	vmsup_config_release(&cfg);
	return ret;
}
