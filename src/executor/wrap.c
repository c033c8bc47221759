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
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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

	if (!if_nametoindex(name))
		return vmsup_err(err, "--net bridge:%s: no interface %s on this host", name, name);
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

/* How the guest reaches the host, from the --net option among the vmctl run
 * options: host, the address a loopback endpoint becomes; bridge, the
 * bridge's name ("" in user mode); what to add to vmctl run's options. */
struct guest_net {
	char host[INET_ADDRSTRLEN + 16];
	const char *bridge;
	bool add_egress, add_net_user;
};

static int guest_net_of(char **opts, int nopts, struct guest_net *g, char **err)
{
	const char *net = NULL;

	g->bridge = "";
	g->add_egress = true;
	for (int i = 0; i < nopts; i++) {
		if (!strcmp(opts[i], "--net") && i + 1 < nopts)
			net = opts[++i];
		else if (!strncmp(opts[i], "--net=", 6))
			net = opts[i] + 6;
		else if (!strcmp(opts[i], "--egress"))
			g->add_egress = false; /* asked for already */
	}
	/* Said, not left to vmsupd.conf's net_mode: on a daemon whose default
	 * is a bridge the VM would be there while the endpoint says 10.0.2.2. */
	g->add_net_user = !net;
	if (!net || !strcmp(net, "user")) {
		snprintf(g->host, sizeof(g->host), "%s", USER_NET_HOST);
		return 0;
	}
	g->add_egress = false;
	if (!strncmp(net, "bridge:", 7) && net[7]) {
		g->bridge = net + 7;
		return iface_ipv4(g->bridge, g->host, sizeof(g->host), err);
	}
	return vmsup_err(err,
			 "--net %s: the executor in the guest must reach the agent (user, or "
			 "bridge:NAME so the agent's address on NAME is known)",
			 net);
}

/* A loopback endpoint rewritten to the bridge's address (guest): the agent
 * must listen there as well. One bound to 127.0.0.1 alone does not, and the
 * guest's executor would wait for it until the agent's registration
 * timeout: better said now, from the host, where the same address answers
 * at once (refused, or accepted and closed unused). */
static int agent_listens_on_bridge(const char *endpoint, const struct guest_net *g, char **err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct timeval tv = {.tv_sec = 5};
	char *host = NULL;
	uint16_t port;
	int fd, rc = 0;

	if (!*g->bridge)
		return 0;
	if (env_split_endpoint(endpoint, &host, &port, err) < 0)
		return -1;
	if (is_loopback(host) && inet_pton(AF_INET, g->host, &sa.sin_addr) == 1) {
		sa.sin_port = htons(port);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			rc =
			    vmsup_err(err,
				      "MESOS_AGENT_ENDPOINT %s is loopback: the guest on bridge %s "
				      "would reach the agent at %s:%u, where it does not listen "
				      "(%s); start the agent with --ip=0.0.0.0 or --ip=%s",
				      endpoint, g->bridge, g->host, port, strerror(errno), g->host);
		if (fd >= 0)
			close(fd);
	}
	free(host);
	return rc;
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
	char *endpoint = NULL, *envfile = NULL, *err = NULL;
	const char **av = NULL;
	struct guest_net g;
	int dd = 1, n = 0, rc = 1, st;
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
	if (guest_net_of(argv + 1, dd - 1, &g, &err) < 0 ||
	    !(endpoint = wrap_guest_endpoint(getenv("MESOS_AGENT_ENDPOINT"), g.host, &err)) ||
	    agent_listens_on_bridge(getenv("MESOS_AGENT_ENDPOINT"), &g, &err) < 0 ||
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
	if (g.add_net_user) {
		av[n++] = "--net";
		av[n++] = "user";
	}
	if (g.add_egress)
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
