/*
 * A QMP or QGA session: its lifetime, the socket and the framing of what
 * goes over it. The command queue is in command.c, the protocols on top in
 * monitor.c (QMP) and qga.c (guest agent). Everything runs on the caller's
 * event_base; callbacks may free the session, so every entry point from
 * libevent holds a reference while it runs.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/util.h>

#include "qmp/session-internal.h"

void session_ref(struct qmp_session *s)
{
	s->refs++;
}

void session_unref(struct qmp_session *s)
{
	if (--s->refs > 0)
		return;
	if (s->hs_timer)
		event_free(s->hs_timer);
	if (s->sync_timer)
		event_free(s->sync_timer);
	qmp_parser_free(s->parser);
	json_object_put(s->greeting);
	free(s->ghosts);
	free(s->subs);
	free(s);
}

struct qmp_session *qmp_session_new(struct event_base *base, enum qmp_kind kind,
				    const struct qmp_options *opt)
{
	struct qmp_session *s;
	struct sigaction sa;

	if (!base || (kind != QMP_KIND_QMP && kind != QMP_KIND_QGA))
		return NULL;
	/* libevent writes with writev(), so a peer that went away would kill
	 * the process with SIGPIPE; the library reports it as an error instead.
	 * An application that installed its own handler keeps it. */
	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->base = base;
	s->kind = kind;
	s->max_message = opt && opt->max_message ? opt->max_message : QMP_DEFAULT_MAX_MESSAGE;
	s->timeout_ms =
	    opt && opt->default_timeout_ms ? opt->default_timeout_ms : QMP_DEFAULT_TIMEOUT_MS;
	s->refs = 1;
	s->next_id = 1;
	s->next_handle = 1;
	TAILQ_INIT(&s->cmds);
	s->parser = qmp_parser_new(s->max_message);
	if (!s->parser) {
		free(s);
		return NULL;
	}
	return s;
}

/* ---- writing ------------------------------------------------------------ */

int session_write(struct qmp_session *s, struct json_object *msg, int sentinel, int fd)
{
	size_t len;
	const char *str = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN, &len);

	return str ? session_write_text(s, str, len, sentinel, fd) : -1;
}

/* Send str as one line, after a 0xFF sentinel if asked (QGA resync), and
 * fd (>= 0) with its first byte (SCM_RIGHTS): the caller made sure nothing
 * is queued, so that byte goes out now. */
