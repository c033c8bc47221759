/* The stream parser alone: framing, limits, malformed input, sentinel. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"

struct got {
	int n;
	char vals[16][256];
	int stop_after;
};

static int collect(struct json_object *v, void *arg)
{
	struct got *g = arg;

	if (g->n < 16)
		snprintf(g->vals[g->n], sizeof(g->vals[0]), "%s",
			 v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "null");
	g->n++;
	return g->stop_after && g->n >= g->stop_after ? -1 : 0;
}

static const char stream[] =
    "{\"return\": {\"s\": \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}, \"id\": 1}\r\n"
    "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, "
    "\"microseconds\": 2}}{\"return\": [1, \"\\u00e9\\\"x\"], \"id\": 2}\n";

Test(parser, every_split_point_gives_the_same_values)
{
	struct got ref = {0};
	struct qmp_error err;
	struct qmp_parser *p = qmp_parser_new(0);
	size_t len = strlen(stream);

	cr_assert_eq(qmp_parser_feed(p, stream, len, collect, &ref, &err), 0);
	cr_assert_eq(ref.n, 3);
	cr_assert_str_eq(ref.vals[1],
			 "{\"event\":\"STOP\",\"timestamp\":{\"seconds\":1,\"microseconds\":2}}");
	qmp_parser_free(p);

	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b += 7) {
			struct got g = {0};
			p = qmp_parser_new(0);
			cr_assert_eq(qmp_parser_feed(p, stream, a, collect, &g, &err), 0);
			cr_assert_eq(qmp_parser_feed(p, stream + a, b - a, collect, &g, &err), 0);
			cr_assert_eq(qmp_parser_feed(p, stream + b, len - b, collect, &g, &err), 0);
			cr_assert_eq(g.n, 3, "split at %zu/%zu gave %d values", a, b, g.n);
			for (int i = 0; i < 3; i++)
				cr_assert_str_eq(g.vals[i], ref.vals[i]);
			qmp_parser_free(p);
		}
	}
}

Test(parser, one_byte_at_a_time)
{
	struct got g = {0};
	struct qmp_error err;
	struct qmp_parser *p = qmp_parser_new(0);

	for (size_t i = 0; i < strlen(stream); i++)
		cr_assert_eq(qmp_parser_feed(p, stream + i, 1, collect, &g, &err), 0);
	cr_assert_eq(g.n, 3);
	qmp_parser_free(p);
}

Test(parser, callback_can_stop_feeding)
{
	struct got g = {.stop_after = 1};
	struct qmp_error err;
	struct qmp_parser *p = qmp_parser_new(0);

	cr_assert_eq(qmp_parser_feed(p, stream, strlen(stream), collect, &g, &err), 0);
	cr_assert_eq(g.n, 1);
	qmp_parser_free(p);
}

Test(parser, oversized_message_is_an_error)
{
	struct got g = {0};
	struct qmp_error err = {0};
	struct qmp_parser *p = qmp_parser_new(64);
	char big[200];

	/* exactly at the limit passes, one byte more fails */
	memset(big, 'a', sizeof(big));
	memcpy(big, "{\"a\":\"", 6);
	memcpy(big + 62, "\"}", 2);
	cr_assert_eq(qmp_parser_feed(p, big, 64, collect, &g, &err), 0);
	cr_assert_eq(g.n, 1);

	memcpy(big + 62, "aa\"}", 4);
	int rc = 0;
	for (size_t i = 0; i < 66 && rc == 0; i++)
		rc = qmp_parser_feed(p, big + i, 1, collect, &g, &err);
	cr_assert_eq(rc, -1);
	cr_assert_str_eq(err.cls, QMP_ERR_PROTOCOL);
	cr_assert(strstr(err.desc, "limit"), "%s", err.desc);
	cr_assert_eq(g.n, 1);
	qmp_parser_free(p);
}

Test(parser, whitespace_between_values_is_not_counted)
{
	struct got g = {0};
	struct qmp_error err;
	struct qmp_parser *p = qmp_parser_new(8);
	char buf[400];

	memset(buf, ' ', sizeof(buf));
	memcpy(buf + 300, "{\"a\":1}", 7);
	memcpy(buf + 390, "\r\n", 2);
	cr_assert_eq(qmp_parser_feed(p, buf, sizeof(buf), collect, &g, &err), 0, "%s", err.desc);
	cr_assert_eq(g.n, 1);
	qmp_parser_free(p);
}

