/*
 * The API's connections (src/daemon/conn.c) against the real daemon:
 * beyond max_connections a client is told 503 in JSON and the others are
 * served on; the API answers again at once when they close; a client that
 * sends a byte at a time is dropped at read_timeout_s while another is
 * served; libevent's own errors (400, 413, 501) come as JSON.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/lib/daemon-harness.h"

#define MAXC   20
#define NCONNS (MAXC + 10)

static struct tdaemon d;
static int fds[40]; /* NCONNS, or 33 for the rlimit case */

static void down(void)
{
	for (int i = 0; i < 40; i++)
		if (fds[i] > 0)
			close(fds[i]);
	memset(fds, 0, sizeof(fds));
	td_stop(&d);
}

TestSuite(conns, .fini = down, .timeout = 90);

/* What fd says within ms (up to its EOF): its length, 0 at EOF, -1 if nothing came. */
static int read_within(int fd, char *buf, size_t size, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	size_t n = 0;
	double end = td_now() + ms / 1000.0;
	ssize_t r = 1;

	while (n < size - 1) {
		int left = (int)((end - td_now()) * 1000);
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		if ((r = read(fd, buf + n, size - 1 - n)) <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	return n || r <= 0 ? (int)n : -1;
}

/* td_start's own last request: its connection closed, the daemon has seen it go */
static void settle(void)
{
	usleep(200 * 1000);
}

/* An answer's status, and its JSON error class (in cls); -1 if not HTTP. */
static int answer(const char *a, char *cls, size_t cls_size)
{
	const char *body = strstr(a, "\r\n\r\n");
	struct json_object *o;
	int status;

	cls[0] = '\0';
	if (strncmp(a, "HTTP/1.1 ", 9) || !body)
		return -1;
	status = atoi(a + 9);
	cr_expect(strstr(a, "Content-Type: application/json\r\n"), "not JSON: %s", a);
	if ((o = json_tokener_parse(body + 4))) {
		snprintf(cls, cls_size, "%s", td_err_class(o) ? td_err_class(o) : "");
		json_object_put(o);
	}
	return status;
}

/* Send raw bytes on a new connection; the answer's status and class. */
static int raw(const char *req, size_t len, char *cls, size_t cls_size)
{
	char buf[4096];
	int fd = td_connect(&d), st;

	cr_assert_eq(write(fd, req, len), (ssize_t)len);
	read_within(fd, buf, sizeof(buf), 3000);
	close(fd);
	st = answer(buf, cls, cls_size);
	cr_log_info("%.40s... -> %d %s", req, st, cls);
	return st;
}

Test(conns, over_the_limit_503_and_back_at_once)
{
	char buf[1024], cls[64];
	long st = 0;
	struct json_object *o;
	double t0;
	int refused = 0, silent = 0;

	td_start(&d, "max_connections = 20"); /* MAXC */
	settle();
	for (int i = 0; i < NCONNS; i++)
		fds[i] = td_connect(&d);
	for (int i = 0; i < NCONNS; i++) {
		/* the first MAXC wait for a request; the rest are told at once */
		int n = read_within(fds[i], buf, sizeof(buf), i < MAXC ? 100 : 1000);
		if (i < MAXC) {
			if (n >= 0)
				cr_log_error("connection %d: %d '%.80s'", i, n, buf);
			silent += n < 0;
			continue;
		}
		if (answer(buf, cls, sizeof(cls)) == 503 && !strcmp(cls, "TooManyConnections"))
			refused++;
		else
			cr_log_error("connection %d: '%.80s'", i, buf);
	}
	cr_expect_eq(silent, MAXC, "%d of the first %d kept waiting", silent, MAXC);
	cr_expect_eq(refused, NCONNS - MAXC, "%d of %d over the limit told 503", refused,
		     NCONNS - MAXC);
	/* a client of the API at the limit hears why */
	o = td_http(&d, "GET", "/v1/version", NULL, &st);
	cr_expect_eq(st, 503);
	cr_expect_str_eq(td_err_class(o) ? td_err_class(o) : "", "TooManyConnections");
	json_object_put(o);
	/* an idle one among them still gets its answer */
	dprintf(fds[0], "GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n");
	read_within(fds[0], buf, sizeof(buf), 2000);
	cr_expect_eq(strncmp(buf, "HTTP/1.1 200", 12), 0, "a held connection is served: %.60s",
		     buf);

	for (int i = 0; i < NCONNS; i++) {
		close(fds[i]);
		fds[i] = 0;
	}
	t0 = td_now();
	do {
		o = td_http(&d, "GET", "/v1/version", NULL, &st);
		json_object_put(o);
	} while (st != 200 && td_now() < t0 + 5 && !usleep(20 * 1000));
	cr_log_info("served again %.3f s after the connections closed", td_now() - t0);
	cr_expect_eq(st, 200);
	cr_expect_lt(td_now() - t0, 1.0, "served again after %.2f s", td_now() - t0);
}

/* max_connections unset: a quarter of RLIMIT_NOFILE (128 here: 32). The
 * hard limit is 128 too: vmsupd raises its soft limit up to the hard one. */
Test(conns, limit_from_rlimit_nofile)
{
	struct rlimit low = {128, 128};
	char buf[1024], cls[64];
	int refused = 0;

	/* this test's own process (criterion forks one per test) keeps it */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	td_start(&d, NULL); /* inherits the limit */
	settle();
	for (int i = 0; i < 32 + 1; i++)
		fds[i] = td_connect(&d);
	for (int i = 0; i < 32 + 1; i++)
		if (read_within(fds[i], buf, sizeof(buf), i < 32 ? 50 : 1000) > 0 &&
		    answer(buf, cls, sizeof(cls)) == 503)
			refused++;
	cr_expect_eq(refused, 1, "the 33rd of 33 connections is refused (%d refused)", refused);
}

/* The soft limit a service manager gives (1024) runs out near 250 VMs:
 * vmsupd raises it to the hard limit (at most 65536) as it starts. */
Test(conns, soft_nofile_raised_to_the_hard_limit)
{
	struct rlimit was, low;
	char path[64], line[256];
	long long soft = -1, want;
	FILE *f;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	if (was.rlim_max != RLIM_INFINITY && was.rlim_max <= 256)
		cr_skip_test("hard RLIMIT_NOFILE %llu: nothing to raise to",
			     (unsigned long long)was.rlim_max);
	low = was;
	low.rlim_cur = 256;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	td_start(&d, NULL); /* inherits 256 */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	snprintf(path, sizeof(path), "/proc/%d/limits", (int)d.pid);
	cr_assert((f = fopen(path, "re")), "%s", path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Max open files", 14))
			soft = strtoll(line + 14, NULL, 10);
	fclose(f);
	want =
	    was.rlim_max == RLIM_INFINITY || was.rlim_max > 65536 ? 65536 : (long long)was.rlim_max;
	cr_expect_eq(soft, want, "vmsupd's soft RLIMIT_NOFILE is %lld, not %lld", soft, want);
}

Test(conns, slow_client_dropped_others_served)
{
	const char *req = "GET /v1/version HTTP/1.1\r\nHost: slowloris.example\r\nX-Pad: "
			  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
	struct pollfd p;
	double t0, dropped = 0, worst = 0;
	long st;

	td_start(&d, "read_timeout_s = 2");
	fds[0] = td_connect(&d);
	t0 = td_now();
	for (size_t i = 0; i < strlen(req) && td_now() < t0 + 10; i++) {
		if (send(fds[0], req + i, 1, MSG_NOSIGNAL) != 1)
			break;
		p = (struct pollfd){.fd = fds[0], .events = POLLIN};
		if (poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP))) {
			char c;
			cr_expect_leq(read(fds[0], &c, 1), 0, "the slow client got an answer");
			break;
		}
		if (i % 4 == 0) {
			double s = td_now();
			json_object_put(td_http(&d, "GET", "/v1/version", NULL, &st));
			cr_expect_eq(st, 200);
			if (td_now() - s > worst)
				worst = td_now() - s;
		}
		usleep(250 * 1000);
	}
	dropped = td_now() - t0;
	cr_log_info("slow client dropped after %.2f s; others answered within %.3f s", dropped,
		    worst);
	cr_expect_geq(dropped, 1.9, "dropped before the timeout (%.2f s)", dropped);
	cr_expect_lt(dropped, 4.0, "a byte every 250 ms kept it open %.2f s", dropped);
	cr_expect_lt(worst, 1.0, "another client waited %.2f s", worst);
}

Test(conns, libevent_errors_are_json)
{
	static const char big[] =
	    "POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n";
	static const char bad_method[] = "BREW /v1/vms HTTP/1.1\r\nHost: x\r\n\r\n";
	static const char garbage[] = "\x01\x02 \x03\r\n\r\n";
	static const char bad_version[] = "GET /v1/version HTTP/9.z\r\nHost: x\r\n\r\n";
	char cls[64];

	td_start(&d, NULL);
	cr_expect_eq(raw(big, strlen(big), cls, sizeof(cls)), 413);
	cr_expect_str_eq(cls, "TooLarge");
	cr_expect_eq(raw(bad_method, strlen(bad_method), cls, sizeof(cls)), 405);
	cr_expect_str_eq(cls, "MethodNotAllowed");
	cr_expect_eq(raw(garbage, strlen(garbage), cls, sizeof(cls)), 400);
	cr_expect_str_eq(cls, "InvalidParameter");
	cr_expect_eq(raw(bad_version, strlen(bad_version), cls, sizeof(cls)), 400);
	cr_expect_str_eq(cls, "InvalidParameter");
}
