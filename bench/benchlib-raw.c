/* A raw QMP client of the bench programs, the baseline libqmp is measured
 * against (see benchlib.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "src/client/client.h"
/* ---- raw QMP ---------------------------------------------------------- */

int bl_unix_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int bl_raw_read_line(struct bl_raw *r, char *line, size_t len, double timeout_ms)
{
	double end = bl_now_ms() + timeout_ms;

	for (;;) {
		char *nl = memchr(r->buf, '\n', r->len);
		struct pollfd p = {.fd = r->fd, .events = POLLIN};
		double left;
		ssize_t n;

		if (nl) {
			size_t l = (size_t)(nl - r->buf), c = l < len - 1 ? l : len - 1;

			memcpy(line, r->buf, c);
			line[c] = '\0';
			memmove(r->buf, nl + 1, r->len - l - 1);
			r->len -= l + 1;
			return 0;
		}
		if (r->len == sizeof(r->buf))
			r->len = 0; /* a line longer than we care about: drop it */
		left = end - bl_now_ms();
		if (left <= 0 || poll(&p, 1, (int)left + 1) <= 0)
			return -1;
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - r->len);
		if (n <= 0)
			return -1;
		r->len += (size_t)n;
	}
}

int bl_raw_call_seen(struct bl_raw *r, const char *cmd_json, double timeout_ms,
		     void (*seen)(const char *line, void *arg), void *arg)
{
	char line[8192];
	size_t l = strlen(cmd_json);
	double end = bl_now_ms() + timeout_ms;

	if (write(r->fd, cmd_json, l) != (ssize_t)l)
		return -1;
	for (;;) {
		if (bl_raw_read_line(r, line, sizeof(line), end - bl_now_ms()))
			return -1;
		/* QEMU writes replies as {"return": ...} / {"error": ...}; others are events */
		if (!strncmp(line, "{\"return\"", 9))
			return 0;
		if (!strncmp(line, "{\"error\"", 8))
			return -1;
		if (seen)
			seen(line, arg);
	}
}

int bl_raw_call(struct bl_raw *r, const char *cmd_json, double timeout_ms)
{
	return bl_raw_call_seen(r, cmd_json, timeout_ms, NULL, NULL);
}

int bl_raw_open(struct bl_raw *r, const char *path, double timeout_ms)
{
	char line[8192];

	r->len = 0;
	if ((r->fd = bl_unix_connect(path)) < 0)
		return -1;
	if (bl_raw_read_line(r, line, sizeof(line), timeout_ms) || strncmp(line, "{\"QMP\"", 6) ||
	    bl_raw_call(
		r,
		strstr(line, "\"oob\"")
		    ? "{\"execute\":\"qmp_capabilities\",\"arguments\":{\"enable\":[\"oob\"]}}\n"
		    : "{\"execute\":\"qmp_capabilities\"}\n",
		timeout_ms)) {
		bl_raw_close(r);
		return -1;
	}
	return 0;
}

void bl_raw_close(struct bl_raw *r)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->len = 0;
}
