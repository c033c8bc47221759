/*
 * Helpers for the tests of vmsupd as a host service (autostart, shutdown
 * --all): the real vmctl against the harness's daemon, SIGTERM timing.
 */
#ifndef TESTS_DAEMON_SERVICE_UTIL_H
#define TESTS_DAEMON_SERVICE_UTIL_H

#include <stdbool.h>

#include <json-c/json.h>

#include "tests/lib/daemon-harness.h"
#include "tests/lib/vmctl-run.h"

/* SIGTERM the daemon and reap it (asserted exit 0); seconds it took. */
double sv_sigterm(struct tdaemon *d);

/* A boolean field of a reply; -1 if absent or not a boolean. */
int sv_bool(struct json_object *o, const char *key);

#endif
