/* QMP sessions against the scripted fake server: framing and faults. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/qmp/fake-env.h"

#define CAPS_OK "{\"return\": {}, \"id\": @LAST@}\r\n"
#define WAIT_MS 20000

TestSuite(qmp_fake, .init = tu_fake_setup_qmp, .fini = tu_fake_teardown, .timeout = 60);

/* Start the fake with script and connect a session with opt. */
static void start(const struct fq_step *script, const struct qmp_options *opt,
		  struct tu_ready *ready)
{
	tu_fake_start(&fx, QMP_KIND_QMP, script, opt, ready, WAIT_MS);
}

static const char *ret_str(struct json_object *ret, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(ret, key, &v) ? json_object_get_string(v) : "";
}

Test(qmp_fake, handshake_negotiates_oob_and_reads_version)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_END},
	};
	struct tu_ready ready = {0};

	start(script, NULL, &ready);
	cr_assert_not(ready.failed, "%s", ready.err.desc);
	cr_assert_eq(ready.done, 1);
	cr_assert(qmp_is_ready(fx.s));
	cr_assert_str_eq(qmp_version(fx.s), "7.2.22");
	cr_assert(qmp_has_oob(fx.s));
	cr_assert(qmp_greeting(fx.s));
	tu_fake_done(&fx, WAIT_MS);
	struct json_object *caps = fake_qmp_command(fx.fake, 0), *args, *en;
	cr_assert(json_object_object_get_ex(caps, "arguments", &args));
	cr_assert(json_object_object_get_ex(args, "enable", &en));
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(en, 0)), "oob");
}

Test(qmp_fake, no_oob_requested_when_not_offered)
{
	const struct fq_step script[] = {
	    {FQ_SEND, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 0, "
		      "\"major\": 6}, \"package\": \"\"}, \"capabilities\": []}}\r\n"},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_END},
	};
	struct tu_ready ready = {0};

	start(script, NULL, &ready);
	cr_assert_not(ready.failed, "%s", ready.err.desc);
	cr_assert_not(qmp_has_oob(fx.s));
	cr_assert_str_eq(qmp_version(fx.s), "6.0.0");
	tu_fake_done(&fx, WAIT_MS);
	cr_assert_not(json_object_object_get_ex(fake_qmp_command(fx.fake, 0), "arguments", NULL));
}

Test(qmp_fake, reply_split_at_every_byte_boundary)
{
	const char reply[] = "{\"return\": {\"status\": \"prelaunch\", \"singlestep\": false, "
			     "\"running\": false}, \"id\": @LAST@}\r\n";
	const size_t len = strlen(reply);

	/* Also the greeting is split, at the same position. */
	for (size_t k = 1; k < len; k++) {
		struct fq_step script[] = {
		    {FQ_SEND, FQ_GREETING, .first_split = k},	 {FQ_EXPECT, "qmp_capabilities"},
		    {FQ_SEND, CAPS_OK, .first_split = k},	 {FQ_EXPECT, "query-status"},
		    {FQ_SEND, reply, .first_split = k, .ms = 1}, {FQ_END},
		};
		struct tu_ready ready = {0};
		struct tu_reply r = {0};

		start(script, NULL, &ready);
		cr_assert_not(ready.failed, "split %zu: %s", k, ready.err.desc);
		cr_assert_gt(qmp_call(fx.s, "query-status", NULL, 0, tu_reply_fn, &r, NULL), 0);
		cr_assert_eq(tu_run_until(fx.base, &r.done, WAIT_MS), 0, "split %zu: no reply", k);
		cr_assert_not(r.failed, "split %zu: %s", k, r.err.desc);
		cr_assert_str_eq(ret_str(r.ret, "status"), "prelaunch");
		tu_fake_done(&fx, WAIT_MS);
		tu_reply_clear(&r);
		qmp_session_free(fx.s);
		fx.s = NULL;
		fake_qmp_free(fx.fake);
		fx.fake = NULL;
	}
}

Test(qmp_fake, one_byte_per_write)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING, .split = 1, .ms = 1},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK, .split = 1, .ms = 1},
	    {FQ_END},
	};
	struct tu_ready ready = {0};

	start(script, NULL, &ready);
	cr_assert_not(ready.failed, "%s", ready.err.desc);
	cr_assert_str_eq(qmp_version(fx.s), "7.2.22");
}

