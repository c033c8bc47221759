/* Save and restore a VM's whole state with QEMU migration (see snapshot.h). */
#include "src/snapshot/snapshot.h"
#include "src/snapshot/snapshot-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEF_TIMEOUT_MS	300000u
#define POLL_MS		250 /* safety net only: MIGRATION events drive the steps */
#define WRITTEN_POLL_MS 5
/* qemu's name for the descriptor a save writes to */
#define SAVE_FDNAME "vmsup-save"

enum step {
	ST_STOP,
	ST_CAPS,
	ST_GETFD, /* save to a descriptor: hand it over (getfd) */
	ST_MIGRATE,
	ST_WAIT,    /* for MIGRATION completed/failed */
	ST_QUERY,   /* final query-migrate: stats or error-desc */
	ST_WRITTEN, /* save: for cat to finish (STATE.written) */
	ST_CONT,
	ST_DONE,
};

struct snap_op {
	struct event_base *base;
	struct qmp_session *qmp;
	int save;
	enum step st;
	char *state_path, *tmp_path, *written_path, *uri;
	int ignore_shared, resume;
	int save_fd; /* the caller's STATE.tmp, dup'd; -1: exec:cat */
	snap_done_fn done;
	void *arg;
	int sub;      /* event subscription, -1 if none */
	int pending;  /* qmp calls not yet answered: the op lives until 0 */
	int querying; /* a query-migrate is in flight */
	int finished; /* done called (or cancelled) */
	struct event *deadline, *poll;
	struct snap_stats stats;
	double t0;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void op_free(struct snap_op *op)
{
	if (op->deadline)
		event_free(op->deadline);
	if (op->poll)
		event_free(op->poll);
	free(op->state_path);
	free(op->tmp_path);
	free(op->written_path);
	free(op->uri);
	if (op->save_fd >= 0)
		close(op->save_fd);
	free(op);
}

static void release(struct snap_op *op)
{
	if (op->finished && op->pending == 0)
		op_free(op);
}

static void detach(struct snap_op *op)
{
	op->finished = 1;
	if (op->sub >= 0) {
		qmp_unsubscribe(op->qmp, op->sub);
		op->sub = -1;
	}
	if (op->deadline)
		event_del(op->deadline);
	if (op->poll)
		event_del(op->poll);
	if (op->save) {
		unlink(op->tmp_path);
		unlink(op->written_path);
	}
}

static void finish(struct snap_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void finish(struct snap_op *op, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (op->finished)
		return;
	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
	}
	detach(op);
	op->stats.wall_ms = now_ms() - op->t0;
	if (op->done)
		op->done(&op->stats, fmt ? msg : NULL, op->arg);
	release(op);
}

static void advance(struct snap_op *op);

static void on_reply(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg);

static void call(struct snap_op *op, const char *cmd, struct json_object *args)
{
	struct qmp_error err = {0};

	op->pending++;
	if (qmp_call(op->qmp, cmd, args, 0, on_reply, op, &err) < 0) {
		op->pending--;
		finish(op, "%s: %s: %s", cmd, err.cls, err.desc);
	}
}

static uint64_t u64(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? (uint64_t)json_object_get_int64(v) : 0;
}

/* A query-migrate reply: the step only moves on in a final state. */
static void on_status(struct snap_op *op, struct json_object *ret)
{
	struct json_object *v, *ram;
	const char *status =
	    json_object_object_get_ex(ret, "status", &v) ? json_object_get_string(v) : "none";

	if (!strcmp(status, "completed")) {
		if (json_object_object_get_ex(ret, "ram", &ram)) {
			op->stats.ram_total = u64(ram, "total");
			op->stats.ram_transferred = u64(ram, "transferred");
			op->stats.ram_zero_pages = u64(ram, "duplicate");
			op->stats.ram_normal_pages = u64(ram, "normal");
		}
		op->stats.qemu_ms = (double)u64(ret, "total-time");
		op->st = op->save ? ST_WRITTEN : ST_CONT;
		advance(op);
	} else if (!strcmp(status, "failed") || !strcmp(status, "cancelled")) {
		const char *desc = json_object_object_get_ex(ret, "error-desc", &v)
				       ? json_object_get_string(v)
				       : "no reason given";
		finish(op, "%s %s: %s", op->save ? "saving the VM" : "loading the snapshot", status,
		       desc);
	}
}

static void on_reply(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	struct snap_op *op = arg;
	(void)s;

	op->pending--;
	if (op->finished) {
		release(op);
		return;
	}
	if (err) {
		if (!strcmp(err->cls, QMP_ERR_DISCONNECTED) && !op->save)
			finish(op,
			       "qemu closed its monitor while loading the snapshot (it exits when "
			       "the state does not load: see its stderr): %s",
			       err->desc);
		else
			finish(op, "%s: %s", err->cls, err->desc);
		return;
	}
	switch (op->st) {
	case ST_STOP:
	case ST_CAPS:
	case ST_GETFD:
	case ST_MIGRATE:
		op->st++;
		advance(op);
		break;
	case ST_WAIT:
	case ST_QUERY:
		op->querying = 0;
		on_status(op, ret);
		break;
	case ST_CONT:
		op->st = ST_DONE;
		advance(op);
		break;
	default:
		break;
	}
}

static void query(struct snap_op *op)
{
	if (op->querying || op->finished)
		return;
	op->querying = 1;
	call(op, "query-migrate", NULL);
}

static void on_event(struct qmp_session *s, const char *name, struct json_object *data, int64_t sec,
		     int64_t usec, void *arg)
{
	struct snap_op *op = arg;
	struct json_object *v;
	const char *status;
	(void)s, (void)sec, (void)usec;

	if (op->finished || op->st != ST_WAIT || strcmp(name, "MIGRATION") ||
	    !json_object_object_get_ex(data, "status", &v))
		return;
	status = json_object_get_string(v);
	if (!strcmp(status, "completed") || !strcmp(status, "failed") ||
	    !strcmp(status, "cancelled"))
		query(op);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct snap_op *op = arg;
	(void)fd, (void)what;

	finish(op, "%s did not finish in time",
	       op->save ? "saving the VM" : "loading the snapshot");
}

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC), r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* cat has exited once the shell renamed its output: make it durable, then final. */
static int commit(struct snap_op *op)
{
	struct stat sb;
	char *dir = strdup(op->state_path);

	if (!dir)
		return -1;
	if (fsync_path(op->written_path, O_RDONLY) < 0 || stat(op->written_path, &sb) < 0 ||
	    chmod(op->written_path, 0600) < 0 || rename(op->written_path, op->state_path) < 0) {
		free(dir);
		return -1;
	}
	op->stats.file_bytes = (uint64_t)sb.st_size;
	fsync_path(dirname(dir), O_RDONLY | O_DIRECTORY);
	free(dir);
	return 0;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct snap_op *op = arg;
	struct timeval tv = {0, POLL_MS * 1000};
	(void)fd, (void)what;

	if (op->st == ST_WAIT) {
		query(op);
	} else if (op->st == ST_WRITTEN) {
		if (access(op->written_path, F_OK) == 0) {
			if (commit(op) < 0)
				finish(op, "cannot commit %s: %s", op->state_path, strerror(errno));
			else
				finish(op, NULL);
			return;
		}
		tv.tv_usec = WRITTEN_POLL_MS * 1000;
	}
	event_add(op->poll, &tv);
}

