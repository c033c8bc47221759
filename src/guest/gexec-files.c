/*
 * An exec's output through files in the guest rather than qemu-ga's
 * capture-output (at most 16 MiB a stream, sent whole in one reply): the
 * command writes to two files in a private directory, read here a chunk
 * (GEXEC_CHUNK) at a time after it exited, then the directory is removed.
 */
#include "src/guest/gexec-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "src/util/b64.h"

/*
 * Run as /bin/sh -c WRAPPER vmsup-exec DIR ARGV...: the output goes to
 * DIR/out and DIR/err, DIR made 0700 by root (qemu-ga) so no other guest
 * user can read it or swap a file in it; the name is random, so it cannot
 * be made beforehand (mkdir fails on anything there). exec keeps the
 * command's pid, stdin, exit code and signal exactly. A command that
 * cannot be found leaves DIR/noexec, so that 127 stays qemu-ga's error
 * ("not found") rather than an exit status. Where DIR or its files cannot
 * be made (a read-only or full /tmp) the wrapper exits 125 before the
 * command runs and leaves no DIR/out, which the command's own 125 always
 * has: then the command is run once more with qemu-ga's capture.
 */
#define WRAPPER                                                                                    \
	"mkdir -m 700 -- \"$1\" 2>/dev/null || exit 125; d=$1; shift; "                            \
	"{ true >\"$d/out\" && true >\"$d/err\"; } 2>/dev/null || { rm -rf -- \"$d\"; exit 125; "  \
	"}; "                                                                                      \
	"case $1 in */*) [ -f \"$1\" ] && [ -x \"$1\" ];; *) command -v \"$1\" >/dev/null;; esac " \
	"|| { : >\"$d/noexec\"; exit 127; }; "                                                     \
	"exec \"$@\" >\"$d/out\" 2>\"$d/err\""

static void ignore_reply(struct qmp_session *s, struct json_object *ret,
			 const struct qmp_error *err, void *arg)
{
}

/* Close the guest files still open; their answers change nothing. */
static void close_handles(struct gexec *g)
{
	struct json_object *args;
	struct qmp_error e;

	for (int i = 0; i < 2; i++) {
		if (g->handle[i] < 0)
			continue;
		args = json_object_new_object();
		json_object_object_add(args, "handle", json_object_new_int64(g->handle[i]));
		g->handle[i] = -1;
		g->call(g->ctx, "guest-file-close", args, g->call_timeout_ms, ignore_reply, NULL,
			&e);
	}
}

/* "path" of one of DIR's files, as guest-file-open's args. */
static struct json_object *open_args(const struct gexec *g, const char *file)
{
	struct json_object *args = json_object_new_object();
	char path[96];

	snprintf(path, sizeof(path), "%s/%s", g->dir, file);
	json_object_object_add(args, "path", json_object_new_string(path));
	json_object_object_add(args, "mode", json_object_new_string("r"));
	return args;
}

/* Fail with what the guest said, saying which step it was. */
static void fail_step(struct gexec *g, const char *what, const struct qmp_error *err)
{
	struct qmp_error e;

	qmp_error_set(&e, err->cls, "%s in the guest: %s", what, err->desc);
	gexec_finish(g, NULL, &e);
}

static const char *const stream_file[2] = {"out", "err"};
static const char *const stream_name[2] = {"stdout", "stderr"};

static void open_stream(struct gexec *g);

/* Whether a live reply about the current stream succeeded (what names the step); else handled. */
static int stream_ok(struct gexec *g, const char *verb, const struct qmp_error *err, char *what,
		     size_t len)
{
	snprintf(what, len, "%s the command's %s", verb, stream_name[g->cur]);
	if (err) {
		fail_step(g, what, err);
		return 0;
	}
	return 1;
}

/* A reply about the current stream: 1 to go on with it, else handled. */
static int stream_reply(struct gexec *g, const char *verb, const struct qmp_error *err, char *what,
			size_t len)
{
	return gexec_reply_is_live(g) && stream_ok(g, verb, err, what, len);
}