struct evrec {
	int n;
	char names[8][32];
	int64_t sec[8], usec[8];
	int reply_seen_at; /* events seen when the reply came */
};

static void on_ev(struct qmp_session *ss, const char *name, struct json_object *data, int64_t sec,
		  int64_t usec, void *arg)
{
	struct evrec *e = arg;

	if (e->n < 8) {
		snprintf(e->names[e->n], sizeof(e->names[0]), "%s", name);
		e->sec[e->n] = sec;
		e->usec[e->n] = usec;
	}
	e->n++;
}

/* Start the fake with script, subscribe e to every event before the
 * handshake, connect and wait for ready. */
static void start_recording(const struct fq_step *script, struct tu_ready *ready, struct evrec *e)
{
	fx.fake = fake_qmp_start(fx.sock, script);
	cr_assert(fx.fake);
	fx.s = qmp_session_new(fx.base, QMP_KIND_QMP, NULL);
	cr_assert_gt(qmp_subscribe(fx.s, on_ev, e), 0);
	cr_assert_eq(qmp_connect(fx.s, fx.sock, tu_ready_fn, ready, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &ready->done, WAIT_MS), 0);
}

Test(qmp_fake, several_messages_in_one_write_and_events_between)
{
	/* caps reply, an event and the reply to the next command all in one
	 * write is impossible (the command is not sent yet), so: greeting +
	 * caps reply in one, then event + reply + event in one write. */
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": "
			      "123456}, \"event\": \"RTC_CHANGE\", \"data\": {\"offset\": 1}}\r\n"},
	    {FQ_EXPECT, "cont"},
	    {FQ_SEND, "{\"timestamp\": {\"seconds\": 1700000001, \"microseconds\": 5}, "
		      "\"event\": \"RESUME\"}\r\n{\"return\": {}, \"id\": @LAST@}\r\n"
		      "{\"timestamp\": {\"seconds\": 1700000002, \"microseconds\": 6}, "
		      "\"event\": \"STOP\"}\r\n"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply r = {0};
	struct evrec e = {0};

	start_recording(script, &ready, &e);
	cr_assert_gt(qmp_call(fx.s, "cont", NULL, 0, tu_reply_fn, &r, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &r.done, WAIT_MS), 0);
	cr_assert_not(r.failed);
	tu_run_for(fx.base, 100);
	cr_assert_eq(e.n, 3);
	cr_assert_str_eq(e.names[0], "RTC_CHANGE");
	cr_assert_str_eq(e.names[1], "RESUME");
	cr_assert_str_eq(e.names[2], "STOP");
	cr_assert_eq(e.sec[0], 1700000000);
	cr_assert_eq(e.usec[0], 123456);
	cr_assert_eq(e.sec[2], 1700000002);
	tu_reply_clear(&r);
}

/* A reply many times libqmp's read size (16 KiB, 16 reads a loop turn)
 * arrives whole, and the event written right behind it in the same write
 * is dispatched after it, once. */
Test(qmp_fake, reply_larger_than_many_reads_then_an_event)
{
	enum { BIG = 1200 * 1024 };
	const char *head = "{\"return\": {\"x\": \"";
	const char *tail = "\"}, \"id\": @LAST@}\r\n{\"timestamp\": {\"seconds\": 1700000004, "
			   "\"microseconds\": 8}, \"event\": \"STOP\"}\r\n";
	char *big = malloc(BIG + 256);
	struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING}, {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},	    {FQ_EXPECT, "query-status"},
	    {FQ_SEND, big},	    {FQ_END},
	};
	struct qmp_options opt = {.max_message = 2 * BIG};
	struct tu_ready ready = {0};
	struct tu_reply r = {0};
	struct evrec e = {0};

	cr_assert(big);
	strcpy(big, head);
	memset(big + strlen(head), 'y', BIG);
	strcpy(big + strlen(head) + BIG, tail);
	fx.fake = fake_qmp_start(fx.sock, script);
	cr_assert(fx.fake);
	fx.s = qmp_session_new(fx.base, QMP_KIND_QMP, &opt);
	cr_assert_gt(qmp_subscribe(fx.s, on_ev, &e), 0);
	cr_assert_eq(qmp_connect(fx.s, fx.sock, tu_ready_fn, &ready, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &ready.done, WAIT_MS), 0);
	cr_assert_gt(qmp_call(fx.s, "query-status", NULL, 0, tu_reply_fn, &r, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &r.done, WAIT_MS), 0);
	cr_assert_not(r.failed, "%s", r.err.desc);
	const char *x = ret_str(r.ret, "x");
	cr_assert_eq(strlen(x), (size_t)BIG);
	cr_assert_eq(strspn(x, "y"), (size_t)BIG);
	tu_run_for(fx.base, 100);
	cr_assert_eq(e.n, 1);
	cr_assert_str_eq(e.names[0], "STOP");
	cr_assert_eq(e.sec[0], 1700000004);
	tu_reply_clear(&r);
	free(big);
}

