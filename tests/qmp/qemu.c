/* libqmp against a real, guest-less QEMU. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/qmp/qemu.h"
#include "tests/qmp/util.h"

#define WAIT_MS 60000

static struct tq_env env;

static void boot(const char *const *accel)
{
	if (!tq_qemu_binary())
		tq_env_skip(&env, "qemu-system-x86_64 not found (set QEMU)");
	cr_assert_eq(tq_qemu_start(&env.q, env.dir, accel), 0, "qemu did not start (log %s)",
		     env.q.log);
}

static void open_sync(void)
{
	tq_env_open(&env, QMP_KIND_QMP, WAIT_MS);
}

static void setup(void)
{
	tq_env_init(&env);
}

static void teardown(void)
{
	tq_env_fini(&env);
}

TestSuite(qemu, .init = setup, .fini = teardown, .timeout = 120);

static const char *str_at(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : NULL;
}

static int bool_at(struct json_object *o, const char *k)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_boolean),
		  "no boolean %s in %s", k, json_object_to_json_string(o));
	return json_object_get_boolean(v);
}

static struct json_object *call(const char *cmd)
{
	struct json_object *ret;
	struct qmp_error err;

	cr_assert_eq(qmp_sync_call(env.c, cmd, NULL, WAIT_MS, &ret, &err), 0, "%s: %s: %s", cmd,
		     err.cls, err.desc);
	return ret;
}

static const char *status(void)
{
	static char st[64];
	struct json_object *r = call("query-status");

	snprintf(st, sizeof(st), "%s", str_at(r, "status"));
	json_object_put(r);
	return st;
}

Test(qemu, greeting_and_capabilities)
{
	struct event_base *base = event_base_new();
	struct qmp_session *s = qmp_session_new(base, QMP_KIND_QMP, NULL);
	struct tu_ready ready = {0};
	struct json_object *g, *qmp, *caps, *ver, *qemu, *major;

	boot(NULL);
	cr_assert_eq(qmp_connect(s, env.q.sock, tu_ready_fn, &ready, NULL), 0);
	cr_assert_eq(tu_run_until(base, &ready.done, WAIT_MS), 0);
	cr_assert_not(ready.failed, "%s", ready.err.desc);
	g = qmp_greeting(s);
	cr_assert(json_object_object_get_ex(g, "QMP", &qmp));
	cr_assert(json_object_object_get_ex(qmp, "capabilities", &caps));
	cr_assert(json_object_is_type(caps, json_type_array));
	cr_assert(json_object_object_get_ex(qmp, "version", &ver));
	cr_assert(json_object_object_get_ex(ver, "qemu", &qemu));
	cr_assert(json_object_object_get_ex(qemu, "major", &major));
	cr_assert_geq(json_object_get_int(major), 2);
	char want[32];
	snprintf(want, sizeof(want), "%d.", json_object_get_int(major));
	cr_assert_eq(strncmp(qmp_version(s), want, strlen(want)), 0, "%s", qmp_version(s));
	int offered = 0;
	for (size_t i = 0; i < json_object_array_length(caps); i++)
		offered |=
		    !strcmp(json_object_get_string(json_object_array_get_idx(caps, i)), "oob");
	cr_assert_eq(qmp_has_oob(s), offered);

	/* capabilities were accepted: a normal command now works */
	struct tu_reply r = {0};
	cr_assert_gt(qmp_call(s, "query-version", NULL, 0, tu_reply_fn, &r, NULL), 0);
	cr_assert_eq(tu_run_until(base, &r.done, WAIT_MS), 0);
	cr_assert_not(r.failed, "%s", r.err.desc);
	tu_reply_clear(&r);
	qmp_session_free(s);
	event_base_free(base);
}

Test(qemu, query_status_is_prelaunch)
{
	boot(NULL);
	open_sync();
	cr_assert_str_eq(status(), "prelaunch");
}