static void read_more(struct gexec *g);

/*
 * One stream read (to its end or past output_max): on to the next, or done.
 * Its file is closed after done, with the cleanup: a round trip less
 * before the answer.
 */
static void stream_done(struct gexec *g)
{
	if (++g->cur < 2) {
		open_stream(g);
		return;
	}
	g->res.out_len = g->got[0] > g->output_max ? g->output_max : g->got[0];
	g->res.err_len = g->got[1] > g->output_max ? g->output_max : g->got[1];
	g->res.out_truncated = g->got[0] > g->output_max;
	g->res.err_truncated = g->got[1] > g->output_max;
	g->res.pid = g->pid;
	gexec_finish(g, &g->res, NULL);
}

static void on_read(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		    void *arg)
{
	struct gexec *g = arg;
	struct json_object *buf, *eof;
	unsigned char *p;
	size_t n, keep;
	struct qmp_error e;
	char what[64];

	if (!stream_reply(g, "reading", err, what, sizeof(what)))
		return;
	if (!json_object_object_get_ex(ret, "buf-b64", &buf) ||
	    !json_object_is_type(buf, json_type_string) ||
	    !json_object_object_get_ex(ret, "eof", &eof)) {
		qmp_error_set(&e, QMP_ERR_PROTOCOL, "%s: guest-file-read gave no buf-b64/eof",
			      what);
		gexec_finish(g, NULL, &e);
		return;
	}
	p = b64_decode(json_object_get_string(buf), (size_t)json_object_get_string_len(buf), &n);
	if (!p) {
		qmp_error_set(&e, QMP_ERR_PROTOCOL, "%s: buf-b64 is not base64", what);
		gexec_finish(g, NULL, &e);
		return;
	}
	/* what is past output_max only says that there was more */
	keep = g->got[g->cur] >= g->output_max ? 0 : g->output_max - g->got[g->cur];
	if (keep > n)
		keep = n;
	if (keep)
		g->chunk(g->cur + 1, p, keep, g->arg);
	free(p);
	g->got[g->cur] += n;
	if (g->got[g->cur] > g->output_max || json_object_get_boolean(eof) || !n)
		stream_done(g);
	else
		read_more(g);
}

static void read_more(struct gexec *g)
{
	struct json_object *args = json_object_new_object();
	size_t want = g->output_max + 1 - g->got[g->cur];
	struct qmp_error e;

	/* one byte past output_max tells whether the guest wrote more */
	if (want > GEXEC_CHUNK)
		want = GEXEC_CHUNK;
	json_object_object_add(args, "handle", json_object_new_int64(g->handle[g->cur]));
	json_object_object_add(args, "count", json_object_new_int64((int64_t)want));
	if (gexec_send(g, "guest-file-read", args, on_read, &e) < 0)
		gexec_finish(g, NULL, &e);
}

/*
 * The wrapper's 125 with no stdout file: it made nothing and ran nothing,
 * so the command runs now with qemu-ga's capture (output past its 16 MiB
 * cap is then lost, as before files existed). 1 if that took over.
 */
static int run_captured(struct gexec *g)
{
	struct json_object *args = g->fallback;
	struct qmp_error e;

	if (!args || g->cur || g->res.status != 125 || g->res.signal)
		return 0;
	g->fallback = NULL;
	g->captured = 1;
	g->spawned = 0; /* no DIR to remove */
	memset(&g->res, 0, sizeof(g->res));
	g->poll_us = POLL_FIRST_US;
	if (gexec_send_exec(g, args, &e) < 0)
		gexec_finish(g, NULL, &e);
	return 1;
}

static void on_opened(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct gexec *g = arg;
	struct qmp_error e;
	char what[64];

	if (!gexec_reply_is_live(g) || (err && run_captured(g)) ||
	    !stream_ok(g, "opening", err, what, sizeof(what)))
		return;
	if (!json_object_is_type(ret, json_type_int)) {
		qmp_error_set(&e, QMP_ERR_PROTOCOL, "%s: guest-file-open gave no handle", what);
		gexec_finish(g, NULL, &e);
		return;
	}
	g->handle[g->cur] = json_object_get_int64(ret);
	read_more(g);
}