/* The daemon notices qemu's exit and drains before dropping the session:
 * the SHUTDOWN qemu wrote before exiting is dispatched, not lost. */
Test(qmp_fake, drain_dispatches_what_the_peer_wrote_before_it_left)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_SLEEP, NULL, .ms = 200},
	    {FQ_SEND, "{\"timestamp\": {\"seconds\": 1700000003, \"microseconds\": 7}, "
		      "\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false, "
		      "\"reason\": \"host-qmp-quit\"}}\r\n"},
	    {FQ_CLOSE},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct evrec e = {0};

	start_recording(script, &ready, &e);
	char why[256] = "";
	cr_assert_eq(fake_qmp_wait(fx.fake, WAIT_MS, why, sizeof(why)), 0, "fake: %s", why);
	cr_assert_eq(e.n, 0, "the event loop did not run: nothing read yet");
	qmp_session_drain(fx.s);
	cr_assert_eq(e.n, 1, "drain dispatched %d events", e.n);
	cr_assert_str_eq(e.names[0], "SHUTDOWN");
	cr_assert_eq(e.sec[0], 1700000003);
	qmp_session_drain(fx.s); /* nothing more: no second dispatch */
	cr_assert_eq(e.n, 1);
}

static int unsub_handle;
static void on_ev_unsub(struct qmp_session *ss, const char *name, struct json_object *data,
			int64_t sec, int64_t usec, void *arg)
{
	(*(int *)arg)++;
	qmp_unsubscribe(ss, unsub_handle);
}

Test(qmp_fake, unsubscribe_from_inside_a_callback)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND,
	     CAPS_OK "{\"event\": \"A\", \"timestamp\": {\"seconds\": 1, "
		     "\"microseconds\": 0}}{\"event\": \"B\", \"timestamp\": {\"seconds\": 1, "
		     "\"microseconds\": 0}}"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	int once = 0;
	struct evrec all = {0};

	fx.fake = fake_qmp_start(fx.sock, script);
	fx.s = qmp_session_new(fx.base, QMP_KIND_QMP, NULL);
	unsub_handle = qmp_subscribe(fx.s, on_ev_unsub, &once);
	cr_assert_gt(qmp_subscribe(fx.s, on_ev, &all), unsub_handle);
	cr_assert_eq(qmp_connect(fx.s, fx.sock, tu_ready_fn, &ready, NULL), 0);
	tu_run_until(fx.base, &ready.done, WAIT_MS);
	tu_run_for(fx.base, 200);
	cr_assert_eq(once, 1);
	cr_assert_eq(all.n, 2);
}

/* Calls a, b and c (in-band, or out-of-band with exec-oob), the fake
 * answering them all with replies; a and c must get their own returns,
 * b its error of class b_cls, and the commands ids if and only if oob. */
