/*
 * Helpers for the agent tests against a real vmsupd (tests/lib/daemon-harness.h)
 * and the test guest under TCG.
 */
#ifndef TESTS_VMSUPD_AGENT_GTEST_H
#define TESTS_VMSUPD_AGENT_GTEST_H

#include <stddef.h>

#include "tests/lib/daemon-harness.h"

/* Generous: 2 cores shared by many TCG guests. */
#define GT_BOOT_S 150

/* Create and start VM name from the test guest; skips the test without one. */
void gt_create(struct tdaemon *d, const char *name);
/* The same with more spec fields: extra is `"key":value,...` (NULL: none). */
void gt_create_with(struct tdaemon *d, const char *name, const char *extra);

/* A guest-less VM with this "net" value: the reply, *st set. */
struct json_object *gt_create_bare(struct tdaemon *d, const char *name, const char *net, long *st);

/* GET ip?wait=GT_BOOT_S: the reply (asserted 200). */
struct json_object *gt_wait_ip(struct tdaemon *d, const char *name);

struct gt_exec {
	long http;
	int status;   /* "status", -1 if absent */
	int exitcode; /* -1 if null */
	int signal;   /* 0 if null */
	unsigned char *out, *err;
	size_t out_len, err_len;
	struct json_object *reply;
};

/* POST exec with a JSON body; decodes the output. */
void gt_exec_raw(struct tdaemon *d, const char *name, const char *body, struct gt_exec *r);
/* argv (NULL-terminated) with optional stdin. */
void gt_exec(struct tdaemon *d, const char *name, const char *const *argv, const void *in,
	     size_t in_len, struct gt_exec *r);
void gt_exec_free(struct gt_exec *r);
/* sh -c script in VM name (exec asserted 200): its exit code; its stdout
 * into out unless NULL. */
int gt_sh(struct tdaemon *d, const char *name, const char *script, char *out, size_t n);

/* A raw HTTP request on its own connection, reply not read (held requests). */
int gt_raw_request(struct tdaemon *d, const char *method, const char *path);
/* The HTTP status of the reply on fd, or -1 if none came within timeout_ms. */
int gt_reply_status(int fd, int timeout_ms);
/* The same for a POST with a JSON body. */
int gt_raw_post(struct tdaemon *d, const char *path, const char *body);

#endif