Test(qemu, cont_resumes_and_stop_stops)
{
	struct json_object *data;
	struct qmp_error err;

	boot(NULL);
	open_sync();
	json_object_put(call("cont"));
	cr_assert_eq(qmp_sync_wait_event(env.c, "RESUME", WAIT_MS, &data, &err), 0, "%s", err.desc);
	json_object_put(data);
	cr_assert_str_eq(status(), "running");
	json_object_put(call("stop"));
	cr_assert_eq(qmp_sync_wait_event(env.c, "STOP", WAIT_MS, NULL, &err), 0, "%s", err.desc);
	cr_assert_str_eq(status(), "paused");
}

struct tsrec {
	int n;
	int64_t sec;
};

static void on_resume(struct qmp_session *s, const char *name, struct json_object *data,
		      int64_t sec, int64_t usec, void *arg)
{
	struct tsrec *t = arg;

	if (!strcmp(name, "RESUME")) {
		t->n++;
		t->sec = sec;
		cr_assert(usec >= 0 && usec < 1000000);
	}
}

Test(qemu, event_timestamps_are_wall_clock)
{
	struct tsrec t = {0};
	struct qmp_error err;

	boot(NULL);
	open_sync();
	cr_assert_gt(qmp_subscribe(qmp_sync_session(env.c), on_resume, &t), 0);
	json_object_put(call("cont"));
	cr_assert_eq(qmp_sync_wait_event(env.c, "RESUME", WAIT_MS, NULL, &err), 0, "%s", err.desc);
	cr_assert_eq(t.n, 1);
	cr_assert(llabs(t.sec - (int64_t)time(NULL)) < 120, "timestamp %lld", (long long)t.sec);
}

Test(qemu, query_kvm_with_kvm_or_tcg)
{
	const char *const accel[] = {"-accel", "kvm", "-accel", "tcg", NULL};

	boot(accel);
	open_sync();
	struct json_object *r = call("query-kvm");
	int enabled = bool_at(r, "enabled");
	bool_at(r, "present");
	json_object_put(r);
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		cr_assert_not(enabled, "KVM enabled without a usable /dev/kvm");
	/* whichever accelerator it fell back to, the VM runs */
	json_object_put(call("cont"));
	cr_assert_str_eq(status(), "running");
}

Test(qemu, errors_come_back_with_their_class)
{
	struct qmp_error err;

	boot(NULL);
	open_sync();
	cr_assert_eq(qmp_sync_call(env.c, "no-such-command", NULL, 0, NULL, &err), -1);
	cr_assert_str_eq(err.cls, "CommandNotFound");
	cr_assert(strstr(err.desc, "no-such-command"), "%s", err.desc);
	struct json_object *args = json_object_new_object();
	json_object_object_add(args, "bogus", json_object_new_int(1));
	cr_assert_eq(qmp_sync_call(env.c, "query-status", args, 0, NULL, &err), -1);
	cr_assert_str_eq(err.cls, "GenericError");
	/* the session is still usable */
	cr_assert_str_eq(status(), "prelaunch");
}

static void count_reply(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
			void *arg)
{
	int *n = arg;

	if (!err && ret &&
	    !strcmp(json_object_get_string(json_object_object_get(ret, "status")), "prelaunch"))
		(*n)++;
	else
		*n = -100000;
}

Test(qemu, many_commands_in_flight)
{
	int n = 0;

	boot(NULL);
	open_sync();
	struct qmp_session *s = qmp_sync_session(env.c);
	for (int i = 0; i < 200; i++)
		cr_assert_gt(qmp_call(s, "query-status", NULL, WAIT_MS, count_reply, &n, NULL), 0);
	/* a sync call queued behind them is answered after all of them */
	cr_assert_str_eq(status(), "prelaunch");
	cr_assert_eq(n, 200);
}

static void ok_reply(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	(void)s, (void)ret;
	*(int *)arg = err ? -1 : 1;
}

