/*
 * mesos-vm-executor --wrap (wrap.h). vmctl run already does the VM's whole
 * life (create, wait for ssh, run, stream the output, destroy on exit and on
 * SIGTERM/SIGINT, exit with the command's status): the wrapper only decides
 * the network, the shares and the environment, and passes signals on.
 */
#include "src/executor/wrap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/executor/env.h"
#include "src/executor/shquote.h"
#include "src/util/err.h"

extern char **environ;

/* QEMU user networking's alias for the host's loopback. */
#define USER_NET_HOST "10.0.2.2"
/* In the sandbox, read and removed by the guest before CMD starts. */
#define ENV_FILE ".vm-wrap-env"
/* Sources ENV_FILE ($1) exported, removes it, execs CMD. */
#define GUEST_SCRIPT "set -a; . \"$1\" || exit 127; set +a; rm -f \"$1\"; shift; exec \"$@\""

static volatile sig_atomic_t child_pid, pending_sig;

static void on_signal(int sig)
{
	if (child_pid > 0)
		kill(child_pid, sig);
	else
		pending_sig = sig;
}

#define wlog(fmt, ...) fprintf(stderr, "mesos-vm-executor --wrap: " fmt "\n", __VA_ARGS__)

static bool is_loopback(const char *host)
{
	struct in_addr a;
	if (!strcmp(host, "localhost") || !strcmp(host, "::1") || !strcmp(host, "[::1]"))
		return true;
	return inet_pton(AF_INET, host, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

char *wrap_guest_endpoint(const char *endpoint, const char *guest_host, char **err)
{
	char *host = NULL, *out = NULL;
	uint16_t port;

	if (env_split_endpoint(endpoint, &host, &port, err) < 0)
		return NULL;
	if (asprintf(&out, "%s:%u", is_loopback(host) ? guest_host : host, port) < 0)
		out = NULL;
	free(host);
	if (!out)
		vmsup_err(err, "out of memory");
	return out;
}

/* The IPv4 address of interface name (the agent's address on a bridge). */
static int iface_ipv4(const char *name, char *buf, size_t len, char **err)
{
	struct ifaddrs *ifs, *i;
	int rc = -1;

	if (getifaddrs(&ifs) < 0) {
		vmsup_err(err, "getifaddrs: %s", strerror(errno));
		return -1;
	}
	for (i = ifs; i && rc < 0; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, name) &&
		    inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, len))
			rc = 0;
	freeifaddrs(ifs);
	if (rc < 0)
		vmsup_err(err, "bridge %s has no IPv4 address for the guest to reach the agent on",
			  name);
	return rc;
}

/* The address the guest reaches the host's loopback services on, from the
 * --net option among opts; *egress: the VM needs --egress added. */
static int guest_host_of(char **opts, int nopts, char *buf, size_t len, bool *egress, char **err)
{
	const char *net = "user";

	*egress = true;
	for (int i = 0; i < nopts; i++) {
		if (!strcmp(opts[i], "--net") && i + 1 < nopts)
			net = opts[++i];
		else if (!strncmp(opts[i], "--net=", 6))
			net = opts[i] + 6;
		else if (!strcmp(opts[i], "--egress"))
			*egress = false; /* asked for already */
	}
	if (!strcmp(net, "user")) {
		snprintf(buf, len, "%s", USER_NET_HOST);
		return 0;
	}
	*egress = false;
	if (!strncmp(net, "bridge:", 7) && net[7])
		return iface_ipv4(net + 7, buf, len, err);
	return vmsup_err(err,
			 "--net %s: the executor in the guest must reach the agent (user, or "
			 "bridge:NAME so the agent's address on NAME is known)",
			 net);
}

/* ENV_FILE in dir: every MESOS_* variable (the endpoint rewritten) as
 * shell assignments, 0600: the authentication token stays off command lines. */
