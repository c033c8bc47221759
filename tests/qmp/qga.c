/* Guest-agent sessions against the scripted fake agent: sync and order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/qmp/fake-env.h"

#define WAIT_MS 20000
#define SYNC_OK "\xff{\"return\": @SYNC@}\n"
#define PING_OK "{\"return\": {}}\n"

TestSuite(qga_fake, .init = tu_fake_setup_qga, .fini = tu_fake_teardown, .timeout = 60);

static void start(const struct fq_step *script, unsigned timeout_ms, struct tu_ready *ready)
{
	struct qmp_options opt = {.default_timeout_ms = timeout_ms};

	tu_fake_start(&fx, QMP_KIND_QGA, script, &opt, ready, WAIT_MS);
}

static const char *cmd_name(size_t i)
{
	struct json_object *x;

	return json_object_object_get_ex(fake_qmp_command(fx.fake, i), "execute", &x)
		   ? json_object_get_string(x)
		   : "(none)";
}

static void call_ok(const char *cmd, const char *want_key)
{
	struct tu_reply r = {0};

	cr_assert_gt(qmp_call(fx.s, cmd, NULL, 0, tu_reply_fn, &r, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &r.done, WAIT_MS), 0, "%s: no reply", cmd);
	cr_assert_not(r.failed, "%s: %s: %s", cmd, r.err.cls, r.err.desc);
	if (want_key)
		cr_assert(json_object_object_get_ex(r.ret, want_key, NULL), "%s: %s", cmd,
			  json_object_to_json_string(r.ret));
	tu_reply_clear(&r);
}

Test(qga_fake, garbage_before_the_sentinel_is_dropped)
{
	const struct fq_step script[] = {
	    /* an old reply and half a message, left over in the channel */
	    {FQ_SEND, "{\"return\": {\"stale\": 1}}\n{\"return\": {\"x\": [1, 2"},
	    {FQ_EXPECT, "guest-sync-delimited"},
	    {FQ_SEND, "}}\n\x01\x02 not json {{{" SYNC_OK, .split = 3},
	    {FQ_EXPECT, "guest-info"},
	    {FQ_SEND, "{\"return\": {\"version\": \"7.2\"}}\n"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};

	start(script, 0, &ready);
	cr_assert_not(ready.failed, "%s", ready.err.desc);
	cr_assert(qmp_is_ready(fx.s));
	call_ok("guest-info", "version");
	tu_fake_done(&fx, WAIT_MS);
}

Test(qga_fake, stale_sync_reply_is_skipped)
{
	const struct fq_step script[] = {
	    {FQ_EXPECT, "guest-sync-delimited"},
	    /* the answer to an earlier sync (other id) comes first */
	    {FQ_SEND, "\xff{\"return\": 12345}\n"},
	    {FQ_SLEEP, .ms = 50},
	    {FQ_SEND, SYNC_OK},
	    {FQ_EXPECT, "guest-ping"},
	    {FQ_SEND, PING_OK},
	    {FQ_END},
	};
	struct tu_ready ready = {0};

	start(script, 0, &ready);
	cr_assert_not(ready.failed, "%s", ready.err.desc);
	call_ok("guest-ping", NULL);
	tu_fake_done(&fx, WAIT_MS);
}

