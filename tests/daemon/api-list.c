/*
 * Real vmsupd, real qemu (guest-less): GET /v1/vms keeps each VM's record
 * as text between changes (src/core/vm-status.c). After each kind of
 * change its entry must show the change and equal GET /v1/vms/NAME. The
 * daemon runs with VMSUP_STATUS_CACHE_CHECK (the harness), so a kept
 * record that went stale also aborts it.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/daemon-harness.h"

static struct tdaemon d;

static void up(void)
{
	td_start(&d, NULL);
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(list, .init = up, .fini = down, .timeout = 240);

/* a and b but their restart countdown, which moves between two reads */
static bool same_record(struct json_object *a, struct json_object *b)
{
	struct json_object *ca = json_object_get(json_object_object_get(a, "restart_pending_s"));
	struct json_object *cb = json_object_get(json_object_object_get(b, "restart_pending_s"));
	bool same;

	json_object_object_add(a, "restart_pending_s", NULL);
	json_object_object_add(b, "restart_pending_s", NULL);
	same = json_object_equal(a, b) && !ca == !cb;
	json_object_object_add(a, "restart_pending_s", ca);
	json_object_object_add(b, "restart_pending_s", cb);
	return same;
}

/* The list's entry for name (a new reference; NULL if the list has none),
 * after checking it equals the single-VM GET. A change may land between
 * the two reads: they are read again; a stale list would stay different. */
static struct json_object *listed(const char *name)
{
	for (int tries = 0;; tries++) {
		long st, st1;
		struct json_object *l = td_http(&d, "GET", "/v1/vms", NULL, &st), *vms, *e = NULL;
		struct json_object *one;
		char path[128];
		bool same;

		cr_assert_eq(st, 200, "GET /v1/vms: %ld", st);
		cr_assert(json_object_object_get_ex(l, "vms", &vms) &&
			  json_object_is_type(vms, json_type_array));
		for (size_t i = 0; i < json_object_array_length(vms); i++) {
			struct json_object *v = json_object_array_get_idx(vms, i);
			if (!strcmp(td_str(v, "name"), name))
				e = json_object_get(v);
		}
		json_object_put(l);
		snprintf(path, sizeof(path), "/v1/vms/%s", name);
		one = td_http(&d, "GET", path, NULL, &st1);
		same = e ? st1 == 200 && same_record(e, one) : st1 == 404;
		if (!same && tries < 10) {
			json_object_put(e);
			json_object_put(one);
			usleep(50000);
			continue;
		}
		cr_expect(same, "list entry %s\n!= GET (%ld) %s",
			  e ? json_object_to_json_string(e) : "none", st1,
			  json_object_to_json_string(one));
		json_object_put(one);
		return e;
	}
}

static void create(const char *name, const char *extra)
{
	char body[512];
	long st;
	struct json_object *r;

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64%s}", name,
		 extra ? extra : "");
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create %s: %ld %s", name, st, td_err_desc(r));
	json_object_put(r);
}

static void post(const char *name, const char *action, const char *body, long want)
{
	char path[128];
	long st;
	struct json_object *r;

	snprintf(path, sizeof(path), "/v1/vms/%s/%s", name, action);
	r = td_http(&d, "POST", path, body, &st);
	cr_assert_eq(st, want, "%s: %ld %s", path, st, td_err_desc(r));
	json_object_put(r);
}

/* Poll the list (bounded) until name's field is want ("null" for null). */
static struct json_object *list_until(const char *name, const char *field, const char *want)
{
	double deadline = td_now() + 20;

	for (;;) {
		struct json_object *e = listed(name), *v = NULL;
		const char *s;
		cr_assert(e, "%s is not listed", name);
		json_object_object_get_ex(e, field, &v);
		s = v ? json_object_get_string(v) : "null";
		if (!strcmp(s, want))
			return e;
		cr_assert_lt(td_now(), deadline, "%s's %s: %s in the list, not %s", name, field, s,
			     want);
		json_object_put(e);
		usleep(20000);
	}
}

