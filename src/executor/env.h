/*
 * The executor's configuration, read from the environment the Mesos agent
 * gives it (MESOS_*) plus VMSUP_SOCKET / VMEXEC_VMCTL for our own parts.
 */
#ifndef VMEXEC_ENV_H
#define VMEXEC_ENV_H

#include <stdbool.h>
#include <stdint.h>

struct exec_env {
	char *agent_host; /* from MESOS_AGENT_ENDPOINT ip:port */
	uint16_t agent_port;
	char *framework_id;
	char *executor_id;
	char *directory; /* sandbox on the host */
	char *sandbox;	 /* sandbox as the task sees it (shared at this path) */
	bool checkpoint;
	int64_t shutdown_grace_ns;
	int64_t recovery_timeout_ns;
	int64_t backoff_max_ns;
	char *auth_token;   /* MESOS_EXECUTOR_AUTHENTICATION_TOKEN, NULL if unset */
	char *vmsup_socket; /* NULL = client default */
	char *vmctl;	    /* vmctl binary used to run commands in the guest */
	int ip_wait_s;	    /* VMEXEC_IP_WAIT: how long to wait for the guest address */
	bool pool;	    /* VMEXEC_POOL=1: take VMs from vmsupd's warm pool */
};

/* Durations in Mesos units (ns us ms secs mins hrs days weeks, decimals
 * allowed): 0 with *ns, or -1 with *err. */
int env_parse_duration(const char *s, int64_t *ns, char **err);

/* MESOS_AGENT_ENDPOINT's ip:port split: 0 with *host (malloc'd) and *port,
 * or -1 with *err (not malloc'd host: out of memory). */
int env_split_endpoint(const char *ep, char **host, uint16_t *port, char **err);

/* Fill e from getenv. 0, or -1 with *err naming the bad variable. */
int env_load(struct exec_env *e, char **err);
void env_free(struct exec_env *e);

#endif
