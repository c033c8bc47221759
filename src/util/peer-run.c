/*
 * Doing things as the API's caller rather than as the daemon: running a
 * program (qemu-img reading an image chain) and opening files, each in a
 * child that took on the peer's credentials, so the kernel decides what
 * the peer may touch.
 */
#include "src/util/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/util/err.h"

static void reap(pid_t c, int *status)
{
	int st = 0;

	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	if (status)
		*status = st;
}

/* Child of vmsup_peer_run: async-signal-safe calls only until exec. */
static void run_child(const struct vmsup_peer *p, char *const argv[], int out, int errw)
{
	int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out, 1) < 0 || dup2(errw, 2) < 0 ||
	    vmsup_peer_become(p) < 0)
		_exit(126);
	execvp(argv[0], argv);
	_exit(127);
}

struct sink {
	char *buf;
	size_t len, max;
	bool over;
};

static int sink_read(int fd, struct sink *s)
{
	char tmp[4096];
	ssize_t r = read(fd, tmp, sizeof(tmp));

	if (r <= 0)
		return r < 0 && errno == EINTR ? 1 : 0;
	if (s->len + (size_t)r > s->max) {
		s->over = true;
		return 1; /* keep draining so the child never blocks */
	}
	memcpy(s->buf + s->len, tmp, (size_t)r);
	s->len += (size_t)r;
	return 1;
}

/* Read both pipes to their end. */
static void drain(int out, int errr, struct sink *so, struct sink *se)
{
	struct pollfd pf[2] = {{out, POLLIN, 0}, {errr, POLLIN, 0}};

	while (pf[0].fd >= 0 || pf[1].fd >= 0) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++)
			if (pf[i].fd >= 0 && pf[i].revents && !sink_read(pf[i].fd, i ? se : so))
				pf[i].fd = -1;
	}
}

static char *last_line(struct sink *s)
{
	char *end, *start;

	s->buf[s->len] = '\0';
	end = s->buf + s->len;
	while (end > s->buf && (end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	start = strrchr(s->buf, '\n');
	return strdup(start ? start + 1 : s->buf);
}

int vmsup_peer_run(const struct vmsup_peer *p, char *const argv[], size_t max, char **out,
		   char **why, int *status, char **err)
{
	int po[2], pe[2];
	struct sink so = {malloc(max + 1), 0, max, false};
	struct sink se = {malloc(4097), 0, 4096, false};
	pid_t c;

	*out = NULL;
	*why = NULL;
	if (!so.buf || !se.buf) {
		free(so.buf);
		free(se.buf);
		return vmsup_err(err, "out of memory");
	}
	if (pipe2(po, O_CLOEXEC) < 0) {
		free(so.buf);
		free(se.buf);
		return vmsup_err(err, "pipe: %s", strerror(errno));
	}
	if (pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]);
		close(po[1]);
		free(so.buf);
		free(se.buf);
		return vmsup_err(err, "pipe: %s", strerror(errno));
	}
	c = fork();
	if (c == 0)
		run_child(p, argv, po[1], pe[1]);
	close(po[1]);
	close(pe[1]);
	if (c > 0)
		drain(po[0], pe[0], &so, &se);
	close(po[0]);
	close(pe[0]);
	if (c < 0) {
		free(so.buf);
		free(se.buf);
		return vmsup_err(err, "fork: %s", strerror(errno));
	}
	reap(c, status);
	*why = se.len ? last_line(&se) : NULL;
	free(se.buf);
	if (so.over) {
		free(so.buf);
		return vmsup_err(err, "%s said more than %zu bytes", argv[0], max);
	}
	so.buf[so.len] = '\0';
	*out = so.buf;
	return 0;
}

struct opened {
	int index; /* -1: the credentials could not be taken on */
	int errnum;
};

