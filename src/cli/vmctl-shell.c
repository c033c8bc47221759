/* vmctl: remote-shell quoting, the ssh argv, and child processes. */
#include "config.h"

#include "src/cli/vmctl-shell.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

volatile sig_atomic_t vmctl_signal;
static volatile pid_t child;

char *vmctl_shell_quote(const char *s)
{
	size_t n = 2, i;
	char *q, *p;

	for (i = 0; s[i]; i++)
		n += s[i] == '\'' ? 4 : 1;
	q = malloc(n + 1);
	if (!q)
		return NULL;
	p = q;
	*p++ = '\'';
	for (i = 0; s[i]; i++) {
		if (s[i] == '\'') {
			/* Close the quote, an escaped quote, reopen: the only
			 * character single quotes cannot hold. */
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = s[i];
		}
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

char *vmctl_shell_join(char *const *argv, size_t n)
{
	size_t i, len = 0, off = 0;
	char *out = NULL, **q = calloc(n ? n : 1, sizeof(*q));

	if (!q)
		return NULL;
	for (i = 0; i < n; i++) {
		q[i] = vmctl_shell_quote(argv[i]);
		if (!q[i])
			goto out;
		len += strlen(q[i]) + 1;
	}
	out = malloc(len + 1);
	if (!out)
		goto out;
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		size_t l = strlen(q[i]);

		if (i)
			out[off++] = ' ';
		memcpy(out + off, q[i], l + 1);
		off += l;
	}
out:
	for (i = 0; i < n; i++)
		free(q[i]);
	free(q);
	return out;
}

char **vmctl_ssh_argv(const struct vmctl_ssh *s)
{
	/* The owned strings (formatted options) sit after the NULL that ends
	 * argv, so one free walks them. */
	enum { OWNED = 5 };
	char **a = calloc(32 + OWNED + 1, sizeof(*a));
	char **own = a + 32;
	int n = 0, k = 0;

	if (!a)
		return NULL;
	if (asprintf(&own[k++], "%ld", s->port) < 0 ||
	    asprintf(&own[k++], "UserKnownHostsFile=%s", s->known_hosts) < 0 ||
	    asprintf(&own[k++], "HostKeyAlias=%s", s->host_alias) < 0 ||
	    asprintf(&own[k++], "%s@%s", s->user, s->host ? s->host : "127.0.0.1") < 0) {
		own[k - 1] = NULL;
		vmctl_ssh_argv_free(a);
		return NULL;
	}
	a[n++] = "/usr/bin/ssh";
	/* The user's ~/.ssh/config must not reroute or re-key this. */
	a[n++] = "-F";
	a[n++] = "none";
	if (s->key) {
		a[n++] = "-i";
		a[n++] = (char *)s->key;
		/* Only this key: an agent or ~/.ssh keys must not be tried first
		 * and use up the server's authentication attempts. */
		a[n++] = "-o";
		a[n++] = "IdentitiesOnly=yes";
	}
	a[n++] = "-p";
	a[n++] = own[0];
	a[n++] = "-o";
	a[n++] = "BatchMode=yes";
	a[n++] = "-o";
	a[n++] = "ConnectTimeout=10";
	a[n++] = "-o";
	a[n++] = own[1];
	a[n++] = "-o";
	a[n++] = own[2];
	/* Learn the host key at the first connection, refuse a changed one
	 * afterwards: never "no". */
	a[n++] = "-o";
	a[n++] = "StrictHostKeyChecking=accept-new";
	a[n++] = "-o";
	a[n++] = "LogLevel=ERROR";
	a[n++] = s->tty ? "-tt" : "-T";
	a[n++] = own[3];
	a[n++] = "--";
	a[n++] = (char *)s->remote;
	a[n] = NULL;
	return a;
}

void vmctl_ssh_argv_free(char **argv)
{
	int i;

	if (!argv)
		return;
	for (i = 32; argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static void on_signal(int sig)
{
	if (!vmctl_signal)
		vmctl_signal = sig;
	if (child > 0)
		kill(child, sig);
}

void vmctl_catch_signals(void)
{
	struct sigaction sa = {.sa_handler = on_signal};
	int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	size_t i;

	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

int vmctl_spawn_wait(char *const *argv)
{
	return vmctl_spawn_wait_io(argv, -1, -1, -1);
}

int vmctl_spawn_wait_io(char *const *argv, int in, int out, int err)
{
	int st;
	pid_t pid, r;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct sigaction dfl = {.sa_handler = SIG_DFL};

		sigemptyset(&dfl.sa_mask);
		sigaction(SIGINT, &dfl, NULL);
		sigaction(SIGTERM, &dfl, NULL);
		sigaction(SIGHUP, &dfl, NULL);
		if ((in >= 0 && dup2(in, STDIN_FILENO) < 0) ||
		    (out >= 0 && dup2(out, STDOUT_FILENO) < 0) ||
		    (err >= 0 && dup2(err, STDERR_FILENO) < 0))
			_exit(127);
		execv(argv[0], argv);
		fprintf(stderr, "vmctl: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	child = pid;
	/* A signal that came between fork and here was not forwarded. */
	if (vmctl_signal)
		kill(pid, vmctl_signal);
	do
		r = waitpid(pid, &st, 0);
	while (r < 0 && errno == EINTR);
	child = 0;
	if (r < 0)
		return -1;
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}
