/*
 * Private to vmctl run: its state (struct run) and the steps that live
 * outside vmctl-run.c: waiting on the guest (vmctl-run-guest.c) and taking
 * a VM from the warm pool (vmctl-run-pool.c).
 */
#ifndef VMSUP_VMCTL_RUN_INTERNAL_H
#define VMSUP_VMCTL_RUN_INTERNAL_H

#include <stddef.h>
#include "src/cli/vmctl-inproc.h"
#include "src/cli/vmctl.h"

struct run {
	struct vmctl g; /* the caller's, with sock possibly the private one */
	struct json_object *spec;
	const char *workdir, *key, *name;
	char **env;
	size_t nenv;
	int via;
	long timeout_s;
	int pool;	/* --pool: take a VM from the daemon's warm pool */
	int pool_hit;	/* ... and got a paused one, its sshd long up */
	int death_told; /* the VM's death is reported */
	int progress;
	double t0, wall0;
	double deadline; /* for the guest to become usable */
	struct {	 /* phase ends (monotonic); 0 = not reached */
		double supervisor, created, ip, banner, sshd, task_start, task_end, destroyed;
	} t;
	struct vmctl_inproc inproc; /* pid 0: a daemon serves us */
	int inproc_used;
};

/* Monotonic seconds. */
double vmctl_run_now(void);
/* One progress line on stderr (when r->progress): seconds since start, what, arg. */
void vmctl_run_progress(struct run *r, const char *what, const char *arg);

/* vmctl-run-guest.c */
/* Until the guest's sshd answers its banner on the forwarded port (or the deadline). */
int vmctl_run_wait_ssh_banner(struct run *r, const char *name, const char *host, long port,
			      double deadline);
/*
 * GET /v1/vms/NAME into *vm, for ssh: its port, key, known_hosts and, on a
 * bridge, the IPv4 address to reach the guest on. The agent can be ready
 * before the guest's DHCP lease (a systemd guest starts qemu-ga before
 * networkd has one; the ip wait then answers with a null address, and
 * the status keeps it): the agent is asked again (GET .../ip) until there
 * is one, the deadline or the VM's death. In user mode
 * ssh goes to the forward on 127.0.0.1, so the first answer does.
 * 0 (*vm set), or an exit status after printing.
 */
int vmctl_run_ssh_status(struct run *r, const char *name, double deadline, struct json_object **vm);
/* A session that logs in and runs `true` before the task's; retried until the deadline. */
int vmctl_run_ssh_ready(struct run *r, const char *name, struct json_object *vm, const char *dir,
			const char *kh);
/*
 * The guest's address through the agent. A daemon without the agent
 * (503 AgentNotReady or 501 at once, not after the wait) still lets ssh
 * proceed on the forwarded port: NO_AGENT = go on without an address.
 * Else 0, or an exit status after printing.
 */
#define NO_AGENT (-2)
int vmctl_run_wait_ip(struct run *r, const char *name, double deadline, struct json_object **ipr);

/* vmctl-run-pool.c: --pool, a VM from the daemon's warm pool. */
int vmctl_run_take_from_pool(struct run *r, char *name, size_t len, struct json_object **vm,
			     long *http);

#endif