static void three_calls(const char *replies, int oob, const char *b_cls)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING}, {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},	    {FQ_EXPECT, NULL},
	    {FQ_EXPECT, NULL},	    {FQ_EXPECT, NULL},
	    {FQ_SEND, replies},	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply r[3] = {{0}};
	int64_t id[3];
	char cmd[64];

	start(script, NULL, &ready);
	for (int i = 0; i < 3; i++) {
		snprintf(cmd, sizeof(cmd), "{\"%s\": \"%c\"}", oob ? "exec-oob" : "execute",
			 'a' + i);
		id[i] = qmp_call_raw(fx.s, json_tokener_parse(cmd), 0, tu_reply_fn, &r[i], NULL);
		cr_assert(id[i] > (i ? id[i - 1] : 0), "id %ld", (long)id[i]);
	}
	for (int i = 0; i < 3; i++)
		cr_assert_eq(tu_run_until(fx.base, &r[i].done, WAIT_MS), 0);
	cr_assert_str_eq(ret_str(r[0].ret, "who"), "a");
	cr_assert_str_eq(ret_str(r[2].ret, "who"), "c");
	cr_assert(r[1].failed);
	cr_assert_str_eq(r[1].err.cls, b_cls);
	cr_assert_str_eq(r[1].err.desc, "b failed");
	cr_assert_eq(r[0].calls + r[1].calls + r[2].calls, 3);
	tu_fake_done(&fx, WAIT_MS);
	/* the handshake's qmp_capabilities keeps its id */
	cr_assert(json_object_object_get_ex(fake_qmp_command(fx.fake, 0), "id", NULL));
	for (size_t i = 1; i <= 3; i++) {
		struct json_object *sent = fake_qmp_command(fx.fake, i);
		cr_assert_eq(json_object_object_get_ex(sent, "id", NULL), oob, "%s",
			     json_object_to_json_string(sent));
	}
	tu_reply_clear(&r[0]);
	tu_reply_clear(&r[2]);
}

/* Out-of-band commands keep their ids: only their replies can overtake
 * others, and each still reaches its own callback. */
Test(qmp_fake, oob_replies_out_of_order_reach_the_right_callback)
{
	three_calls("{\"return\": {\"who\": \"c\"}, \"id\": @ID3@}"
		    "{\"return\": {\"who\": \"a\"}, \"id\": @ID1@}"
		    "{\"error\": {\"class\": \"GenericError\", \"desc\": \"b failed\"}, "
		    "\"id\": @ID2@}",
		    1, "GenericError");
}

/* QEMU reads its monitor a byte at a time, so short in-band commands go
 * without an id; QEMU answers them in order, without one either (as the
 * fake does: its ', "id": @IDn@' drops out for them). An event between the
 * replies changes nothing. */
Test(qmp_fake, inband_commands_go_without_id_and_replies_come_in_order)
{
	three_calls(
	    "{\"return\": {\"who\": \"a\"}, \"id\": @ID1@}\r\n"
	    "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"b failed\"}, "
	    "\"id\": @ID2@}\r\n"
	    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n"
	    "{\"return\": {\"who\": \"c\"}, \"id\": @ID3@}\r\n",
	    0, "CommandNotFound");
}

/* QEMU answers a command it cannot parse with an error and no id: that
 * answer is the command's, even when the command carried an id (here one
 * over the size bare commands are kept under), and the next reply goes to
 * the next command. */
Test(qmp_fake, error_without_id_answers_the_oldest_command)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_EXPECT, "big"},
	    {FQ_EXPECT, "query-name"},
	    {FQ_SEND, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"JSON parse error, "
		      "too many nested containers\"}}\r\n"
		      "{\"return\": {\"name\": \"n\"}}\r\n"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply r = {0}, r2 = {0};
	struct json_object *args = json_object_new_object();
	char pad[1500];

	memset(pad, 'p', sizeof(pad) - 1);
	pad[sizeof(pad) - 1] = 0;
	json_object_object_add(args, "pad", json_object_new_string(pad));
	start(script, NULL, &ready);
	cr_assert_gt(qmp_call(fx.s, "big", args, 0, tu_reply_fn, &r, NULL), 0);
	cr_assert_gt(qmp_call(fx.s, "query-name", NULL, 0, tu_reply_fn, &r2, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &r2.done, WAIT_MS), 0);
	cr_assert(r.failed);
	cr_assert(strstr(r.err.desc, "JSON parse error"), "%s", r.err.desc);
	cr_assert_str_eq(ret_str(r2.ret, "name"), "n");
	tu_fake_done(&fx, WAIT_MS);
	cr_assert(json_object_object_get_ex(fake_qmp_command(fx.fake, 1), "id", NULL));
	cr_assert_not(json_object_object_get_ex(fake_qmp_command(fx.fake, 2), "id", NULL));
	tu_reply_clear(&r2);
}

