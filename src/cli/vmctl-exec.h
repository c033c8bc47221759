/* vmctl: running a command in a guest, over ssh or through the agent. */
#ifndef VMCTL_EXEC_H
#define VMCTL_EXEC_H

#include "src/cli/vmctl.h"

#include <stddef.h>

/* How long exec --via ssh waits for sshd to answer (a systemd guest's
 * ssh.service comes seconds after its agent and address). */
#define VMCTL_SSH_WAIT_S 120

enum vmctl_via { VMCTL_VIA_DEFAULT, VMCTL_VIA_SSH, VMCTL_VIA_AGENT };

struct vmctl_ssh_opts {
	const char *key;	 /* NULL: $VMSUP_SSH_KEY, the VM's ssh_key, the default */
	const char *known_hosts; /* NULL: the VM's known_hosts, else ~/.cache/vmctl/ */
	int probe_err;		 /* >= 0: a probe: stdin, stdout /dev/null, stderr here,
				    and no message of ours on failure */
	int tty;		 /* exec -t: a pty in the guest (ssh -tt) */
};

/* "ssh" / "agent" → enum; -1 for anything else. */
int vmctl_via_parse(const char *s);

/*
 * Runs the remote command string over ssh to vm (its status object) and
 * waits. Returns 0 with *status (128+N for a signal; 255 = ssh failure,
 * already reported) or an exit status after printing the error.
 */
int vmctl_exec_ssh(const char *name, struct json_object *vm, const struct vmctl_ssh_opts *o,
		   const char *remote, int *status);

/*
 * Wait (at most wait_s) for sshd's banner on the VM's forwarded port.
 * 0 once it answers; -2 when the VM died, -1 at the deadline, with why
 * filled either way.
 */
int vmctl_ssh_wait_banner(const struct vmctl *g, const char *name, const char *host, long port,
			  double wait_s, char *why, size_t size);

/* Where ssh goes for the VM of status vm: 127.0.0.1 (user mode, the
 * forwarded port), the guest's own address (mode bridge), NULL when a
 * bridge VM has no address yet. */
const char *vmctl_ssh_host(struct json_object *vm);

/* guest-exec through the API; output to our stdout/stderr. in_fd >= 0:
 * all of it (at most VMSUP_EXEC_INPUT_MAX bytes) is the command's stdin.
 * Same returns. */
int vmctl_exec_agent(const struct vmctl *g, const char *name, char *const *argv, size_t argc,
		     int in_fd, int *status);

#endif