Test(qga_fake, commands_go_one_at_a_time_in_order)
{
	const struct fq_step script[] = {
	    {FQ_EXPECT, "guest-sync-delimited"},
	    {FQ_SEND, SYNC_OK},
	    {FQ_EXPECT, "a"},
	    {FQ_QUIET, .ms = 150},
	    {FQ_SEND, "{\"return\": \"ra\"}\n"},
	    {FQ_EXPECT, "b"},
	    {FQ_QUIET, .ms = 150},
	    {FQ_SEND, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"b failed\"}}\n"},
	    {FQ_EXPECT, "c"},
	    {FQ_SEND, "{\"return\": \"rc\"}\n"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply ra = {0}, rb = {0}, rc = {0};

	start(script, 0, &ready);
	qmp_call(fx.s, "a", NULL, 0, tu_reply_fn, &ra, NULL);
	qmp_call(fx.s, "b", NULL, 0, tu_reply_fn, &rb, NULL);
	qmp_call(fx.s, "c", NULL, 0, tu_reply_fn, &rc, NULL);
	cr_assert_eq(tu_run_until(fx.base, &rc.done, WAIT_MS), 0);
	tu_fake_done(&fx, WAIT_MS);
	cr_assert(ra.done && rb.done);
	cr_assert_str_eq(json_object_get_string(ra.ret), "ra");
	cr_assert(rb.failed);
	cr_assert_str_eq(rb.err.desc, "b failed");
	cr_assert_str_eq(json_object_get_string(rc.ret), "rc");
	tu_reply_clear(&ra);
	tu_reply_clear(&rc);
}

Test(qga_fake, timeout_then_resync_before_the_next_command)
{
	const struct fq_step script[] = {
	    {FQ_EXPECT, "guest-sync-delimited"},
	    {FQ_SEND, SYNC_OK},
	    {FQ_EXPECT, "guest-get-osinfo"}, /* never answered in time */
	    {FQ_EXPECT, "guest-sync-delimited"},
	    /* the late answer arrives first and must not be taken as the
	     * next command's reply */
	    {FQ_SEND, "{\"return\": {\"id\": \"debian\"}}\n" SYNC_OK},
	    {FQ_EXPECT, "guest-ping"},
	    {FQ_SEND, PING_OK},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply r = {0}, p = {0};

	start(script, 0, &ready);
	qmp_call(fx.s, "guest-get-osinfo", NULL, 200, tu_reply_fn, &r, NULL);
	cr_assert_eq(tu_run_until(fx.base, &r.done, WAIT_MS), 0);
	cr_assert(r.failed);
	cr_assert_str_eq(r.err.cls, QMP_ERR_TIMEOUT);
	qmp_call(fx.s, "guest-ping", NULL, 0, tu_reply_fn, &p, NULL);
	cr_assert_eq(tu_run_until(fx.base, &p.done, WAIT_MS), 0);
	cr_assert_not(p.failed, "%s", p.err.desc);
	cr_assert_eq(json_object_object_length(p.ret), 0, "got %s",
		     json_object_to_json_string(p.ret));
	tu_fake_done(&fx, WAIT_MS);
	cr_assert_str_eq(cmd_name(2), "guest-sync-delimited");
	tu_reply_clear(&p);
}

Test(qga_fake, noreply_command_then_resync)
{
	const struct fq_step script[] = {
	    {FQ_EXPECT, "guest-sync-delimited"},
	    {FQ_SEND, SYNC_OK},
	    {FQ_EXPECT, "guest-shutdown"},
	    {FQ_EXPECT, "guest-sync-delimited"},
	    {FQ_SEND, SYNC_OK},
	    {FQ_EXPECT, "guest-ping"},
	    {FQ_SEND, PING_OK},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct qmp_error err;

	start(script, 0, &ready);
	cr_assert_gt(qmp_call_noreply(fx.s, "guest-shutdown", NULL, &err), 0, "%s", err.desc);
	call_ok("guest-ping", NULL);
	tu_fake_done(&fx, WAIT_MS);
}

Test(qga_fake, silent_agent_fails_ready_but_later_calls_resync)
{
	const struct fq_step script[] = {
	    {FQ_EXPECT, "guest-sync-delimited"}, /* agent not up yet */
	    {FQ_EXPECT, "guest-sync-delimited"},
	    {FQ_SEND, SYNC_OK},
	    {FQ_EXPECT, "guest-ping"},
	    {FQ_SEND, PING_OK},
	    {FQ_END},
	};
	struct tu_ready ready = {0};

	start(script, 200, &ready);
	cr_assert(ready.failed);
	cr_assert_str_eq(ready.err.cls, QMP_ERR_TIMEOUT);
	cr_assert_not(qmp_is_ready(fx.s));
	call_ok("guest-ping", NULL);
	cr_assert(qmp_is_ready(fx.s));
	cr_assert_eq(ready.done, 1);
	tu_fake_done(&fx, WAIT_MS);
}

Test(qga_fake, queued_command_times_out_without_being_sent)
{
	const struct fq_step script[] = {
	    {FQ_EXPECT, "guest-sync-delimited"},
	    {FQ_SEND, SYNC_OK},
	    {FQ_EXPECT, "slow"},
	    {FQ_QUIET, .ms = 400},
	    {FQ_SEND, "{\"return\": \"slow\"}\n"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply a = {0}, b = {0};

	start(script, 0, &ready);
	qmp_call(fx.s, "slow", NULL, 5000, tu_reply_fn, &a, NULL);
	qmp_call(fx.s, "queued", NULL, 100, tu_reply_fn, &b, NULL);
	cr_assert_eq(tu_run_until(fx.base, &b.done, WAIT_MS), 0);
	cr_assert_str_eq(b.err.cls, QMP_ERR_TIMEOUT);
	cr_assert_eq(tu_run_until(fx.base, &a.done, WAIT_MS), 0);
	cr_assert_not(a.failed, "%s", a.err.desc);
	tu_fake_done(&fx, WAIT_MS);
	tu_reply_clear(&a);
}

Test(qga_fake, disconnect_fails_queued_and_in_flight)
{
	const struct fq_step script[] = {
	    {FQ_EXPECT, "guest-sync-delimited"}, {FQ_SEND, SYNC_OK}, {FQ_EXPECT, "a"},
	    {FQ_SEND, "{\"return\": {\"par"},	 {FQ_CLOSE},	     {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply a = {0}, b = {0};

	start(script, 0, &ready);
	qmp_call(fx.s, "a", NULL, 0, tu_reply_fn, &a, NULL);
	qmp_call(fx.s, "b", NULL, 0, tu_reply_fn, &b, NULL);
	cr_assert_eq(tu_run_until(fx.base, &b.done, WAIT_MS), 0);
	cr_assert_str_eq(a.err.cls, QMP_ERR_DISCONNECTED);
	cr_assert_str_eq(b.err.cls, QMP_ERR_DISCONNECTED);
	cr_assert_eq(a.calls + b.calls, 2);
}

static void no_event(struct qmp_session *ss, const char *name, struct json_object *data,
		     int64_t sec, int64_t usec, void *arg)
{
}

Test(qga_fake, events_are_not_for_agents)
{
	fx.s = qmp_session_new(fx.base, QMP_KIND_QGA, NULL);
	cr_assert_eq(qmp_subscribe(fx.s, no_event, NULL), -1);
}
