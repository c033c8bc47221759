/*
 * Private to gexec.c and gexec-files.c: the state of one exec and the
 * steps both use. The interface is gexec.h.
 */
#ifndef VMSUP_GEXEC_INTERNAL_H
#define VMSUP_GEXEC_INTERNAL_H

#include <sys/time.h>
#include "src/guest/gexec.h"

/* The first poll of a command (or of the guest's rm) after it started. */
#define POLL_FIRST_US 250

/* How long the guest's rm of the output directory may take. */
#define CLEAN_TIMEOUT_MS 30000

struct gexec {
	struct event_base *base;
	gexec_call_fn call;
	void *ctx;
	gexec_done_fn done;
	void *arg;
	unsigned call_timeout_ms;
	unsigned timeout_ms;
	struct timeval start;
	struct event *timer; /* next poll, or the deferred start error */
	unsigned poll_us;
	int64_t pid;
	int inflight; /* QGA commands whose replies are pending and point at us */
	int finished; /* done called */
	int over;     /* nothing more is sent; free when nothing points at us */
	gexec_end_fn end;
	void *end_arg;
	/* output through files (output_max > 0) */
	size_t output_max;
	gexec_chunk_fn chunk;
	char *cmd; /* argv[0], for "not found" */
	char dir[64];
	int spawned;	   /* the wrapper ran: DIR may exist */
	int cleaning;	   /* pid is rm's */
	int cur;	   /* the stream being read: 0 stdout, 1 stderr */
	int64_t handle[2]; /* the streams' guest-file handles, -1 if none */
	/* capture-output args of the same command, for when the wrapper
	 * could not make its files (sent at most once, then NULL) */
	struct json_object *fallback;
	int captured;  /* running as fallback: output in the status reply */
	size_t got[2]; /* bytes read of each stream (at most output_max + 1) */
	struct gexec_result res;
};

/* Send cmd; its reply goes to fn with g. 0, or -1 with err. */
int gexec_send(struct gexec *g, const char *cmd, struct json_object *args, qmp_reply_fn fn,
	       struct qmp_error *err);
/*
 * A reply to g came: 1 if the caller goes on with it. Else g is over (and
 * maybe freed), or done was called meanwhile (gexec_drop) and the cleanup
 * takes over instead of the step this reply was for.
 */
int gexec_reply_is_live(struct gexec *g);
/* Call done (once), then clean up and end. */
void gexec_finish(struct gexec *g, const struct gexec_result *res, const struct qmp_error *err);
/* Nothing more goes through ctx: tell the owner, free when no reply is due. */
void gexec_wind_up(struct gexec *g);
void gexec_release(struct gexec *g);
/* Send guest-exec with args (taken, also on failure); its reply starts the polls. */
int gexec_send_exec(struct gexec *g, struct json_object *args, struct qmp_error *err);
/* Ask guest-exec-status about g->pid now. */
void gexec_poll_now(evutil_socket_t fd, short what, void *arg);
int gexec_get_pid(struct gexec *g, struct json_object *ret);
long gexec_elapsed_ms(const struct gexec *g);

/* gexec-files.c: the output through files */
int gexec_files_name(struct gexec *g, struct qmp_error *err);
/* guest-exec's path, arg and capture-output for argv under the wrapper. */
void gexec_files_command(struct gexec *g, struct json_object *args, const char *const *argv);
/* The command exited (g->res has its status): read its output, then done. */
void gexec_files_read(struct gexec *g);
/* After done: remove the directory in the guest (output through files), then end. */
void gexec_files_cleanup(struct gexec *g);

#endif