static struct json_object *caps(struct snap_op *op)
{
	struct json_object *a = json_object_new_object(), *list = json_object_new_array(), *c;

	c = json_object_new_object();
	json_object_object_add(c, "capability", json_object_new_string("events"));
	json_object_object_add(c, "state", json_object_new_boolean(1));
	json_object_array_add(list, c);
	if (op->ignore_shared) {
		c = json_object_new_object();
		json_object_object_add(c, "capability", json_object_new_string("x-ignore-shared"));
		json_object_object_add(c, "state", json_object_new_boolean(1));
		json_object_array_add(list, c);
	}
	json_object_object_add(a, "capabilities", list);
	return a;
}

static void advance(struct snap_op *op)
{
	struct qmp_error e = {0};
	struct json_object *a;
	struct timeval tv = {0, 0};

	if (op->finished)
		return;
	switch (op->st) {
	case ST_STOP:
		call(op, "stop", NULL);
		break;
	case ST_CAPS:
		call(op, "migrate-set-capabilities", caps(op));
		break;
	case ST_GETFD:
		if (op->save_fd < 0) {
			op->st++;
			advance(op);
			break;
		}
		a = json_object_new_object();
		json_object_object_add(a, "fdname", json_object_new_string(SAVE_FDNAME));
		op->pending++;
		if (qmp_call_fd(op->qmp, "getfd", a, op->save_fd, 0, on_reply, op, &e) < 0) {
			op->pending--;
			finish(op, "getfd: %s: %s", e.cls, e.desc);
		}
		break;
	case ST_MIGRATE:
		a = json_object_new_object();
		json_object_object_add(a, "uri", json_object_new_string(op->uri));
		call(op, op->save ? "migrate" : "migrate-incoming", a);
		break;
	case ST_WAIT:
		tv.tv_usec = POLL_MS * 1000;
		event_add(op->poll, &tv);
		break;
	case ST_WRITTEN:
		event_add(op->poll, &tv);
		break;
	case ST_CONT:
		if (op->resume)
			call(op, "cont", NULL);
		else
			finish(op, NULL);
		break;
	case ST_DONE: {
		struct stat sb;
		if (op->state_path && stat(op->state_path, &sb) == 0)
			op->stats.file_bytes = (uint64_t)sb.st_size;
		finish(op, NULL);
		break;
	}
	default:
		break;
	}
}

