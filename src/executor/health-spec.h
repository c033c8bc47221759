/*
 * TaskInfo.health_check (Mesos v1 HealthCheck): what every probe has (type,
 * timings, the script; probe-spec.h) and what only a health check has, the
 * grace period and the failures that ask for the kill.
 */
#ifndef VMEXEC_HEALTH_SPEC_H
#define VMEXEC_HEALTH_SPEC_H

#include <json-c/json.h>

#include "src/executor/probe-spec.h"

/* HealthCheck field defaults (mesos.proto). */
#define HEALTH_DEFAULT_FAILURES 3
#define HEALTH_DEFAULT_GRACE_S	10.0

struct health_spec {
	struct probe_spec p;
	double grace_s;
	unsigned consecutive_failures;
};

/* info's health_check into *h: 1 parsed, 0 the task has none, -1 with *err
 * (invalid: the task is refused). */
int health_spec_parse(struct json_object *info, const char *sandbox, struct health_spec *h,
		      char **err);
void health_spec_clear(struct health_spec *h);

#endif
