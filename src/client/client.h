/*
 * HTTP client for the vmsupd API on its unix socket (libcurl), shared by
 * vmctl, mesos-vm-executor, tests and benchmarks.
 */
#ifndef VMSUP_CLIENT_H
#define VMSUP_CLIENT_H

#include <signal.h>
#include <json-c/json.h>

/* Socket to use: explicit, else $VMSUP_SOCKET, else the built-in default. */
const char *vmsup_client_socket(const char *explicit_path);

/*
 * One request. body (may be NULL) is borrowed. On a reply of any status,
 * returns 0 with *status set and *reply a new JSON value (NULL for an empty
 * body). Returns -1 with *err (malloc'd) when no reply came (daemon not
 * reachable, timeout, reply not JSON). timeout_ms 0 = no timeout.
 */
int vmsup_request(const char *sock, const char *method, const char *path,
		  struct json_object *body, long timeout_ms, long *status,
		  struct json_object **reply, char **err);

/* From an error reply {"error":{"class","desc"}}: the desc, or a fallback. */
const char *vmsup_error_desc(struct json_object *reply, long status);

/*
 * Streaming GET (the event stream): fn is called with each line (one JSON
 * value) as it arrives; a non-zero return from fn ends the stream.
 * Returns 0 when the stream ended normally or fn stopped it, -1 with *err.
 */
typedef int (*vmsup_line_fn)(const char *line, void *arg);
int vmsup_stream(const char *sock, const char *path, vmsup_line_fn fn, void *arg, char **err);

/*
 * A flag a signal handler sets: while it is non-zero, requests in progress
 * give up at once (so SIGTERM can cut short a blocking create or IP wait).
 * NULL turns it off.
 */
void vmsup_client_set_abort_flag(volatile sig_atomic_t *flag);

#endif