Test(qmp_fake, commands_before_ready_are_held_then_sent)
{
	const struct fq_step script[] = {
	    {FQ_SLEEP, .ms = 100},
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_EXPECT, "query-name"},
	    {FQ_SEND, "{\"return\": {\"name\": \"vm\"}, \"id\": @LAST@}"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply r = {0};

	fx.fake = fake_qmp_start(fx.sock, script);
	fx.s = qmp_session_new(fx.base, QMP_KIND_QMP, NULL);
	cr_assert_eq(qmp_connect(fx.s, fx.sock, tu_ready_fn, &ready, NULL), 0);
	cr_assert_gt(qmp_call(fx.s, "query-name", NULL, 0, tu_reply_fn, &r, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &r.done, WAIT_MS), 0);
	cr_assert_not(r.failed, "%s", r.err.desc);
	cr_assert_str_eq(ret_str(r.ret, "name"), "vm");
	cr_assert_eq(ready.done, 1);
	tu_reply_clear(&r);
}

/* Ready session, one command pending, then the fake does `fault`. */
static void fault_with_pending(const char *fault, const struct qmp_options *opt, struct tu_reply *r,
			       struct tu_close *c, int close_after)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_EXPECT, "query-status"},
	    {FQ_SEND, fault},
	    {close_after ? FQ_CLOSE : FQ_END},
	    {FQ_END},
	};
	struct tu_ready ready = {0};

	fx.fake = fake_qmp_start(fx.sock, script);
	fx.s = qmp_session_new(fx.base, QMP_KIND_QMP, opt);
	qmp_on_close(fx.s, tu_close_fn, c);
	cr_assert_eq(qmp_connect(fx.s, fx.sock, tu_ready_fn, &ready, NULL), 0);
	tu_run_until(fx.base, &ready.done, WAIT_MS);
	cr_assert_not(ready.failed, "%s", ready.err.desc);
	cr_assert_gt(qmp_call(fx.s, "query-status", NULL, 0, tu_reply_fn, r, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &r->done, WAIT_MS), 0, "pending command never failed");
	tu_run_until(fx.base, &c->done, WAIT_MS);
	cr_assert_eq(r->calls, 1);
	cr_assert(r->failed);
	cr_assert_eq(c->done, 1, "close callback called %d times", c->done);
	cr_assert_not(qmp_is_ready(fx.s));
	/* the session refuses new commands cleanly */
	struct qmp_error err;
	cr_assert_eq(qmp_call(fx.s, "x", NULL, 0, tu_reply_fn, r, &err), -1);
	cr_assert_str_eq(err.cls, QMP_ERR_DISCONNECTED);
}

Test(qmp_fake, close_mid_message_fails_pending)
{
	struct tu_reply r = {0};
	struct tu_close c = {0};

	fault_with_pending("{\"return\": {\"status\": \"runn", NULL, &r, &c, 1);
	cr_assert_str_eq(r.err.cls, QMP_ERR_DISCONNECTED);
	cr_assert_str_eq(c.why.cls, QMP_ERR_DISCONNECTED);
}

Test(qmp_fake, oversized_message_disconnects)
{
	struct qmp_options opt = {.max_message = 4096};
	struct tu_reply r = {0};
	struct tu_close c = {0};
	char *big = malloc(10000);

	strcpy(big, "{\"return\": {\"x\": \"");
	memset(big + strlen(big), 'x', 8000);
	strcpy(big + 18 + 8000, "\"}, \"id\": @LAST@}");
	fault_with_pending(big, &opt, &r, &c, 0);
	cr_assert_str_eq(r.err.cls, QMP_ERR_PROTOCOL);
	cr_assert(strstr(r.err.desc, "4096"), "%s", r.err.desc);
	cr_assert_str_eq(c.why.cls, QMP_ERR_PROTOCOL);
	free(big);
}

Test(qmp_fake, invalid_utf8_is_a_protocol_error)
{
	struct tu_reply r = {0};
	struct tu_close c = {0};

	fault_with_pending("{\"return\": {\"s\": \"\xc3\x28\"}, \"id\": @LAST@}", NULL, &r, &c, 0);
	cr_assert_str_eq(r.err.cls, QMP_ERR_PROTOCOL);
	cr_assert(strstr(r.err.desc, "UTF-8"), "%s", r.err.desc);
}

Test(qmp_fake, invalid_json_is_a_protocol_error)
{
	struct tu_reply r = {0};
	struct tu_close c = {0};

	fault_with_pending("{\"return\": {\"s\": tru}, \"id\": @LAST@}", NULL, &r, &c, 0);
	cr_assert_str_eq(r.err.cls, QMP_ERR_PROTOCOL);
}