Test(list, shows_each_change_as_the_single_get_does)
{
	struct json_object *e;
	pid_t pid, pid2;
	long st;

	create("l1", NULL);
	create("l2", NULL);
	e = list_until("l1", "state", "running");
	pid = (pid_t)td_int(e, "pid");
	cr_assert_gt(pid, 0);
	cr_expect_eq(td_int(e, "exit_signal"), -1);
	json_object_put(e);
	json_object_put(listed("l2")); /* both kept now */

	/* behind the API's back: qemu's STOP event alone makes it paused */
	post("l1", "qmp", "{\"execute\":\"stop\"}", 200);
	json_object_put(list_until("l1", "state", "paused"));
	post("l1", "resume", NULL, 200);
	json_object_put(list_until("l1", "state", "running"));

	/* a setting through its own route, saved before the reply */
	json_object_put(td_http(&d, "PUT", "/v1/vms/l1/autostart", "{\"autostart\":true}", &st));
	cr_assert_eq(st, 200);
	json_object_put(list_until("l1", "autostart", "true"));

	/* the limits module's fields, where cgroups are there to set them */
	json_object_put(td_http(&d, "PUT", "/v1/vms/l1/cpu", "{\"quota_pct\":50}", &st));
	if (st == 200)
		json_object_put(list_until("l1", "cpu_quota_pct", "50"));
	else
		cr_log_warn("PUT cpu: %ld (no cgroups?): quota not checked", st);

	/* the process dies outside the daemon: crashed, its exit facts, no pid */
	cr_assert_eq(kill(pid, SIGKILL), 0);
	e = list_until("l1", "state", "crashed");
	cr_expect_eq(td_int(e, "pid"), -1);
	cr_expect_eq(td_int(e, "exit_signal"), SIGKILL);
	cr_expect(td_str(e, "error") && *td_str(e, "error"), "the crash has its error");
	cr_expect_null(td_str(e, "qmp"), "no QMP connection: null");
	json_object_put(e);

	/* started again: a new pid, the last exit's facts cleared */
	post("l1", "start", NULL, 200);
	e = list_until("l1", "state", "running");
	pid2 = (pid_t)td_int(e, "pid");
	cr_expect(pid2 > 0 && pid2 != pid, "new pid %d (was %d)", (int)pid2, (int)pid);
	cr_expect_eq(td_int(e, "exit_signal"), -1);
	cr_expect_str_eq(td_str(e, "qmp") ? td_str(e, "qmp") : "null", "ok");
	cr_expect_null(td_str(e, "error"));
	json_object_put(e);

	/* the other VM was listed from its kept text all along */
	e = listed("l2");
	cr_expect_str_eq(td_str(e, "state"), "running");
	json_object_put(e);

	/* destroyed: gone from the list */
	cr_expect_eq(td_destroy(&d, "l1"), 200);
	cr_expect_null(listed("l1"));
}

/* restart_pending_s counts down, and missing is a stat: both live, not kept. */
Test(list, live_fields_are_read_at_each_list)
{
	char dir[] = "/tmp/vmsup-list-XXXXXX", extra[256];
	struct json_object *e, *v;
	double deadline;
	pid_t pid;

	cr_assert(mkdtemp(dir));
	snprintf(extra, sizeof(extra),
		 ",\"restart\":\"on-failure\",\"shares\":[{\"path\":\"%s\",\"readonly\":true}]",
		 dir);
	create("lv", extra);
	e = list_until("lv", "state", "running");
	pid = (pid_t)td_int(e, "pid");
	cr_expect(json_object_object_get_ex(e, "missing", &v) && json_object_array_length(v) == 0);
	json_object_put(e);

	cr_assert_eq(rmdir(dir), 0);
	e = listed("lv");
	cr_assert(json_object_object_get_ex(e, "missing", &v) && json_object_array_length(v) == 1,
		  "missing: %s", json_object_to_json_string(v));
	cr_expect(strstr(json_object_get_string(json_object_array_get_idx(v, 0)), "shares[0]"));
	json_object_put(e);
	cr_assert_eq(mkdir(dir, 0755), 0);

	/* a crash arms the policy's attempt: the list shows its countdown */
	cr_assert_eq(kill(pid, SIGKILL), 0);
	deadline = td_now() + 20;
	for (;;) {
		e = listed("lv");
		if (json_object_object_get_ex(e, "restart_pending_s", &v) && v)
			break;
		cr_assert_lt(td_now(), deadline, "no restart_pending_s after the crash: %s",
			     json_object_to_json_string(e));
		json_object_put(e);
		usleep(10000);
	}
	cr_expect_geq(json_object_get_double(v), 0);
	json_object_put(e);
	/* and once restarted, null again */
	e = list_until("lv", "restart_pending_s", "null");
	json_object_put(e);
	e = list_until("lv", "state", "running");
	cr_expect_eq(td_int(e, "restarts"), 1);
	json_object_put(e);
	cr_expect_eq(td_destroy(&d, "lv"), 200);
	rmdir(dir);
}
