/*
 * TaskInfo.check (Mesos v1 CheckInfo) parsed and validated as Mesos's
 * validation::checkInfo does; the probe itself is probe-spec.h's.
 */
#ifndef VMEXEC_CHECK_SPEC_H
#define VMEXEC_CHECK_SPEC_H

#include <json-c/json.h>

#include "src/executor/probe-spec.h"

/* info's check into *s: 1 parsed, 0 the task has none, -1 with *err
 * (invalid: the task is refused). */
int check_spec_parse(struct json_object *info, const char *sandbox, struct probe_spec *s,
		     char **err);

#endif
