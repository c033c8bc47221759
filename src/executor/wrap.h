/*
 * mesos-vm-executor --wrap: a framework's own executor run inside one VM
 * (the agent starts the wrapper as the executor command). The VM comes from
 * `vmctl run` with egress, the sandbox shared at its own path, and the
 * agent's MESOS_* environment with MESOS_AGENT_ENDPOINT rewritten to an
 * address of the agent the guest reaches.
 */
#ifndef VMEXEC_WRAP_H
#define VMEXEC_WRAP_H

#include <stddef.h>

/*
 * MESOS_AGENT_ENDPOINT as the guest must use it: a loopback host (127.x,
 * localhost, ::1) becomes guest_host, any other address stays (the guest
 * reaches it through egress or the bridge's routing). malloc'd, or NULL
 * with *err for an endpoint that is not HOST:PORT.
 */
char *wrap_guest_endpoint(const char *endpoint, const char *guest_host, char **err);

/* argv after "--wrap": [vmctl run options...] -- CMD [ARG...]. The exit
 * status: CMD's (through vmctl run), 128+N after signal N, 2 for bad usage,
 * 1 when nothing could be started. */
int wrap_main(int argc, char **argv);

#endif
