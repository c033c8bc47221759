/*
 * What Mesos's health checks (TaskInfo.health_check, HealthCheck) and general
 * checks (TaskInfo.check, CheckInfo) have in common, parsed and validated as
 * Mesos's validation::healthCheck / checkInfo do: the type, the timings, and
 * the /bin/sh script that performs one probe inside the task's VM. COMMAND
 * runs the command; HTTP and TCP probe 127.0.0.1 from inside the guest, which
 * is where Mesos's checkers probe too (they enter the task's network
 * namespace).
 */
#ifndef VMEXEC_PROBE_SPEC_H
#define VMEXEC_PROBE_SPEC_H

#include <json-c/json.h>
#include <stdbool.h>

/* Field defaults, the same for HealthCheck and CheckInfo (mesos.proto). */
#define PROBE_DEFAULT_DELAY_S	 15.0
#define PROBE_DEFAULT_INTERVAL_S 10.0
#define PROBE_DEFAULT_TIMEOUT_S	 20.0

enum probe_kind {
	PROBE_HEALTH, /* HealthCheck: the script's exit status is the verdict */
	PROBE_CHECK,  /* CheckInfo: command.command; HTTP prints the status code */
	PROBE_KINDS
};

struct probe_spec {
	const char *type;		       /* "COMMAND", "HTTP" or "TCP" (static) */
	double delay_s, interval_s, timeout_s; /* timeout 0: none */
	char *script;			       /* the probe as /bin/sh code, run from the sandbox */
};

/* The object o, which is TaskInfo's field (named so in errors), into *s:
 * 0, or -1 with *err (invalid: the task is refused). */
int probe_spec_parse(struct json_object *o, const char *field, enum probe_kind kind,
		     const char *sandbox, struct probe_spec *s, char **err);
void probe_spec_clear(struct probe_spec *s);

/* o.key as non-negative seconds, def when absent; -1 with *err naming
 * field.key. */
int probe_spec_seconds(struct json_object *o, const char *field, const char *key, double def,
		       double *out, char **err);
/* o.key, or NULL. */
struct json_object *probe_spec_member(struct json_object *o, const char *key);

#endif