static char *write_env_file(const char *dir, const char *endpoint, char **err)
{
	char *path = NULL;
	FILE *f = NULL;
	int fd;

	if (asprintf(&path, "%s/%s", dir, ENV_FILE) < 0)
		return NULL;
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		vmsup_err(err, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		free(path);
		return NULL;
	}
	for (char **e = environ; *e; e++) {
		const char *eq = strchr(*e, '=');
		if (strncmp(*e, "MESOS_", 6) != 0 || !eq)
			continue;
		/* Names from the agent; anything not a shell name is not passed. */
		if (strspn(*e, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
		    (size_t)(eq - *e))
			continue;
		fprintf(f, "%.*s=", (int)(eq - *e), *e);
		sh_quote(f, strncmp(*e, "MESOS_AGENT_ENDPOINT=", 21) ? eq + 1 : endpoint);
		fputc('\n', f);
	}
	if (fclose(f) != 0) {
		vmsup_err(err, "%s: %s", path, strerror(errno));
		unlink(path);
		free(path);
		return NULL;
	}
	return path;
}

static int usage(const char *why)
{
	fprintf(stderr,
		"mesos-vm-executor --wrap: %s\n"
		"usage: mesos-vm-executor --wrap [vmctl run options] -- CMD [ARG...]\n",
		why);
	return 2;
}

int wrap_main(int argc, char **argv)
{
	const char *dir = getenv("MESOS_DIRECTORY"), *sb = getenv("MESOS_SANDBOX");
	const char *vmctl = getenv("VMEXEC_VMCTL"), *sock = getenv("VMSUP_SOCKET");
	char host[INET_ADDRSTRLEN + 16], *endpoint = NULL, *envfile = NULL, *err = NULL;
	const char **av = NULL;
	int dd = 1, n = 0, rc = 1, st;
	bool egress;
	pid_t pid;

	while (dd < argc && strcmp(argv[dd], "--"))
		dd++;
	if (dd >= argc - 1)
		return usage("no command: give it after --");
	if (!dir || dir[0] != '/')
		return usage("MESOS_DIRECTORY is not an absolute path (run me from a Mesos agent)");
	if (!sb || !*sb)
		sb = dir;
	if (sb[0] != '/')
		return usage("MESOS_SANDBOX is not an absolute path");
	if (guest_host_of(argv + 1, dd - 1, host, sizeof(host), &egress, &err) < 0 ||
	    !(endpoint = wrap_guest_endpoint(getenv("MESOS_AGENT_ENDPOINT"), host, &err)) ||
	    !(envfile = write_env_file(dir, endpoint, &err)) ||
	    !(av = calloc((size_t)argc + 24, sizeof(*av)))) {
		wlog("%s", err ? err : "out of memory");
		goto out;
	}
	av[n++] = vmctl && *vmctl ? vmctl : "vmctl";
	if (sock && *sock) {
		av[n++] = "--socket";
		av[n++] = sock;
	}
	av[n++] = "run";
	for (int i = 1; i < dd; i++)
		av[n++] = argv[i];
	if (egress)
		av[n++] = "--egress";
	av[n++] = "--share";
	av[n++] = dir;
	if (strcmp(sb, dir)) {
		av[n++] = "--share";
		av[n++] = sb;
	}
	av[n++] = "--workdir";
	av[n++] = sb;
	av[n++] = "--";
	av[n++] = "/bin/sh";
	av[n++] = "-c";
	av[n++] = GUEST_SCRIPT;
	av[n++] = "mesos-vm-wrap";
	av[n++] = envfile;
	for (int i = dd + 1; i < argc; i++)
		av[n++] = argv[i];
	av[n] = NULL;

	struct sigaction sa = {.sa_handler = on_signal};
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	wlog("running %s in a VM, agent at %s for the guest", argv[dd + 1], endpoint);
	if ((errno = posix_spawnp(&pid, av[0], NULL, NULL, (char *const *)av, environ))) {
		wlog("cannot run %s: %s", av[0], strerror(errno));
		goto out;
	}
	child_pid = pid;
	/* vmctl run stops the command and destroys the VM on these. */
	if (pending_sig)
		kill(pid, pending_sig);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			wlog("waitpid: %s", strerror(errno));
			goto out;
		}
	rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	wlog("%s exited with status %d", argv[dd + 1], rc);
out:
	/* The guest removes it before CMD runs; not if the VM never got there. */
	if (envfile)
		unlink(envfile);
	free(envfile);
	free(endpoint);
	free(av);
	free(err);
	return rc;
}
