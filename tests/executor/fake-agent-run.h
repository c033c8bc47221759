/* Runs tests/fakes/fake-mesos-agent.py with one scenario against the built
 * executor and returns its JSON report. */
#ifndef TEST_FAKE_AGENT_RUN_H
#define TEST_FAKE_AGENT_RUN_H

#include <json-c/json.h>

/* A fresh 0700 sandbox directory (malloc'd path). */
char *fa_sandbox(void);
/* Remove it and everything in it. */
void fa_rmrf(const char *dir);

/* args: extra fake-agent arguments, NULL-terminated. The report, or NULL
 * (then the test fails with the agent's output). */
struct json_object *fa_run(const char *sandbox, const char *const *args);

/* "TASK_STARTING,TASK_RUNNING,..." for task_id (malloc'd). */
char *fa_states(struct json_object *report, const char *task_id);
/* The first update of task_id in state, or NULL. */
struct json_object *fa_update(struct json_object *report, const char *task_id, const char *state);
/* report.key as int / double / string. */
int fa_int(struct json_object *o, const char *key);
double fa_double(struct json_object *o, const char *key);
const char *fa_str(struct json_object *o, const char *key);
/* Number of violations; each is printed. */
int fa_violations(struct json_object *report);
/* Contents of a file (malloc'd) or NULL. */
char *fa_slurp(const char *path);

#endif
