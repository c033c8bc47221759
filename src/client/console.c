#include "src/client/console.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "src/client/client.h"
#include "src/util/fdio.h"

/* headers longer than this are not vmsupd's */
#define HEAD_MAX 8192
/* an error reply's body at most (a JSON error object) */
#define BODY_MAX 65536

static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

/* The headers up to the blank line, one byte at a time: nothing of the
 * guest's output that follows is read here. */
static int read_head(int fd, char *head, size_t size)
{
	size_t n = 0;

	while (n + 1 < size) {
		ssize_t r = read(fd, head + n, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		n++;
		head[n] = '\0';
		if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4))
			return 0;
	}
	return -1;
}

/* An error reply: the desc of its JSON body (HTTP/1.0: the body ends
 * when the daemon closes). */
static void read_error(int fd, long status, char **err)
{
	char *body = malloc(BODY_MAX + 1);
	size_t n = 0;
	ssize_t r;
	struct json_object *v;

	if (!body) {
		*err = strdup("out of memory");
		return;
	}
	while (n < BODY_MAX &&
	       ((r = read(fd, body + n, BODY_MAX - n)) > 0 || (r < 0 && errno == EINTR)))
		if (r > 0)
			n += (size_t)r;
	body[n] = '\0';
	v = json_tokener_parse(body);
	*err = strdup(vmsup_error_desc(v, status));
	json_object_put(v);
	free(body);
}

int vmsup_console_open(const char *sock, const char *name, int *fd, long *status, char **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char head[HEAD_MAX], *req = NULL;
	int s, n;

	*status = 0;
	*err = NULL;
	if (strlen(sock) >= sizeof(sa.sun_path))
		return fail(err, "%s: socket path too long", sock);
	strcpy(sa.sun_path, sock);
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return fail(err, "socket: %s", strerror(errno));
	if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		close(s);
		return fail(err, "cannot reach vmsupd at %s: %s", sock, strerror(e));
	}
	/* HTTP/1.0: the reply is the raw byte stream, no chunks to undo */
	n = asprintf(&req, "GET /v1/vms/%s/console HTTP/1.0\r\nHost: vmsupd\r\n\r\n", name);
	if (n < 0 || vmsup_write_all(s, req, (size_t)n) || read_head(s, head, sizeof(head))) {
		free(n < 0 ? NULL : req);
		close(s);
		return fail(err, "vmsupd closed the connection without a reply");
	}
	free(req);
	if (sscanf(head, "HTTP/%*d.%*d %ld", status) != 1) {
		close(s);
		return fail(err, "vmsupd's reply is not HTTP");
	}
	if (*status != 200) {
		read_error(s, *status, err);
		close(s);
		return -1;
	}
	*fd = s;
	return 0;
}
