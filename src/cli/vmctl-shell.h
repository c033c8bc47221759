/*
 * vmctl: quoting for a remote POSIX shell, the ssh command line, and
 * running a child with the exit-status conventions of exec/run.
 */
#ifndef VMCTL_SHELL_H
#define VMCTL_SHELL_H

#include <stddef.h>

/* s as one POSIX-shell word: '...' with ' written as '\''. malloc'd. */
char *vmctl_shell_quote(const char *s);
/* argv[0..n) as one command line of quoted words joined by spaces. */
char *vmctl_shell_join(char *const *argv, size_t n);

struct vmctl_ssh {
	const char *key;	 /* -i */
	const char *known_hosts; /* UserKnownHostsFile */
	const char *host_alias;	 /* HostKeyAlias: pins the key per VM, not per port */
	const char *user;
	const char *host; /* the guest's address (bridge); NULL: 127.0.0.1 */
	long port;
	const char *remote; /* the one remote command string */
	int tty;	    /* -tt (a pty even when our stdin is not one), else -T */
};
/* NULL-terminated argv for /usr/bin/ssh (array malloc'd, strings borrowed
 * or owned by the array's tail: free with vmctl_ssh_argv_free). */
char **vmctl_ssh_argv(const struct vmctl_ssh *s);
void vmctl_ssh_argv_free(char **argv);

#include <signal.h>

/* First SIGINT/SIGTERM/SIGHUP received once vmctl_catch_signals ran. */
extern volatile sig_atomic_t vmctl_signal;
/* Record those signals (no SA_RESTART: blocking calls see EINTR) and
 * forward them to the child of vmctl_spawn_wait while it runs. */
void vmctl_catch_signals(void);

/*
 * Fork and execv argv[0] (stdio inherited). Returns the exit status as a
 * shell reports it (128+N for signal N), or -1 with errno (exec failure in
 * the child is 127).
 */
int vmctl_spawn_wait(char *const *argv);
/* The same with stdin, stdout, stderr from these fds (-1: inherited). */
int vmctl_spawn_wait_io(char *const *argv, int in, int out, int err);

#endif
