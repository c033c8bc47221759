/*
 * The test guest of tests/lib/guest-harness.h driven the way vmsupd drives a VM: an
 * asynchronous QMP session on the caller's event_base, connected while
 * the vCPUs are still stopped (-S) so that no event is missed, feeding a
 * src/guest/agent.h agent. For the agent and snapshot tests and their
 * benchmarks. Every qemu is reaped by th_guest_stop, or at exit.
 */
#ifndef TESTS_HARNESS_AGENT_H
#define TESTS_HARNESS_AGENT_H

#include <event2/event.h>

#include "src/guest/agent.h"
#include "tests/lib/guest-harness.h"

struct th_guest {
	struct th_vm vm;
	struct event_base *base;
	struct qmp_session *qmp;
	struct agent *agent;
	int stay_paused;		      /* opts.paused or opts.incoming: no `cont` */
	int qmp_done, qmp_ready;	      /* handshake finished / succeeded */
	int port_open, agent_ready;	      /* VSERPORT_CHANGE open seen / agent ready */
	double t_spawn, t_port_open, t_agent; /* th_now_ms() */
};

/* Run base until *flag is set or ms passed; returns *flag. */
int th_run_until(struct event_base *base, int *flag, unsigned ms);

/*
 * th_prepare with -S always (the vCPUs start on th_guest_start's `cont`
 * unless o->paused or o->incoming). g->vm.argv can be checked before the
 * start. 0 or -1 (message on stderr); th_guest_stop is safe either way.
 */
int th_guest_prepare(struct th_guest *g, const struct th_opts *o);

/*
 * Start qemu, connect QMP (waits for the handshake), make the agent with
 * cfg (NULL: port TH_AGENT_PORT_ID, 30 s per command; a NULL port_id is
 * TH_AGENT_PORT_ID) and the VM's MAC, then `cont`. 0 or -1 (message).
 */
int th_guest_start(struct th_guest *g, struct event_base *base, const struct agent_config *cfg);

/* th_guest_prepare + th_guest_start. */
int th_guest_boot(struct th_guest *g, struct event_base *base, const struct th_opts *o,
		  const struct agent_config *cfg);

/* Wait up to ms for the agent to be ready: 0 or -1. */
int th_guest_wait_agent(struct th_guest *g, unsigned ms);

/* guest-exec "/bin/sh -c cmd" through the agent; *out (may be NULL) is the
 * malloc'd stdout, *status the exit status. 0 if it ran, else -1. */
int th_guest_sh(struct th_guest *g, const char *cmd, char **out, int *status, unsigned ms);

/* Free the agent and the session, kill and reap qemu, remove its
 * directory. Idempotent; fine on a zeroed g. */
void th_guest_stop(struct th_guest *g);

#endif
