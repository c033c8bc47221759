/* RecordIO parser: every split of the input, packing, and broken framing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/executor/recordio.h"

struct got {
	char recs[8][64];
	size_t n;
};

static int collect(const char *data, size_t len, void *arg)
{
	struct got *g = arg;
	cr_assert_lt(g->n, 8);
	cr_assert_lt(len, 64);
	cr_assert_eq(data[len], '\0', "record is NUL-terminated");
	memcpy(g->recs[g->n], data, len);
	g->recs[g->n][len] = '\0';
	g->n++;
	return 0;
}

/* The reference's byte-exact example plus two more records. */
static const char STREAM[] = "20\n{\"type\":\"HEARTBEAT\"}"
			     "3\nabc"
			     "10\n0123456789";

static void check_three(struct got *g)
{
	cr_assert_eq(g->n, 3);
	cr_assert_str_eq(g->recs[0], "{\"type\":\"HEARTBEAT\"}");
	cr_assert_str_eq(g->recs[1], "abc");
	cr_assert_str_eq(g->recs[2], "0123456789");
}

Test(recordio, whole_stream_in_one_read)
{
	struct recordio *r = recordio_new(0);
	struct got g = {0};
	char *err = NULL;
	cr_assert_eq(recordio_feed(r, STREAM, strlen(STREAM), collect, &g, &err), 0);
	check_three(&g);
	cr_assert_eq(recordio_finish(r, &err), 0);
	recordio_free(r);
}

Test(recordio, split_at_every_boundary_pair)
{
	size_t len = strlen(STREAM);
	for (size_t a = 0; a <= len; a++) {
		for (size_t b = a; b <= len; b++) {
			struct recordio *r = recordio_new(0);
			struct got g = {0};
			char *err = NULL;
			cr_assert_eq(recordio_feed(r, STREAM, a, collect, &g, &err), 0);
			cr_assert_eq(recordio_feed(r, STREAM + a, b - a, collect, &g, &err), 0);
			cr_assert_eq(recordio_feed(r, STREAM + b, len - b, collect, &g, &err), 0);
			check_three(&g);
			cr_assert_eq(recordio_finish(r, &err), 0);
			recordio_free(r);
		}
	}
}

Test(recordio, byte_by_byte)
{
	struct recordio *r = recordio_new(0);
	struct got g = {0};
	char *err = NULL;
	for (size_t i = 0; i < strlen(STREAM); i++)
		cr_assert_eq(recordio_feed(r, STREAM + i, 1, collect, &g, &err), 0);
	check_three(&g);
	recordio_free(r);
}

static void expect_error(const char *input, size_t max, const char *what)
{
	struct recordio *r = recordio_new(max);
	struct got g = {0};
	char *err = NULL;
	cr_assert_eq(recordio_feed(r, input, strlen(input), collect, &g, &err), -1, "%s", input);
	cr_assert_not_null(err);
	cr_assert(strstr(err, what), "error '%s' should mention '%s'", err, what);
	free(err);
	err = NULL;
	/* Once broken, always broken: no resynchronising on garbage. */
	cr_assert_eq(recordio_feed(r, "3\nabc", 5, collect, &g, &err), -1);
	free(err);
	recordio_free(r);
}

Test(recordio, garbage_length)
{
	expect_error("xyz\n", 0, "byte 0x78");
	expect_error("12a\nhello", 0, "byte 0x61");
	expect_error("-5\nhello", 0, "byte 0x2d");
	expect_error(" 5\nhello", 0, "byte 0x20");
}

Test(recordio, empty_and_zero_length)
{
	expect_error("\nabc", 0, "empty");
	expect_error("0\n", 0, "length 0");
}

Test(recordio, huge_and_overflowing_length)
{
	expect_error("99999999999999999999999999\n", 0, "maximum");
	expect_error("1025\n", 1024, "maximum");
	/* Over SIZE_MAX with a cap that does not stop it first. */
	expect_error("184467440737095516160\n", (size_t)-1, "overflows");
}

Test(recordio, lying_length_shows_up_as_bad_framing)
{
	/* Says 2, carries 5: the rest is read as the next length. */
	struct recordio *r = recordio_new(0);
	struct got g = {0};
	char *err = NULL;
	cr_assert_eq(recordio_feed(r, "2\nhello3\nabc", 12, collect, &g, &err), -1);
	cr_assert_eq(g.n, 1);
	cr_assert_str_eq(g.recs[0], "he");
	free(err);
	recordio_free(r);
	/* Says 50, carries 5 and the stream ends: an error at the end. */
	r = recordio_new(0);
	memset(&g, 0, sizeof(g));
	cr_assert_eq(recordio_feed(r, "50\nhello", 8, collect, &g, &err), 0);
	cr_assert_eq(g.n, 0);
	cr_assert_eq(recordio_finish(r, &err), -1);
	cr_assert(strstr(err, "inside a record"));
	free(err);
	recordio_free(r);
}

Test(recordio, stream_ending_in_a_length)
{
	struct recordio *r = recordio_new(0);
	char *err = NULL;
	cr_assert_eq(recordio_feed(r, "12", 2, NULL, NULL, &err), 0);
	cr_assert_eq(recordio_finish(r, &err), -1);
	free(err);
	recordio_free(r);
}

static int stop_after_first(const char *data, size_t len, void *arg)
{
	(*(int *)arg)++;
	return 7;
}

Test(recordio, callback_can_stop_the_feed)
{
	struct recordio *r = recordio_new(0);
	int calls = 0;
	char *err = NULL;
	cr_assert_eq(recordio_feed(r, STREAM, strlen(STREAM), stop_after_first, &calls, &err), 7);
	cr_assert_eq(calls, 1);
	recordio_free(r);
}
