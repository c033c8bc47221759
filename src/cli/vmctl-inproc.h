/*
 * vmctl: a private supervisor for `vmctl run` when no daemon is reachable.
 * The supervisor core (libvmsup, vmsup_serve) runs in a forked child on a
 * socket in a fresh 0700 directory, for the length of one command; stopping
 * it reaps every qemu it started and removes the directory.
 */
#ifndef VMCTL_INPROC_H
#define VMCTL_INPROC_H

#include <signal.h>
#include <sys/types.h>

/*
 * Whether a daemon listens on sock: 1 yes, 0 nobody there (no such
 * socket, refused: in-process mode applies), -1 with errno otherwise
 * (say, EACCES: a daemon we may not use, which is an error, not a reason
 * to bypass it).
 */
int vmctl_daemon_reachable(const char *sock);

struct vmctl_inproc {
	pid_t pid;	       /* the serving child, 0 when none */
	char *dir;	       /* private directory, NULL when none */
	char *sock;	       /* API socket inside dir */
	unsigned stop_grace_s; /* from the config: bounds the shutdown wait */
};

/*
 * Configuration: built-in defaults, then $VMSUP_CONFIG or SYSCONFDIR
 * /vmsupd.conf (when readable), with socket, state, run dir and ssh key
 * moved into the private directory. Returns once the socket listens: 0,
 * or an exit status after printing `vmctl: who: reason` (p is then
 * already cleaned up). Aborts early when *abort_flag becomes non-zero.
 */
int vmctl_inproc_start(struct vmctl_inproc *p, const char *who,
		       volatile const sig_atomic_t *abort_flag);

/*
 * SIGTERM to the child (it stops its VMs, bounded by stop_grace_s), wait,
 * SIGKILL after that bound; then any qemu still named by a pidfile under
 * the private run dir is killed, and the directory removed. Safe to call
 * on a zeroed or stopped struct.
 */
void vmctl_inproc_stop(struct vmctl_inproc *p);

#endif