static struct snap_op *op_new(struct event_base *base, struct qmp_session *qmp, int save,
			      unsigned timeout_ms, snap_done_fn done, void *arg)
{
	struct snap_op *op = calloc(1, sizeof(*op));
	struct timeval tv;

	if (!op)
		return NULL;
	op->base = base;
	op->qmp = qmp;
	op->save = save;
	op->save_fd = -1;
	op->done = done;
	op->arg = arg;
	op->t0 = now_ms();
	op->deadline = evtimer_new(base, on_deadline, op);
	op->poll = evtimer_new(base, on_poll, op);
	op->sub = qmp_subscribe(qmp, on_event, op);
	if (!op->deadline || !op->poll || op->sub < 0) {
		if (op->sub >= 0)
			qmp_unsubscribe(qmp, op->sub);
		op_free(op);
		return NULL;
	}
	timeout_ms = timeout_ms ? timeout_ms : DEF_TIMEOUT_MS;
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	event_add(op->deadline, &tv);
	return op;
}

/* Start on the next loop turn: done is never called from inside the API call. */
static void on_start(evutil_socket_t fd, short what, void *arg)
{
	struct snap_op *op = arg;
	(void)fd, (void)what;

	op->pending--;
	if (op->finished)
		release(op);
	else
		advance(op);
}

static int kick(struct snap_op *op)
{
	struct timeval tv = {0, 0};

	op->pending++; /* the start callback holds the op like a call would */
	if (event_base_once(op->base, -1, EV_TIMEOUT, on_start, op, &tv) < 0) {
		op->pending--;
		return -1;
	}
	return 0;
}