Test(qmp_fake, non_object_message_is_a_protocol_error)
{
	struct tu_reply r = {0};
	struct tu_close c = {0};

	fault_with_pending("[1, 2]", NULL, &r, &c, 0);
	cr_assert_str_eq(r.err.cls, QMP_ERR_PROTOCOL);
}

/*
 * first (with args) is never answered in time; its late reply comes after
 * it timed out, then the reply to query-name, sent after it: the late one
 * is dropped and query-name gets its own. Returns whether first went with
 * an id.
 */
static int late_reply_then_the_next(const char *first, struct json_object *args)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_EXPECT, first},
	    {FQ_EXPECT, "query-name"},
	    {FQ_SLEEP, .ms = 400},
	    /* the first reply is late: after its command timed out */
	    {FQ_SEND, "{\"return\": {\"late\": true}, \"id\": @ID1@}"
		      "{\"return\": {\"name\": \"n\"}, \"id\": @ID2@}"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply r = {0}, r2 = {0};
	struct timeval t0, t1;

	start(script, NULL, &ready);
	gettimeofday(&t0, NULL);
	cr_assert_gt(qmp_call(fx.s, first, args, 150, tu_reply_fn, &r, NULL), 0);
	cr_assert_gt(qmp_call(fx.s, "query-name", NULL, 5000, tu_reply_fn, &r2, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &r.done, WAIT_MS), 0);
	gettimeofday(&t1, NULL);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
	cr_assert(r.failed);
	cr_assert_str_eq(r.err.cls, QMP_ERR_TIMEOUT);
	cr_assert(ms >= 140 && ms < 5000, "timeout after %ld ms", ms);
	cr_assert_eq(tu_run_until(fx.base, &r2.done, WAIT_MS), 0);
	cr_assert_not(r2.failed, "%s", r2.err.desc);
	cr_assert_str_eq(ret_str(r2.ret, "name"), "n");
	cr_assert_eq(r.calls, 1);
	cr_assert(qmp_is_ready(fx.s));
	tu_reply_clear(&r2);
	tu_fake_done(&fx, WAIT_MS);
	cr_assert_not(json_object_object_get_ex(fake_qmp_command(fx.fake, 2), "id", NULL));
	return json_object_object_get_ex(fake_qmp_command(fx.fake, 1), "id", NULL);
}

Test(qmp_fake, never_answers_times_out_and_late_reply_is_ignored)
{
	cr_assert_not(late_reply_then_the_next("query-status", NULL));
}

/* A command that is not plain ASCII keeps its id. Its late reply (with the
 * id) still shows QEMU is past it, so the reply after it, without an id,
 * goes to the command sent after it. */
Test(qmp_fake, late_reply_to_a_command_with_an_id_keeps_the_order)
{
	struct json_object *args = json_object_new_object();

	json_object_object_add(args, "name", json_object_new_string("caf\xc3\xa9"));
	cr_assert(late_reply_then_the_next("set-name", args));
}

Test(qmp_fake, no_greeting_times_out)
{
	const struct fq_step script[] = {{FQ_END}};
	struct qmp_options opt = {.default_timeout_ms = 200};
	struct tu_ready ready = {0};

	start(script, &opt, &ready);
	cr_assert(ready.failed);
	cr_assert_str_eq(ready.err.cls, QMP_ERR_TIMEOUT);
}