/* Child of vmsup_peer_open_with: one message per path, with its fd if opened. */
static void open_child(const struct vmsup_peer *p, const char *const *paths, const int *flags,
		       size_t n, vmsup_peer_opener fn, int sock)
{
	if (vmsup_peer_become(p) < 0) {
		struct opened o = {-1, errno};
		(void)!write(sock, &o, sizeof(o));
		_exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		struct opened o = {(int)i, 0};
		int fd =
		    fn ? fn(paths[i], flags[i]) : open(paths[i], flags[i] | O_CLOEXEC | O_NOCTTY);
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = {&o, sizeof(o)};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};

		if (fd < 0) {
			o.errnum = errno;
		} else {
			struct cmsghdr *cm;
			memset(cbuf, 0, sizeof(cbuf));
			m.msg_control = cbuf;
			m.msg_controllen = sizeof(cbuf);
			cm = CMSG_FIRSTHDR(&m);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &fd, sizeof(int));
		}
		if (sendmsg(sock, &m, 0) < 0 || fd < 0)
			_exit(1);
		close(fd);
	}
	_exit(0);
}

/* One message of open_child: 1 with *fd (or -1 and o->errnum), 0 at EOF. */
static int recv_one(int sock, struct opened *o, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = {o, sizeof(*o)};
	struct msghdr m = {
	    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *cm;
	ssize_t r;

	do
		r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (r < 0 && errno == EINTR);
	if (r != (ssize_t)sizeof(*o))
		return 0;
	*fd = -1;
	cm = CMSG_FIRSTHDR(&m);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 1;
}

int vmsup_peer_open(const struct vmsup_peer *p, const char *const *paths, const int *flags,
		    size_t n, int *fds, char **err)
{
	return vmsup_peer_open_with(p, paths, flags, n, NULL, fds, NULL, err);
}

int vmsup_peer_open_regular(const struct vmsup_peer *p, const char *what, const char *path, int *fd,
			    struct stat *st, const char **cls, char **err)
{
	int flags = O_RDONLY, rc;
	char *why = NULL;

	*fd = -1;
	rc = vmsup_peer_open(p, &path, &flags, 1, fd, &why);
	if (rc) {
		*cls = rc > 0 ? VMSUP_EC_FORBIDDEN : VMSUP_EC_INTERNAL;
		vmsup_err(err, "'%s': %s", what, why ? why : path);
		free(why);
		return -1;
	}
	if (fstat(*fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(*fd);
		*fd = -1;
		*cls = VMSUP_EC_INVALID;
		return vmsup_err(err, "'%s': %s: not a regular file", what, path);
	}
	return 0;
}

int vmsup_peer_open_with(const struct vmsup_peer *p, const char *const *paths, const int *flags,
			 size_t n, vmsup_peer_opener fn, int *fds, int *errnum, char **err)
{
	int sv[2], rc = 0;
	size_t got = 0;
	pid_t c;

	for (size_t i = 0; i < n; i++)
		fds[i] = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return vmsup_err(err, "socketpair: %s", strerror(errno));
	c = fork();
	if (c == 0) {
		close(sv[0]);
		open_child(p, paths, flags, n, fn, sv[1]);
	}
	close(sv[1]);
	if (c < 0) {
		close(sv[0]);
		return vmsup_err(err, "fork: %s", strerror(errno));
	}
	while (got < n && rc == 0) {
		struct opened o;
		int fd;
		if (!recv_one(sv[0], &o, &fd)) {
			rc = vmsup_err(err, "opening files as uid %u: the child died",
				       p ? (unsigned)p->uid : (unsigned)geteuid());
		} else if (o.index < 0) {
			rc = vmsup_err(err, "cannot take on uid %u: %s", (unsigned)p->uid,
				       strerror(o.errnum));
		} else if (fd < 0 || (size_t)o.index != got) {
			if (errnum)
				*errnum = fd < 0 ? o.errnum : EPROTO;
			vmsup_err(err, "%s: uid %u cannot open it (%s)", paths[got],
				  p ? (unsigned)p->uid : (unsigned)geteuid(),
				  strerror(fd < 0 ? o.errnum : EPROTO));
			if (fd >= 0)
				close(fd);
			rc = 1;
		} else {
			fds[got++] = fd;
		}
	}
	close(sv[0]);
	reap(c, NULL);
	if (rc)
		for (size_t i = 0; i < got; i++) {
			close(fds[i]);
			fds[i] = -1;
		}
	return rc;
}
