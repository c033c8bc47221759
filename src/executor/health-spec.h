/*
 * TaskInfo.health_check (Mesos v1 HealthCheck) parsed and validated as
 * Mesos's validation::healthCheck does, and rendered as the /bin/sh script
 * that performs one check inside the task's VM: COMMAND runs the command;
 * HTTP and TCP probe 127.0.0.1 from inside the guest, which is where Mesos's
 * checker probes too (it enters the task's network namespace).
 */
#ifndef VMEXEC_HEALTH_SPEC_H
#define VMEXEC_HEALTH_SPEC_H

#include <json-c/json.h>

/* HealthCheck field defaults (mesos.proto). */
#define HEALTH_DEFAULT_DELAY_S	  15.0
#define HEALTH_DEFAULT_INTERVAL_S 10.0
#define HEALTH_DEFAULT_TIMEOUT_S  20.0
#define HEALTH_DEFAULT_FAILURES	  3
#define HEALTH_DEFAULT_GRACE_S	  10.0

struct health_spec {
	const char *type;				/* "COMMAND", "HTTP" or "TCP" (static) */
	double delay_s, interval_s, timeout_s, grace_s; /* timeout 0: none */
	unsigned consecutive_failures;
	char *script; /* the check as /bin/sh code, run from the sandbox */
};

/* info's health_check into *h: 1 parsed, 0 the task has none, -1 with *err
 * (invalid: the task is refused). */
int health_spec_parse(struct json_object *info, const char *sandbox, struct health_spec *h,
		      char **err);
void health_spec_clear(struct health_spec *h);

#endif
