/*
 * Helpers for the reattach / restart-policy tests on top of the vmsupd
 * harness (tests/lib/daemon-harness.h, whose td_kill9 and td_restart kill -9
 * and restart the very same daemon): guest-less VMs, crash timing from the
 * event stream.
 */
#ifndef TESTS_VMSUPD_REATTACH_UTIL_H
#define TESTS_VMSUPD_REATTACH_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "tests/lib/daemon-harness.h"

/* SIGKILL the daemon and reap it; its qemus stay. */
/* Start vmsupd again on d's dirs and config; waits until it serves. */

/* POST /v1/vms for a guest-less VM; extra: more JSON members or NULL.
 * Asserts the status, returns the VM's pid. */
pid_t rt_create(struct tdaemon *d, const char *name, const char *extra);
/* GET the VM (new object, asserted 200). */
struct json_object *rt_get(struct tdaemon *d, const char *name);
/* PUT /v1/vms/NAME/what with body: the reply (new object, asserted 200). */
struct json_object *rt_put(struct tdaemon *d, const char *name, const char *what, const char *body);
/* Poll GET until the state is want (and, if pid_not > 0, the pid differs). */
struct json_object *rt_wait_state(struct tdaemon *d, const char *name, const char *want,
				  pid_t pid_not, int timeout_ms);

/* SIGKILL pid and read the stream until VM name's "crashed" state event:
 * returns seconds from the kill to the daemon's event timestamp, or -1. */
double rt_kill_and_time_crash(int ev_fd, const char *name, pid_t pid, int timeout_ms);

/* GET /v1/health: whether it reports reason for VM vm (NULL: for any VM),
 * with status 503 "degraded"; with reason NULL, whether it is 200 "ok". */
bool rt_health_says(struct tdaemon *d, const char *reason, const char *vm);

double rt_wall(void);
double rt_median(double *v, int n);

#endif