int session_write_text(struct qmp_session *s, const char *str, size_t len, int sentinel, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov[3];
	int n = 0;

	if (sentinel)
		iov[n++] = (struct iovec){.iov_base = "\xff", .iov_len = 1};
	iov[n++] = (struct iovec){.iov_base = (void *)str, .iov_len = len};
	iov[n++] = (struct iovec){.iov_base = "\n", .iov_len = 1};
	/* With nothing queued, write straight to the socket: going through the
	 * bufferevent costs an extra poll round (and epoll_ctl calls) per
	 * command. What the socket does not take is queued; errors are left
	 * to the bufferevent, which reports them through on_event. */
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
		ssize_t w;

		if (fd >= 0) {
			struct cmsghdr *cm;
			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = sizeof(u.buf);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		w = sendmsg(bufferevent_getfd(s->bev), &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		for (int i = 0; i < n && w > 0; i++) {
			size_t take = (size_t)w < iov[i].iov_len ? (size_t)w : iov[i].iov_len;
			iov[i].iov_base = (char *)iov[i].iov_base + take;
			iov[i].iov_len -= take;
			w -= (ssize_t)take;
		}
	}
	for (int i = 0; i < n; i++)
		if (iov[i].iov_len &&
		    bufferevent_write(s->bev, iov[i].iov_base, iov[i].iov_len) < 0)
			return -1;
	return 0;
}

/* A message the bufferevent would not queue: the connection is unusable. */
void session_end_write_failed(struct qmp_session *s)
{
	struct qmp_error err;

	qmp_error_set(&err, QMP_ERR_DISCONNECTED, "write failed");
	session_end(s, &err);
}

/* ---- reading ------------------------------------------------------------ */

static int on_value(struct json_object *v, void *arg)
{
	struct qmp_session *s = arg;

	if (!session_alive(s))
		return -1;
	/* An agent still holding old output may send anything before the
	 * sentinel; that is dropped by the parser. After it, only objects. */
	if (!v || !json_object_is_type(v, json_type_object)) {
		struct qmp_error err;

		qmp_error_set(&err, QMP_ERR_PROTOCOL, "message is not a JSON object");
		session_end(s, &err);
		return -1;
	}
	if (s->kind == QMP_KIND_QGA)
		qga_value(s, v);
	else
		mon_value(s, v);
	return session_alive(s) ? 0 : -1;
}

/* Bytes read per read(2): a QMP reply or event fits many times over. */
#define READ_CHUNK 16384
/* Reads per loop turn: a peer that never stops sending (a large
 * guest-exec output) does not hold the caller's loop. */
#define READ_TURN_CHUNKS 16

/* Feed n bytes to the parser, dispatching each value; 0 while the session
 * lives on, -1 once it ended (freed or closed by a callback or by bad
 * input). The caller holds a reference. */
static int feed(struct qmp_session *s, const char *p, size_t n)
{
	struct qmp_error err;

	if (qmp_parser_feed(s->parser, p, n, on_value, s, &err) < 0 && session_alive(s))
		session_end(s, &err);
	return session_alive(s) ? 0 : -1;
}

/* Read what the socket holds into the parser, up to max_chunks reads of
 * READ_CHUNK (0: until it holds no more). Returns the last read's result:
 * 0 at end of file, -1 with errno (EAGAIN: nothing left), 1 if the session
 * ended while dispatching or the chunks ran out. */
static ssize_t read_some(struct qmp_session *s, unsigned max_chunks)
{
	char buf[READ_CHUNK];
	ssize_t n;

	for (unsigned i = 0; !max_chunks || i < max_chunks; i++) {
		n = read(event_get_fd(s->rd_ev), buf, sizeof(buf));
		if (n <= 0)
			return n;
		if (feed(s, buf, (size_t)n) < 0)
			return 1;
		/* a short read took all there was: skip the read that
		 * would only say EAGAIN */
		if (n < (ssize_t)sizeof(buf) && max_chunks)
			return 1;
	}
	return 1;
}

/*
 * The socket is readable. Read straight from it rather than through the
 * bufferevent: libevent asks FIONREAD before every read (a system call
 * per reply) and reads 4 KiB at a time into a buffer the parser then
 * copies out of again.
 */
static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct qmp_session *s = arg;
	struct qmp_error err;
	ssize_t n;

	session_ref(s);
	n = read_some(s, READ_TURN_CHUNKS);
	if (n == 0 && session_alive(s)) {
		qmp_error_set(&err, QMP_ERR_DISCONNECTED, "peer closed the connection");
		session_end(s, &err);
	} else if (n < 0 && errno != EAGAIN && errno != EINTR && session_alive(s)) {
		qmp_error_set(&err, QMP_ERR_DISCONNECTED, "socket error: %s", strerror(errno));
		session_end(s, &err);
	}
	session_unref(s);
}

