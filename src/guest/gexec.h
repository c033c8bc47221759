/*
 * Running a command in the guest through QGA: guest-exec, then
 * guest-exec-status until the process exited. Its output comes either in
 * the last status reply (capture-output: qemu-ga keeps at most 16 MiB a
 * stream and sends it in one message) or, when the request sets
 * output_max, through two files in a private directory of the guest, read
 * a chunk at a time (memory O(chunk), any size) and removed afterwards.
 */
#ifndef VMSUP_GEXEC_H
#define VMSUP_GEXEC_H

#include <stddef.h>
#include <stdint.h>
#include <event2/event.h>
#include <json-c/json.h>
#include "qmp/qmp.h"

/* Bytes asked of one guest-file-read: its reply is ~4/3 of this as base64. */
#define GEXEC_CHUNK (1u << 20)

/* A piece of the output: stream 1 stdout, 2 stderr; in order, each byte once. */
typedef void (*gexec_chunk_fn)(int stream, const unsigned char *p, size_t n, void *arg);

struct gexec_request {
	const char *const *argv; /* argv[0] is looked up in the guest's PATH */
	const char *const *env;	 /* "K=V" strings, NULL-terminated; NULL = agent's */
	const void *input;	 /* stdin bytes, may be NULL */
	size_t input_len;
	unsigned timeout_ms;	  /* until exited; 0 = no limit */
	unsigned call_timeout_ms; /* per QGA command; 0 = the session default */
	/*
	 * 0: capture-output. Else the output goes through files: the first
	 * output_max bytes of each stream are handed to chunk (with done's
	 * arg) before done, whose result then has out/err NULL, the lengths
	 * handed over and *_truncated set when the guest wrote more.
	 */
	size_t output_max;
	gexec_chunk_fn chunk;
};

struct gexec_result {
	int64_t pid;		  /* in the guest */
	int exitcode;		  /* -1 if killed by a signal */
	int signal;		  /* 0 if it exited */
	int status;		  /* exitcode, or 128 + signal, as a shell reports it */
	unsigned char *out, *err; /* decoded, NUL-terminated; owned by the result of
				     gexec_parse_status, borrowed in done (decoded in
				     place in the agent's reply) */
	size_t out_len, err_len;
	int out_truncated, err_truncated;
};

/* How gexec sends a QGA command (the agent's queued call). */
typedef int64_t (*gexec_call_fn)(void *ctx, const char *cmd, struct json_object *args,
				 unsigned timeout_ms, qmp_reply_fn fn, void *arg,
				 struct qmp_error *err);

/* Called once: res (borrowed, valid during the call) or err. */
typedef void (*gexec_done_fn)(const struct gexec_result *res, const struct qmp_error *err,
			      void *arg);

struct gexec;

/*
 * Start; done is called later, never from inside gexec_start. Returns NULL
 * with err on invalid input (empty argv) or when the first command could not
 * be queued.
 */
struct gexec *gexec_start(struct event_base *base, gexec_call_fn call, void *ctx,
			  const struct gexec_request *req, gexec_done_fn done, void *arg,
			  struct qmp_error *err);

/* Called once when g sends nothing more (after done, or at an abort). */
typedef void (*gexec_end_fn)(void *arg);
void gexec_on_end(struct gexec *g, gexec_end_fn end, void *arg);

/* End it now: done is called with why; the handle is gone afterwards. */
void gexec_abort(struct gexec *g, const struct qmp_error *why);

/*
 * The caller has lost interest (its client left): done is called with why
 * now, but g goes on removing its files in the guest before it ends.
 */
void gexec_drop(struct gexec *g, const struct qmp_error *why);

/* Build the result from a guest-exec-status reply with "exited": true. */
int gexec_parse_status(struct json_object *st, struct gexec_result *res, struct qmp_error *err);
void gexec_result_clear(struct gexec_result *res);

#endif