Test(qmp_fake, bad_greeting_and_refused_caps_fail_ready)
{
	const struct fq_step bad[] = {{FQ_SEND, "{\"hello\": 1}\r\n"}, {FQ_END}};
	const struct fq_step refused[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, "
		      "\"id\": @LAST@}"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_close c = {0};

	start(bad, NULL, &ready);
	cr_assert(ready.failed);
	cr_assert_str_eq(ready.err.cls, QMP_ERR_PROTOCOL);
	qmp_session_free(fx.s);
	fake_qmp_free(fx.fake);

	memset(&ready, 0, sizeof(ready));
	fx.fake = fake_qmp_start(fx.sock, refused);
	fx.s = qmp_session_new(fx.base, QMP_KIND_QMP, NULL);
	qmp_on_close(fx.s, tu_close_fn, &c);
	cr_assert_eq(qmp_connect(fx.s, fx.sock, tu_ready_fn, &ready, NULL), 0);
	tu_run_until(fx.base, &ready.done, WAIT_MS);
	cr_assert(ready.failed);
	cr_assert_str_eq(ready.err.cls, "GenericError");
	tu_run_for(fx.base, 50);
	cr_assert_eq(ready.done, 1);
	cr_assert_eq(c.done, 0, "close must not follow a failed ready");
}

Test(qmp_fake, connect_errors_are_immediate)
{
	struct qmp_error err;
	struct tu_ready ready = {0};
	char longp[200];

	fx.s = qmp_session_new(fx.base, QMP_KIND_QMP, NULL);
	cr_assert_eq(qmp_connect(fx.s, fx.sock, tu_ready_fn, &ready, &err), -1);
	cr_assert_str_eq(err.cls, QMP_ERR_CONNECT);
	cr_assert(strstr(err.desc, fx.sock), "%s", err.desc);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = 0;
	cr_assert_eq(qmp_connect(fx.s, longp, tu_ready_fn, &ready, &err), -1);
	cr_assert_eq(ready.done, 0);
	cr_assert_eq(qmp_call(fx.s, "x", json_object_new_object(), 0, NULL, NULL, &err), -1);
	cr_assert_eq(qmp_call(fx.s, "x", json_object_new_array(), 0, NULL, NULL, &err), -1);
	cr_assert_eq(qmp_call_raw(fx.s, json_object_new_string("x"), 0, NULL, NULL, &err), -1);
}

static void free_in_callback(struct qmp_session *ss, struct json_object *ret,
			     const struct qmp_error *err, void *arg)
{
	int *n = arg;

	if ((*n)++ == 0) {
		qmp_session_free(ss); /* fails the other pending commands now */
		fx.s = NULL;
	}
}

Test(qmp_fake, freeing_the_session_from_a_callback)
{
	const struct fq_step script[] = {
	    {FQ_SEND, FQ_GREETING},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_EXPECT, "a"},
	    {FQ_EXPECT, "b"},
	    {FQ_SEND, "{\"return\": {}, \"id\": @ID1@}{\"return\": {}, \"id\": @ID2@}"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	int n = 0;

	start(script, NULL, &ready);
	qmp_call(fx.s, "a", NULL, 0, free_in_callback, &n, NULL);
	qmp_call(fx.s, "b", NULL, 0, free_in_callback, &n, NULL);
	tu_run_for(fx.base, 300);
	cr_assert_eq(n, 2, "every command's callback runs exactly once (%d)", n);
}

/*
 * After greeting, one query-status, sent as cmd through qmp_call_raw, is
 * answered "running" (with the command's id if it had one, as QEMU does).
 * Returns whether the command went with an id.
 */
static int one_query_status(const char *greeting, const char *cmd)
{
	const struct fq_step script[] = {
	    {FQ_SEND, greeting},
	    {FQ_EXPECT, "qmp_capabilities"},
	    {FQ_SEND, CAPS_OK},
	    {FQ_EXPECT, "query-status"},
	    {FQ_SEND, "{\"return\": {\"status\": \"running\"}, \"id\": @LAST@}\r\n"},
	    {FQ_END},
	};
	struct tu_ready ready = {0};
	struct tu_reply r = {0};

	start(script, NULL, &ready);
	cr_assert_gt(qmp_call_raw(fx.s, json_tokener_parse(cmd), 0, tu_reply_fn, &r, NULL), 0);
	cr_assert_eq(tu_run_until(fx.base, &r.done, WAIT_MS), 0);
	cr_assert_str_eq(ret_str(r.ret, "status"), "running");
	tu_reply_clear(&r);
	tu_fake_done(&fx, WAIT_MS);
	return json_object_object_get_ex(fake_qmp_command(fx.fake, 1), "id", NULL);
}

/* The caller's id goes: ids are the library's, and a short in-band
 * command needs none. */
Test(qmp_fake, raw_call_drops_the_callers_id)
{
	cr_assert_not(
	    one_query_status(FQ_GREETING, "{\"execute\": \"query-status\", \"id\": \"x\"}"));
}

/* QEMU 2.12 with oob could drop an in-band command (COMMAND_DROPPED names
 * it by id): before 3.0, every command keeps its id. */
Test(qmp_fake, qemu_before_3_gets_ids)
{
	cr_assert(one_query_status("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": "
				   "12, \"major\": 2}, \"package\": \"\"}, \"capabilities\": "
				   "[\"oob\"]}}\r\n",
				   "{\"execute\": \"query-status\"}"));
	cr_assert_str_eq(qmp_version(fx.s), "2.12.0");
}
