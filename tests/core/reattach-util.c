#include "tests/core/reattach-util.h"
#include "tests/lib/vmctl-run.h"

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double rt_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

double rt_median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

pid_t rt_create(struct tdaemon *d, const char *name, const char *extra)
{
	char body[512];
	long st;
	struct json_object *vm;
	pid_t pid;

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"kvm:tcg\",\"mem_mib\":64%s%s}", name,
		 extra ? "," : "", extra ? extra : "");
	vm = td_http(d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create %s: %ld %s", name, st, td_err_desc(vm));
	cr_assert_str_eq(td_str(vm, "state"), "running", "create %s: %s", name,
			 td_str(vm, "error"));
	pid = (pid_t)td_int(vm, "pid");
	json_object_put(vm);
	return pid;
}

struct json_object *rt_get(struct tdaemon *d, const char *name)
{
	char path[128];
	long st;
	struct json_object *vm;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	vm = td_http(d, "GET", path, NULL, &st);
	cr_assert_eq(st, 200, "GET %s: %ld", path, st);
	return vm;
}

struct json_object *rt_put(struct tdaemon *d, const char *name, const char *what, const char *body)
{
	char path[128];
	struct json_object *r;
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s/%s", name, what);
	r = td_http(d, "PUT", path, body, &st);
	cr_assert_eq(st, 200, "PUT %s %s: %ld %s", path, body, st, td_err_desc(r));
	return r;
}

struct json_object *rt_wait_state(struct tdaemon *d, const char *name, const char *want,
				  pid_t pid_not, int timeout_ms)
{
	double deadline = td_now() + timeout_ms / 1000.0;
	struct json_object *vm = NULL;

	for (;;) {
		const char *s;
		vm = rt_get(d, name);
		s = td_str(vm, "state");
		if (s && !strcmp(s, want) && (pid_not <= 0 || td_int(vm, "pid") != pid_not))
			return vm;
		if (td_now() > deadline)
			break;
		json_object_put(vm);
		usleep(20000);
	}
	cr_assert_fail("VM %s: state %s (error %s), wanted %s within %d ms", name,
		       td_str(vm, "state"), td_str(vm, "error"), want, timeout_ms);
	return NULL;
}

/* `vmctl health` says what GET /v1/health said: ok and exit 0, or
 * degraded, a line "  reason<TAB>vm<TAB>detail" and exit 1. */
static void vmctl_health_agrees(struct tdaemon *d, const char *reason, const char *vm)
{
	char out[8192], line[256];
	int rc = td_vmctl(d, out, sizeof(out), "health", NULL);

	if (!reason) {
		cr_expect(rc == 0 && !strcmp(out, "ok\n"), "vmctl health: exit %d: %s", rc, out);
		return;
	}
	snprintf(line, sizeof(line), "\n  %s\t%s%s", reason, vm ? vm : "", vm ? "\t" : "");
	cr_expect(rc == 1 && !strncmp(out, "degraded\n", 9) && strstr(out, line),
		  "vmctl health: exit %d, wanted 1 and a line for %s %s: %s", rc, reason,
		  vm ? vm : "", out);
}

bool rt_health_says(struct tdaemon *d, const char *reason, const char *vm)
{
	long st;
	struct json_object *h = td_http(d, "GET", "/v1/health", NULL, &st), *rs;
	bool found = false;

	if (!reason)
		found = st == 200 && td_str(h, "status") && !strcmp(td_str(h, "status"), "ok");
	else if (st == 503 && td_str(h, "status") && !strcmp(td_str(h, "status"), "degraded") &&
		 json_object_object_get_ex(h, "reasons", &rs))
		for (size_t i = 0; !found && i < json_object_array_length(rs); i++) {
			struct json_object *r = json_object_array_get_idx(rs, i);
			found = td_str(r, "reason") && !strcmp(td_str(r, "reason"), reason) &&
				(!vm || (td_str(r, "vm") && !strcmp(td_str(r, "vm"), vm)));
		}
	if (!found)
		cr_log_info("health %ld: %s", st, h ? json_object_to_json_string(h) : "(none)");
	else
		vmctl_health_agrees(d, reason, vm);
	json_object_put(h);
	return found;
}

double rt_kill_and_time_crash(int fd, const char *name, pid_t pid, int timeout_ms)
{
	static char buf[1 << 16];
	size_t n = 0;
	double t0 = rt_wall(), deadline = td_now() + timeout_ms / 1000.0;
	char needle[128];

	snprintf(needle, sizeof(needle), "\"vm\":\"%s\",\"type\":\"state\",\"state\":\"crashed\"",
		 name);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int left = (int)((deadline - td_now()) * 1000);
		char *hit, *start, *end;
		ssize_t r;

		buf[n] = '\0';
		if ((hit = strstr(buf, needle))) {
			struct json_object *ev, *ts;
			double t;
			start = hit;
			while (start > buf && *start != '{')
				start--;
			if ((end = strchr(hit, '\n'))) {
				*end = '\0';
				ev = json_tokener_parse(start);
				cr_assert_not_null(ev, "event line: %s", start);
				cr_assert(json_object_object_get_ex(ev, "ts", &ts));
				t = json_object_get_double(ts) - t0;
				json_object_put(ev);
				return t;
			}
		}
		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		if (n >= sizeof(buf) - 1)
			n = 0; /* only the tail can hold the event still to come */
		r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r <= 0)
			return -1;
		n += (size_t)r;
	}
}
