#include "tests/guest/gtest.h"

#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "src/util/b64.h"

void gt_create(struct tdaemon *d, const char *name)
{
	gt_create_with(d, name, NULL);
}

void gt_create_with(struct tdaemon *d, const char *name, const char *extra)
{
	const char *gd = getenv("VMSUP_GUEST_DIR");
	char kernel[512], initrd[512], append[512] = "console=ttyS0", body[2048];
	struct json_object *r;
	long st;

	if (!gd || access(gd, R_OK))
		gd = "/tmp/guest";
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", gd);
	if (access(kernel, R_OK) || access(initrd, R_OK))
		cr_skip_test("no test guest in %s (scripts/mkguest.sh builds it)", gd);
	td_guest_append(gd, append, sizeof(append));
	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\",\"append\":\"%s\"%s%s}",
		 name, kernel, initrd, append, extra ? "," : "", extra ? extra : "");
	r = td_http(d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create %s: %ld %s", name, st, td_err_desc(r));
	cr_assert_str_eq(td_str(r, "state"), "running");
	json_object_put(r);
}

struct json_object *gt_create_bare(struct tdaemon *d, const char *name, const char *net, long *st)
{
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"accel\":\"tcg\",\"guest\":false,\"net\":%s}", name, net);
	return td_http(d, "POST", "/v1/vms", body, st);
}

int gt_sh(struct tdaemon *d, const char *name, const char *script, char *out, size_t n)
{
	const char *argv[] = {"sh", "-c", script, NULL};
	struct gt_exec x;
	int rc;

	gt_exec(d, name, argv, NULL, 0, &x);
	cr_assert_eq(x.http, 200, "%s: %ld %s", script, x.http, td_err_desc(x.reply));
	rc = x.exitcode;
	if (out)
		snprintf(out, n, "%.*s", (int)x.out_len, x.out ? (const char *)x.out : "");
	gt_exec_free(&x);
	return rc;
}

struct json_object *gt_wait_ip(struct tdaemon *d, const char *name)
{
	char path[160];
	struct json_object *r;
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s/ip?wait=%d", name, GT_BOOT_S);
	r = td_http(d, "GET", path, NULL, &st);
	cr_assert_eq(st, 200, "ip of %s: %ld %s", name, st, td_err_desc(r));
	return r;
}

static unsigned char *decode(struct json_object *r, const char *key, size_t *n)
{
	const char *s = td_str(r, key);
	unsigned char *p;

	cr_assert_not_null(s, "no %s in the exec reply", key);
	p = b64_decode(s, strlen(s), n);
	cr_assert_not_null(p, "%s is not base64", key);
	return p;
}

void gt_exec_raw(struct tdaemon *d, const char *name, const char *body, struct gt_exec *r)
{
	char path[160];

	memset(r, 0, sizeof(*r));
	snprintf(path, sizeof(path), "/v1/vms/%s/exec", name);
	r->reply = td_http(d, "POST", path, body, &r->http);
	r->status = (int)td_int(r->reply, "status");
	r->exitcode = (int)td_int(r->reply, "exitcode");
	r->signal = td_int(r->reply, "signal") > 0 ? (int)td_int(r->reply, "signal") : 0;
	if (r->http == 200) {
		r->out = decode(r->reply, "stdout_b64", &r->out_len);
		r->err = decode(r->reply, "stderr_b64", &r->err_len);
	}
}

void gt_exec(struct tdaemon *d, const char *name, const char *const *argv, const void *in,
	     size_t in_len, struct gt_exec *r)
{
	struct json_object *b = json_object_new_object(), *a = json_object_new_array();

	for (size_t i = 0; argv[i]; i++)
		json_object_array_add(a, json_object_new_string(argv[i]));
	json_object_object_add(b, "argv", a);
	if (in) {
		char *s = b64_encode(in, in_len);
		cr_assert_not_null(s);
		json_object_object_add(b, "input_b64", json_object_new_string(s));
		free(s);
	}
	gt_exec_raw(d, name, json_object_to_json_string_ext(b, JSON_C_TO_STRING_PLAIN), r);
	json_object_put(b);
}

void gt_exec_free(struct gt_exec *r)
{
	free(r->out);
	free(r->err);
	json_object_put(r->reply);
	memset(r, 0, sizeof(*r));
}

static int raw(struct tdaemon *d, const char *method, const char *path, const char *body)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char req[2048];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(strlen(d->sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, d->sock, strlen(d->sock) + 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req),
		 "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Content-Length: %zu\r\n\r\n%s",
		 method, path, strlen(body), body);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	return fd;
}

int gt_raw_request(struct tdaemon *d, const char *method, const char *path)
{
	return raw(d, method, path, "");
}

int gt_raw_post(struct tdaemon *d, const char *path, const char *body)
{
	return raw(d, "POST", path, body);
}

int gt_reply_status(int fd, int timeout_ms)
{
	char buf[64];
	size_t n = 0;
	double deadline = td_now() + timeout_ms / 1000.0;
	int code = -1;

	/* "HTTP/1.1 NNN" is all we read: the first bytes of the reply */
	while (n < 12) {
		struct pollfd p = {fd, POLLIN, 0};
		int left = (int)((deadline - td_now()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		if ((r = read(fd, buf + n, 12 - n)) <= 0)
			return -1;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &code) != 1)
		return -1;
	return code;
}
