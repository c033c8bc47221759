/* POST exec through the guest agent: output, status, binary data, validation. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "tests/guest/gtest.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

TestSuite(agent_exec, .fini = down, .timeout = 600);

static void run(const char *script, const void *in, size_t in_len, struct gt_exec *x)
{
	const char *argv[] = {"sh", "-c", script, NULL};

	gt_exec(&d, "e", argv, in, in_len, x);
	cr_assert_eq(x->http, 200, "%s: %ld %s", script, x->http, td_err_desc(x->reply));
}

Test(agent_exec, output_status_and_validation)
{
	unsigned char all[256];
	struct gt_exec x;
	struct json_object *r;
	double t0;
	long st;

	td_start(&d, NULL);
	gt_create(&d, "e");
	json_object_put(gt_wait_ip(&d, "e"));

	run("printf out; printf err >&2", NULL, 0, &x);
	cr_expect_eq(x.status, 0);
	cr_expect_eq(x.exitcode, 0);
	cr_expect_eq(x.signal, 0);
	cr_expect_eq(x.out_len, 3);
	cr_expect_eq(memcmp(x.out, "out", 3), 0);
	cr_expect_eq(x.err_len, 3);
	cr_expect_eq(memcmp(x.err, "err", 3), 0);
	gt_exec_free(&x);

	run("echo three; exit 3", NULL, 0, &x);
	cr_expect_eq(x.status, 3);
	cr_expect_eq(x.exitcode, 3);
	cr_expect_eq(x.signal, 0);
	cr_expect_str_eq((char *)x.out, "three\n");
	gt_exec_free(&x);

	run("kill -9 $$", NULL, 0, &x);
	cr_expect_eq(x.signal, 9);
	cr_expect_eq(x.status, 137);
	cr_expect_eq(x.exitcode, -1, "exitcode must be null for a signal death");
	gt_exec_free(&x);

	/* every byte value through stdin -> stdout and stdin -> stderr */
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	run("cat", all, sizeof(all), &x);
	cr_expect_eq(x.status, 0);
	cr_assert_eq(x.out_len, sizeof(all));
	cr_expect_eq(memcmp(x.out, all, sizeof(all)), 0, "stdout bytes differ");
	gt_exec_free(&x);
	run("cat >&2", all, sizeof(all), &x);
	cr_assert_eq(x.err_len, sizeof(all));
	cr_expect_eq(memcmp(x.err, all, sizeof(all)), 0, "stderr bytes differ");
	cr_expect_eq(x.out_len, 0);
	gt_exec_free(&x);
	/* and bytes made in the guest: printf of every octal escape */
	{
		char script[256 * 5 + 32] = "printf '";
		size_t n = strlen(script);
		for (int i = 0; i < 256; i++)
			n += (size_t)snprintf(script + n, sizeof(script) - n, "\\%03o", i);
		snprintf(script + n, sizeof(script) - n, "'");
		run(script, NULL, 0, &x);
		cr_assert_eq(x.out_len, sizeof(all));
		cr_expect_eq(memcmp(x.out, all, sizeof(all)), 0, "guest-made bytes differ");
		gt_exec_free(&x);
	}

	/* a command the guest does not have: the agent's own error */
	gt_exec_raw(&d, "e", "{\"argv\":[\"/nonexistent/cmd\"]}", &x);
	cr_expect_eq(x.http, 502);
	gt_exec_free(&x);

	/* timeout_s bounds the wait: 504, well before the command ends */
	t0 = td_now();
	gt_exec_raw(&d, "e", "{\"argv\":[\"sleep\",\"60\"],\"timeout_s\":1}", &x);
	cr_expect_eq(x.http, 504);
	cr_expect_str_eq(td_err_class(x.reply), "Timeout");
	cr_expect_lt(td_now() - t0, 20.0);
	gt_exec_free(&x);

	const char *bad[] = {
	    "",
	    "{",
	    "[]",
	    "{\"argv\":[\"ls\"]} x",
	    "{}",
	    "{\"argv\":[]}",
	    "{\"argv\":\"ls\"}",
	    "{\"argv\":[1]}",
	    "{\"argv\":[\"ls\",null]}",
	    "{\"argv\":[\"\"]}",
	    "{\"argv\":[\"a\\u0000b\"]}",
	    "{\"argv\":[\"ls\"],\"env\":[]}",
	    "{\"argv\":[\"ls\"],\"input_b64\":\"!!!!\"}",
	    "{\"argv\":[\"ls\"],\"input_b64\":\"abc\"}",
	    "{\"argv\":[\"ls\"],\"input_b64\":5}",
	    "{\"argv\":[\"ls\"],\"timeout_s\":-1}",
	    "{\"argv\":[\"ls\"],\"timeout_s\":1.5}",
	    "{\"argv\":[\"ls\"],\"timeout_s\":\"3\"}",
	    "{\"argv\":[\"ls\"],\"timeout_s\":86401}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = td_http(&d, "POST", "/v1/vms/e/exec", bad[i], &st);
		cr_expect_eq(st, 400, "body %s: %ld", bad[i], st);
		cr_expect_str_eq(td_err_class(r), "InvalidParameter", "body %s", bad[i]);
		json_object_put(r);
	}
	r = td_http(&d, "GET", "/v1/vms/e/exec", NULL, &st);
	cr_expect_eq(st, 405);
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/nosuch/exec", "{\"argv\":[\"ls\"]}", &st);
	cr_expect_eq(st, 404);
	json_object_put(r);

	/* still serving after all that */
	run("exit 0", NULL, 0, &x);
	cr_expect_eq(x.status, 0);
	gt_exec_free(&x);
}