void qmp_session_drain(struct qmp_session *s)
{
	if (!s || !s->rd_ev || !session_alive(s))
		return;
	/* Non-blocking: stops at EAGAIN, or at EOF, which the loop then
	 * reports through on_readable */
	session_ref(s);
	read_some(s, 0);
	session_unref(s);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct qmp_session *s = arg;
	struct qmp_error err;

	if (what & BEV_EVENT_EOF)
		qmp_error_set(&err, QMP_ERR_DISCONNECTED, "peer closed the connection");
	else if (what & BEV_EVENT_ERROR)
		qmp_error_set(&err, QMP_ERR_DISCONNECTED, "socket error: %s",
			      evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	else
		return;
	session_ref(s);
	session_end(s, &err);
	session_unref(s);
}

/* ---- ready and end ------------------------------------------------------ */

/* The ready callback runs once per session; returns 0 if it already had. */
int session_report_ready(struct qmp_session *s, const struct qmp_error *err)
{
	if (s->ready_reported)
		return 0;
	s->ready_reported = 1;
	if (s->ready_fn)
		s->ready_fn(s, err, s->ready_arg);
	return 1;
}

void session_end(struct qmp_session *s, const struct qmp_error *why)
{
	if (s->state == ST_CLOSED)
		return;
	s->state = ST_CLOSED;
	session_ref(s);
	if (s->rd_ev) {
		event_free(s->rd_ev);
		s->rd_ev = NULL;
	}
	if (s->bev) {
		bufferevent_free(s->bev);
		s->bev = NULL;
	}
	if (s->hs_timer)
		evtimer_del(s->hs_timer);
	if (s->sync_timer)
		evtimer_del(s->sync_timer);
	s->syncing = 0;
	cmd_fail_all(s, why);
	/* An end during the handshake is reported through ready alone. */
	if (!s->freed && !session_report_ready(s, why) && s->close_fn)
		s->close_fn(s, why, s->close_arg);
	session_unref(s);
}

/* ---- connecting --------------------------------------------------------- */

/* The handshake deadline: QMP's greeting and capabilities, QGA's syncs. */
static int make_timer(struct qmp_session *s)
{
	if (s->kind == QMP_KIND_QMP)
		s->hs_timer = evtimer_new(s->base, mon_on_hs_timeout, s);
	else
		s->sync_timer = evtimer_new(s->base, qga_on_sync_timeout, s);
	return s->hs_timer || s->sync_timer ? 0 : -1;
}

static void start_handshake(struct qmp_session *s)
{
	struct timeval tv;

	s->state = ST_HANDSHAKE;
	if (s->kind == QMP_KIND_QMP) {
		tv = ms_tv(s->timeout_ms);
		evtimer_add(s->hs_timer, &tv);
	} else {
		s->need_sync = 1;
		qga_start_sync(s);
	}
}

int qmp_attach_fd(struct qmp_session *s, int fd, qmp_ready_fn ready, void *arg,
		  struct qmp_error *err)
{
	if (!s || fd < 0) {
		qmp_error_set(err, QMP_ERR_CONNECT, "invalid session or descriptor");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (s->state != ST_NEW) {
		qmp_error_set(err, QMP_ERR_CONNECT, "session is already connected");
		close(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	evutil_make_socket_closeonexec(fd);
	s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!s->bev) {
		qmp_error_set(err, QMP_ERR_CONNECT, "cannot create bufferevent");
		close(fd);
		return -1;
	}
	s->rd_ev = event_new(s->base, fd, EV_READ | EV_PERSIST, on_readable, s);
	if (make_timer(s) < 0 || !s->rd_ev || event_add(s->rd_ev, NULL) < 0) {
		qmp_error_set(err, QMP_ERR_CONNECT, "cannot create timer or read event");
		if (s->rd_ev)
			event_free(s->rd_ev);
		s->rd_ev = NULL;
		bufferevent_free(s->bev);
		s->bev = NULL;
		return -1;
	}
	bufferevent_setcb(s->bev, NULL, NULL, on_event, s);
	bufferevent_enable(s->bev, EV_WRITE);
	s->ready_fn = ready;
	s->ready_arg = arg;
	start_handshake(s);
	return 0;
}

int qmp_connect(struct qmp_session *s, const char *path, qmp_ready_fn ready, void *arg,
		struct qmp_error *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (!s || !path || !*path) {
		qmp_error_set(err, QMP_ERR_CONNECT, "no socket path");
		return -1;
	}
	if (strlen(path) >= sizeof(sa.sun_path)) {
		qmp_error_set(err, QMP_ERR_CONNECT, "%s: socket path too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		qmp_error_set(err, QMP_ERR_CONNECT, "socket: %s", strerror(errno));
		return -1;
	}
	/* Non-blocking: QEMU listens with a backlog of one, and a monitor that
	 * already has a client must not block the caller's loop. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		qmp_error_set(err, QMP_ERR_CONNECT, "%s: %s", path,
			      errno == EAGAIN ? "busy (another client is connected?)"
					      : strerror(errno));
		close(fd);
		return -1;
	}
	return qmp_attach_fd(s, fd, ready, arg, err);
}

void qmp_session_free(struct qmp_session *s)
{
	struct qmp_error err;

	if (!s || s->freed)
		return;
	s->freed = 1;
	qmp_error_set(&err, QMP_ERR_DISCONNECTED, "session freed");
	session_end(s, &err);
	session_unref(s);
}

void qmp_on_close(struct qmp_session *s, qmp_close_fn fn, void *arg)
{
	if (!s)
		return;
	s->close_fn = fn;
	s->close_arg = arg;
}

int qmp_is_ready(const struct qmp_session *s)
{
	return s && !s->freed && s->state == ST_READY;
}
