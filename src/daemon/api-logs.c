#include "src/daemon/api-logs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stdbool.h>

#include <event2/event.h>

#include "src/daemon/http.h"

/* Append up to the last max bytes of path to buf (of len *n); a missing
 * file adds nothing. Returns where the file ended (what a follower reads
 * on from). */
static off_t read_tail(const char *path, size_t max, char *buf, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	off_t from = 0;

	if (fd < 0)
		return 0;
	if (!fstat(fd, &st)) {
		from = st.st_size > (off_t)max ? st.st_size - (off_t)max : 0;
		while (max > 0) {
			ssize_t r = pread(fd, buf + *n, max, from);
			if (r <= 0)
				break;
			*n += (size_t)r;
			max -= (size_t)r;
			from += r;
		}
	}
	close(fd);
	return from;
}

/* The serial port writes "\r\n" and the odd control byte: keep text. */
static size_t clean(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 || c == '\n' || c == '\t')
			s[o++] = (char)c;
	}
	return o;
}

/* The start of the last lines lines of s[0..n). */
static size_t last_lines(const char *s, size_t n, long lines)
{
	size_t i = n;

	if (i > 0 && s[i - 1] == '\n')
		i--; /* the final newline ends the last line, it starts none */
	while (i > 0) {
		if (s[i - 1] == '\n' && --lines == 0)
			return i;
		i--;
	}
	return 0;
}

static int parse_tail(struct evhttp_request *req, const char *t, long *tail)
{
	char *end;

	*tail = VMSUP_LOGS_TAIL_DEFAULT;
	if (!t)
		return 0;
	errno = 0;
	*tail = strtol(t, &end, 10);
	if (!*t || *end || errno || *t < '0' || *t > '9' || *tail < 1 ||
	    *tail > VMSUP_LOGS_TAIL_MAX) {
		http_send_error(req, 400, "InvalidParameter",
				"tail: '%s' is not an integer in 1..%d", t, VMSUP_LOGS_TAIL_MAX);
		return -1;
	}
	return 0;
}

/* ---- follow: the log's new bytes as they come ---- */

struct follower {
	struct http_stream stream;
	struct vmsup *sup;
	struct event *tick;
	char *name, *path;
	off_t at; /* read up to here */
};

static void follower_free(void *arg, bool client_left)
{
	struct follower *f = arg;

	(void)client_left;
	if (f->tick)
		event_free(f->tick);
	free(f->name);
	free(f->path);
	free(f);
}

/* What the log gained since the last look, cleaned, as one chunk; the VM
 * gone (destroyed) ends the reply. */
static void on_follow_tick(evutil_socket_t fd_, short what, void *arg)
{
	struct follower *f = arg;
	struct stat st;
	char *buf;
	int fd;

	(void)fd_;
	(void)what;
	if (!vmsup_find(f->sup, f->name)) {
		http_stream_end(&f->stream);
		return;
	}
	if ((fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return;
	if (!fstat(fd, &st)) {
		if (st.st_size < f->at)
			f->at = 0; /* rotated: the log starts again */
		size_t want = (size_t)(st.st_size - f->at);
		if (want > VMSUP_LOGS_FOLLOW_CHUNK)
			want = VMSUP_LOGS_FOLLOW_CHUNK;
		if (want && (buf = malloc(want))) {
			ssize_t r = pread(fd, buf, want, f->at);
			if (r > 0) {
				f->at += r;
				http_stream_write(&f->stream, buf, clean(buf, (size_t)r));
			}
			free(buf);
		}
	}
	close(fd);
}

/* The last lines as text, then the log's growth until the client leaves
 * or the VM is destroyed. */
static void follow(struct vmsup *sup, struct evhttp_request *req, const char *name,
		   const char *path, const char *text, size_t n, off_t at)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	const struct timeval tv = {0, VMSUP_LOGS_FOLLOW_MS * 1000};
	struct follower *f = calloc(1, sizeof(*f));

	if (!f || !(f->name = strdup(name)) || !(f->path = strdup(path)) ||
	    !(f->tick = event_new(evhttp_connection_get_base(evcon), -1, EV_PERSIST, on_follow_tick,
				  f)) ||
	    event_add(f->tick, &tv)) {
		if (f)
			follower_free(f, false);
		http_send_error(req, 500, "GenericError", "out of memory");
		return;
	}
	f->sup = sup;
	f->at = at;
	/* a quiet log is no idle client */
	http_stream_start(&f->stream, sup, req, "text/plain; charset=utf-8", follower_free, f);
	http_stream_write(&f->stream, text, n);
}

static int parse_follow(struct evhttp_request *req, const char *v, bool *on)
{
	*on = v && (!strcmp(v, "1") || !strcmp(v, "true"));
	if (v && !*on && strcmp(v, "0") && strcmp(v, "false")) {
		http_send_error(req, 400, "InvalidParameter",
				"follow: '%s' is not one of 1, 0, true, false", v);
		return -1;
	}
	return 0;
}

void api_logs_get(struct vmsup *sup, struct evhttp_request *req, const char *name,
		  struct evkeyvalq *query)
{
	const char *src = query ? evhttp_find_header(query, "source") : NULL;
	struct vm *vm;
	struct json_object *o;
	char *buf, *old = NULL;
	size_t n = 0, start;
	off_t at = 0;
	bool follow_on;
	long tail;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_send_error(req, 405, "MethodNotAllowed", "use GET");
		return;
	}
	if (parse_tail(req, query ? evhttp_find_header(query, "tail") : NULL, &tail) ||
	    parse_follow(req, query ? evhttp_find_header(query, "follow") : NULL, &follow_on))
		return;
	if (src && strcmp(src, "console") && strcmp(src, "qemu")) {
		http_send_error(req, 400, "InvalidParameter",
				"source: '%s' is not one of console, qemu", src);
		return;
	}
	if (!src)
		src = "console";
	if (!(vm = vmsup_find(sup, name))) {
		http_send_error(req, 404, "NotFound", "no VM named '%s'", name);
		return;
	}
	if (!(buf = malloc(2 * (size_t)VMSUP_LOGS_BYTES_MAX))) {
		http_send_error(req, 500, "GenericError", "out of memory");
		return;
	}
	if (!strcmp(src, "qemu")) {
		if (vm->qemu_log)
			at = read_tail(vm->qemu_log, VMSUP_LOGS_BYTES_MAX, buf, &n);
	} else if (vm->console_log) {
		/* the rotated part first: it is the older one */
		if (asprintf(&old, "%s.1", vm->console_log) >= 0)
			read_tail(old, VMSUP_LOGS_BYTES_MAX, buf, &n);
		at = read_tail(vm->console_log, VMSUP_LOGS_BYTES_MAX, buf, &n);
	}
	free(old);
	n = clean(buf, n);
	start = last_lines(buf, n, tail);
	if (follow_on) {
		const char *path = !strcmp(src, "qemu") ? vm->qemu_log : vm->console_log;
		if (!path)
			http_send_error(req, 409, "Conflict", "VM '%s' has no %s log", name, src);
		else
			follow(sup, req, name, path, buf + start, n - start, at);
		free(buf);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "source", json_object_new_string(src));
	json_object_object_add(o, "log", json_object_new_string_len(buf + start, (int)(n - start)));
	http_send_json(req, 200, o);
	json_object_put(o);
	free(buf);
}
