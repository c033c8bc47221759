#include "src/daemon/api-logs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/daemon/http.h"

/* Append up to the last max bytes of path to buf (of len *n); a missing
 * file adds nothing. */
static void read_tail(const char *path, size_t max, char *buf, size_t *n)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	off_t from;

	if (fd < 0)
		return;
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

void api_logs_get(struct vmsup *sup, struct evhttp_request *req, const char *name,
		  struct evkeyvalq *query)
{
	const char *src = query ? evhttp_find_header(query, "source") : NULL;
	struct vm *vm;
	struct json_object *o;
	char *buf, *old = NULL;
	size_t n = 0, start;
	long tail;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_send_error(req, 405, "MethodNotAllowed", "use GET");
		return;
	}
	if (parse_tail(req, query ? evhttp_find_header(query, "tail") : NULL, &tail))
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
			read_tail(vm->qemu_log, VMSUP_LOGS_BYTES_MAX, buf, &n);
	} else if (vm->console_log) {
		/* the rotated part first: it is the older one */
		if (asprintf(&old, "%s.1", vm->console_log) >= 0)
			read_tail(old, VMSUP_LOGS_BYTES_MAX, buf, &n);
		read_tail(vm->console_log, VMSUP_LOGS_BYTES_MAX, buf, &n);
	}
	free(old);
	n = clean(buf, n);
	start = last_lines(buf, n, tail);
	o = json_object_new_object();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "source", json_object_new_string(src));
	json_object_object_add(o, "log", json_object_new_string_len(buf + start, (int)(n - start)));
	http_send_json(req, 200, o);
	json_object_put(o);
	free(buf);
}