/* qmp_call_fd hands qemu the descriptor (getfd): closefd then knows it */
Test(qemu, call_fd_passes_a_descriptor)
{
	struct json_object *ret;
	struct qmp_error err;
	int p[2], got = 0;

	boot(NULL);
	open_sync();
	struct qmp_session *s = qmp_sync_session(env.c);
	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(qmp_call_fd(s, "getfd", NULL, -1, WAIT_MS, ok_reply, &got, &err), -1);
	cr_assert_gt(qmp_call_fd(s, "getfd", json_tokener_parse("{\"fdname\":\"t\"}"), p[1],
				 WAIT_MS, ok_reply, &got, &err),
		     0, "%s", err.desc);
	/* a sync call queued behind it is answered after it */
	cr_assert_str_eq(status(), "prelaunch");
	cr_assert_eq(got, 1, "getfd failed");
	cr_assert_eq(qmp_sync_call(env.c, "closefd", json_tokener_parse("{\"fdname\":\"t\"}"),
				   WAIT_MS, &ret, &err),
		     0, "closefd: %s", err.desc);
	json_object_put(ret);
	/* qemu held a copy of the write end: with it and ours closed, EOF */
	close(p[1]);
	cr_assert_eq(read(p[0], &got, 1), 0);
	close(p[0]);
}

Test(qemu, quit_gives_shutdown_then_disconnect)
{
	struct json_object *data;
	struct qmp_error err;
	struct tu_close cl = {0};

	boot(NULL);
	open_sync();
	qmp_on_close(qmp_sync_session(env.c), tu_close_fn, &cl);
	json_object_put(call("quit"));
	cr_assert_eq(qmp_sync_wait_event(env.c, "SHUTDOWN", WAIT_MS, &data, &err), 0, "%s",
		     err.desc);
	cr_assert(data);
	cr_assert_not(bool_at(data, "guest"), "quit is a host-initiated shutdown");
	json_object_put(data);
	/* then the connection ends: waiting for anything more fails */
	cr_assert_eq(qmp_sync_wait_event(env.c, "NEVER", WAIT_MS, NULL, &err), -1);
	cr_assert_str_eq(err.cls, QMP_ERR_DISCONNECTED);
	cr_assert_eq(cl.done, 1);
	cr_assert_str_eq(cl.why.cls, QMP_ERR_DISCONNECTED);
	cr_assert_eq(qmp_sync_call(env.c, "query-status", NULL, 0, NULL, &err), -1);
	cr_assert_str_eq(err.cls, QMP_ERR_DISCONNECTED);
	cr_assert_eq(tq_qemu_wait(&env.q, WAIT_MS), 0, "qemu still running after quit");
	cr_assert(WIFEXITED(env.q.status) && WEXITSTATUS(env.q.status) == 0);
}

Test(qemu, killed_qemu_fails_pending_commands)
{
	struct tu_close cl = {0};
	struct tu_reply r = {0};

	boot(NULL);
	open_sync();
	struct qmp_session *s = qmp_sync_session(env.c);
	qmp_on_close(s, tu_close_fn, &cl);
	/* a command qemu will not answer before it dies: none exists on an
	 * idle monitor, so kill it first and call right after */
	tq_qemu_kill(&env.q);
	qmp_call(s, "query-status", NULL, WAIT_MS, tu_reply_fn, &r, NULL);
	struct qmp_error err;
	cr_assert_eq(qmp_sync_wait_event(env.c, "NEVER", WAIT_MS, NULL, &err), -1);
	cr_assert_str_eq(err.cls, QMP_ERR_DISCONNECTED);
	cr_assert_eq(r.calls, 1);
	cr_assert_str_eq(r.err.cls, QMP_ERR_DISCONNECTED);
	cr_assert_eq(cl.done, 1);
}

Test(qemu, second_client_is_refused_or_waits_cleanly)
{
	struct qmp_error err;

	boot(NULL);
	open_sync();
	/* qemu serves one client per monitor; the second must fail with an
	 * error (busy or timeout), never hang or crash */
	struct qmp_sync *c2 = qmp_sync_open(env.q.sock, QMP_KIND_QMP, 1000, &err);
	if (c2) {
		qmp_sync_close(c2);
		cr_assert_fail("second client got a session");
	}
	cr_assert(!strcmp(err.cls, QMP_ERR_CONNECT) || !strcmp(err.cls, QMP_ERR_TIMEOUT), "%s",
		  err.cls);
	cr_assert_str_eq(status(), "prelaunch");
}