struct snap_op *snap_save(struct event_base *base, struct qmp_session *qmp,
			  const struct snap_save_opts *o, snap_done_fn done, void *arg, char **err)
{
	struct snap_op *op;
	char *qtmp = NULL, *qwritten = NULL;

	if (!o || !o->state_path) {
		snap_seterr(err, "no state file given");
		return NULL;
	}
	if (strlen(o->state_path) > 3000) {
		snap_seterr(err, "state file path too long");
		return NULL;
	}
	if (!(op = op_new(base, qmp, 1, o->timeout_ms, done, arg))) {
		snap_seterr(err, "out of memory");
		return NULL;
	}
	op->ignore_shared = o->ignore_shared;
	op->st = ST_STOP;
	if (!(op->state_path = strdup(o->state_path)) ||
	    asprintf(&op->tmp_path, "%s.tmp", o->state_path) < 0)
		goto oom;
	if (o->state_fd >= 0) {
		/* qemu writes the caller's STATE.tmp through the descriptor: it
		 * opens and spawns nothing (it may run as a user that cannot
		 * reach the state dir), and every byte is in the file once the
		 * migration completes */
		if ((op->save_fd = fcntl(o->state_fd, F_DUPFD_CLOEXEC, 3)) < 0 ||
		    !(op->written_path = strdup(op->tmp_path)) ||
		    asprintf(&op->uri, "fd:" SAVE_FDNAME) < 0 || kick(op) < 0)
			goto oom;
		return op;
	}
	if (asprintf(&op->written_path, "%s.written", o->state_path) < 0)
		goto oom;
	if (!(qtmp = snap_shell_quote(op->tmp_path, err)) ||
	    !(qwritten = snap_shell_quote(op->written_path, err)))
		goto fail;
	/* stale files of an earlier, interrupted save would fake completion */
	unlink(op->tmp_path);
	unlink(op->written_path);
	if (asprintf(&op->uri, "exec:cat > %s && mv -f %s %s", qtmp, qtmp, qwritten) < 0)
		goto oom;
	free(qtmp);
	free(qwritten);
	if (kick(op) < 0)
		goto oom;
	return op;
oom:
	snap_seterr(err, "out of memory");
fail:
	free(qtmp);
	free(qwritten);
	qmp_unsubscribe(qmp, op->sub);
	op_free(op);
	return NULL;
}

const char *const *snap_restore_argv(void)
{
	static const char *const a[] = {"-incoming", "defer", NULL};
	return a;
}

struct snap_op *snap_restore(struct event_base *base, struct qmp_session *qmp,
			     const struct snap_restore_opts *o, snap_done_fn done, void *arg,
			     char **err)
{
	struct snap_op *op;
	char *q = NULL;

	if (!o || (o->state_fd < 0 && !o->state_path)) {
		snap_seterr(err, "no state file given");
		return NULL;
	}
	if (o->state_fd < 0 && !(q = snap_shell_quote(o->state_path, err)))
		return NULL;
	if (!(op = op_new(base, qmp, 0, o->timeout_ms, done, arg))) {
		free(q);
		snap_seterr(err, "out of memory");
		return NULL;
	}
	op->ignore_shared = o->ignore_shared;
	op->resume = o->resume;
	op->st = ST_CAPS;
	if (o->state_path && !(op->state_path = strdup(o->state_path)))
		goto oom;
	if (o->state_fd >= 0 ? asprintf(&op->uri, "fd:%d", o->state_fd) < 0
			     : asprintf(&op->uri, "exec:cat %s", q) < 0)
		goto oom;
	free(q);
	if (kick(op) < 0)
		goto oom;
	return op;
oom:
	free(q);
	snap_seterr(err, "out of memory");
	qmp_unsubscribe(qmp, op->sub);
	op_free(op);
	return NULL;
}

void snap_op_cancel(struct snap_op *op)
{
	if (!op || op->finished)
		return;
	detach(op);
	release(op);
}

char *snap_stderr_tail(const char *path, size_t max)
{
	FILE *f = path ? fopen(path, "re") : NULL;
	char *buf;
	long size, from;
	size_t n;

	if (!f)
		return strdup("");
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0) {
		fclose(f);
		return strdup("");
	}
	from = size > (long)max ? size - (long)max : 0;
	if (!(buf = malloc(max + 1)) || fseek(f, from, SEEK_SET) < 0) {
		free(buf);
		fclose(f);
		return strdup("");
	}
	n = fread(buf, 1, max, f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	fclose(f);
	return buf;
}