static void open_stream(struct gexec *g)
{
	struct qmp_error e;

	if (gexec_send(g, "guest-file-open", open_args(g, stream_file[g->cur]), on_opened, &e) < 0)
		gexec_finish(g, NULL, &e);
}

/* Status 127: the wrapper's mark says whether the command was not found. */
static void on_noexec(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct gexec *g = arg;
	struct qmp_error e;

	if (!gexec_reply_is_live(g))
		return;
	if (err) { /* no mark: the command's own 127 */
		open_stream(g);
		return;
	}
	if (json_object_is_type(ret, json_type_int))
		g->handle[0] = json_object_get_int64(ret);
	/* as qemu-ga says it when it cannot spawn the command itself */
	qmp_error_set(&e, "GenericError", "Failed to execute child process \"%s\" (not found)",
		      g->cmd);
	gexec_finish(g, NULL, &e);
}

static void on_rm_started(struct qmp_session *s, struct json_object *ret,
			  const struct qmp_error *err, void *arg)
{
	struct gexec *g = arg;

	g->inflight--;
	if (g->over)
		gexec_release(g);
	else if (err || gexec_get_pid(g, ret) < 0)
		gexec_wind_up(g);
	else
		gexec_poll_now(-1, 0, g); /* qemu-ga keeps what it knows of rm until asked */
}

/*
 * After done: remove DIR in the guest (once no reply of the main steps is
 * due: reply_is_live comes back here), then end.
 */
void gexec_files_cleanup(struct gexec *g)
{
	struct json_object *args, *a;
	struct qmp_error e;

	if (g->over || g->cleaning)
		return;
	if (!g->output_max || !g->spawned) {
		gexec_wind_up(g);
		return;
	}
	if (g->inflight)
		return;
	g->cleaning = 1;
	close_handles(g);
	args = json_object_new_object();
	json_object_object_add(args, "path", json_object_new_string("/bin/rm"));
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("-rf"));
	json_object_array_add(a, json_object_new_string("--"));
	json_object_array_add(a, json_object_new_string(g->dir));
	json_object_object_add(args, "arg", a);
	event_base_gettimeofday_cached(g->base, &g->start);
	g->poll_us = POLL_FIRST_US;
	if (gexec_send(g, "guest-exec", args, on_rm_started, &e) < 0)
		gexec_wind_up(g);
}

/* A fresh name: 128 random bits nobody in the guest can guess. */
int gexec_files_name(struct gexec *g, struct qmp_error *err)
{
	unsigned char r[16];
	int n;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) {
		qmp_error_set(err, "InternalError", "getrandom failed");
		return -1;
	}
	n = snprintf(g->dir, sizeof(g->dir), "/tmp/vmsup-exec-");
	for (size_t i = 0; i < sizeof(r); i++)
		n += snprintf(g->dir + n, sizeof(g->dir) - (size_t)n, "%02x", r[i]);
	return 0;
}

void gexec_files_command(struct gexec *g, struct json_object *args, const char *const *argv)
{
	struct json_object *a = json_object_new_array();
	const char *pre[] = {"-c", WRAPPER, "vmsup-exec", g->dir};

	json_object_object_add(args, "path", json_object_new_string("/bin/sh"));
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		json_object_array_add(a, json_object_new_string(pre[i]));
	for (size_t i = 0; argv[i]; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	json_object_object_add(args, "arg", a);
	json_object_object_add(args, "capture-output", json_object_new_boolean(0));
}

void gexec_files_read(struct gexec *g)
{
	struct qmp_error e;

	g->res.out = g->res.err = NULL;
	g->res.out_len = g->res.err_len = 0;
	if (g->res.status == 127) {
		if (gexec_send(g, "guest-file-open", open_args(g, "noexec"), on_noexec, &e) < 0)
			gexec_finish(g, NULL, &e);
		return;
	}
	open_stream(g);
}