static void expect_protocol_error(const char *bytes, size_t len)
{
	struct got g = {0};
	struct qmp_error err = {0};
	struct qmp_parser *p = qmp_parser_new(0);

	cr_assert_eq(qmp_parser_feed(p, bytes, len, collect, &g, &err), -1, "accepted %.*s",
		     (int)len, bytes);
	cr_assert_str_eq(err.cls, QMP_ERR_PROTOCOL);
	cr_assert_neq(err.desc[0], 0);
	/* after a reset the parser works again */
	qmp_parser_reset(p);
	cr_assert_eq(qmp_parser_feed(p, "{}", 2, collect, &g, &err), 0);
	cr_assert_eq(g.n, 1);
	qmp_parser_free(p);
}

Test(parser, invalid_utf8)
{
	expect_protocol_error("{\"a\": \"\xc3\x28\"}", 10);
	expect_protocol_error("{\"a\": \"\xc0\x80\"}", 10);	    /* overlong */
	expect_protocol_error("{\"a\": \"\xed\xa0\x80\"}", 11);	    /* surrogate */
	expect_protocol_error("{\"a\": \"\xf4\x90\x80\x80\"}", 12); /* > U+10FFFF */
	expect_protocol_error("{\"a\": \"\xe2\x82\"}", 10);	    /* truncated */
	expect_protocol_error("{\"a\": \"x\xff\"}", 10);
}

Test(parser, invalid_json)
{
	expect_protocol_error("{\"a\": }", 7);
	expect_protocol_error("}", 1);
	expect_protocol_error("{\"a\": 1,}", 9);
	expect_protocol_error("[1 2]", 5);
	expect_protocol_error("{\"a\": \"x\0\"}", 11);
}

Test(parser, deep_nesting_is_an_error_not_a_crash)
{
	char buf[20000];

	memset(buf, '[', sizeof(buf));
	expect_protocol_error(buf, sizeof(buf));
}

Test(parser, sentinel_drops_everything_before_it)
{
	struct got g = {0};
	struct qmp_error err;
	struct qmp_parser *p = qmp_parser_new(0);
	const char junk[] = "{\"return\": 1}garbage\"{[\x01\xfe\xff{\"return\": 42}\n";

	qmp_parser_expect_sentinel(p);
	/* byte by byte, so the sentinel search also spans feeds */
	for (size_t i = 0; i < sizeof(junk) - 1; i++)
		cr_assert_eq(qmp_parser_feed(p, junk + i, 1, collect, &g, &err), 0, "%s", err.desc);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.vals[0], "{\"return\":42}");
	qmp_parser_free(p);
}

Test(parser, sentinel_right_after_a_value)
{
	struct got g = {0};
	struct qmp_error err;
	struct qmp_parser *p = qmp_parser_new(0);
	const char s[] = "{\"return\": 1}\xff{\"return\": 2}\xff";

	cr_assert_eq(qmp_parser_feed(p, s, sizeof(s) - 1, collect, &g, &err), 0, "%s", err.desc);
	cr_assert_eq(g.n, 2);
	qmp_parser_free(p);
}

Test(parser, null_and_scalars_are_values)
{
	struct got g = {0};
	struct qmp_error err;
	struct qmp_parser *p = qmp_parser_new(0);

	cr_assert_eq(qmp_parser_feed(p, "null [] \"s\" ", 12, collect, &g, &err), 0);
	cr_assert_eq(g.n, 3);
	cr_assert_str_eq(g.vals[0], "null");
	qmp_parser_free(p);
}

/* After a value of megabytes (its tokener replaced, to free the string
 * buffer it kept) the values sharing its read, and split ones, still parse. */
Test(parser, values_after_a_big_one)
{
	size_t big = 3u << 20, len;
	char *buf = malloc(big + 256);
	const char *tail = "{\"id\": 2}{\"event\": \"STOP\", \"data\": {\"x\": \"\\u00e9\"}}";
	struct got g = {0};
	struct qmp_error err;
	struct qmp_parser *p = qmp_parser_new(0);

	cr_assert_not_null(buf);
	len = (size_t)sprintf(buf, "{\"return\": {\"out-data\": \"");
	memset(buf + len, 'A', big);
	len += big;
	len += (size_t)sprintf(buf + len, "\"}, \"id\": 1}%s", tail);
	/* the big value and the first half of what follows in one read */
	cr_assert_eq(qmp_parser_feed(p, buf, len - 20, collect, &g, &err), 0);
	cr_assert_eq(qmp_parser_feed(p, buf + len - 20, 20, collect, &g, &err), 0);
	cr_assert_eq(g.n, 3);
	cr_expect_str_eq(g.vals[1], "{\"id\":2}");
	cr_expect_str_eq(g.vals[2], "{\"event\":\"STOP\",\"data\":{\"x\":\"\xc3\xa9\"}}");
	qmp_parser_free(p);
	free(buf);
}
