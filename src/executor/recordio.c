#include "src/executor/recordio.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longest length prefix we accept: enough digits for any size_t. */
#define MAX_DIGITS 20

struct recordio {
	size_t max;
	int failed;
	int in_header; /* reading the decimal length */
	size_t digits; /* digits seen so far in this header */
	size_t want;   /* header: value so far; body: total length */
	char *body;    /* body buffer, want + 1 bytes */
	size_t have;   /* body bytes filled */
};

struct recordio *recordio_new(size_t max_record)
{
	struct recordio *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->max = max_record ? max_record : RECORDIO_DEFAULT_MAX;
	r->in_header = 1;
	return r;
}

void recordio_free(struct recordio *r)
{
	if (!r)
		return;
	free(r->body);
	free(r);
}

static int fail(struct recordio *r, char **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct recordio *r, char **err, const char *fmt, ...)
{
	va_list ap;
	r->failed = 1;
	free(r->body);
	r->body = NULL;
	if (err) {
		va_start(ap, fmt);
		if (vasprintf(err, fmt, ap) < 0)
			*err = NULL;
		va_end(ap);
	}
	return -1;
}

int recordio_feed(struct recordio *r, const char *buf, size_t len, recordio_fn fn, void *arg,
		  char **err)
{
	size_t i = 0;

	if (r->failed)
		return fail(r, err, "recordio: stream already failed");
	while (i < len) {
		if (r->in_header) {
			unsigned char c = (unsigned char)buf[i++];
			if (c == '\n') {
				if (r->digits == 0)
					return fail(r, err, "recordio: empty record length");
				if (r->want == 0)
					return fail(r, err, "recordio: record length 0");
				if (r->want > r->max)
					return fail(
					    r, err,
					    "recordio: record length %zu over the maximum %zu",
					    r->want, r->max);
				r->body = malloc(r->want + 1);
				if (!r->body)
					return fail(r, err, "recordio: out of memory for %zu bytes",
						    r->want);
				r->have = 0;
				r->in_header = 0;
				continue;
			}
			if (c < '0' || c > '9')
				return fail(r, err, "recordio: byte 0x%02x in a record length", c);
			if (++r->digits > MAX_DIGITS ||
			    r->want > (SIZE_MAX - (size_t)(c - '0')) / 10)
				return fail(r, err, "recordio: record length overflows");
			r->want = r->want * 10 + (size_t)(c - '0');
			/* Refuse early: no need to read all digits of a huge length. */
			if (r->want > r->max)
				return fail(r, err, "recordio: record length over the maximum %zu",
					    r->max);
			continue;
		}
		size_t n = r->want - r->have;
		if (n > len - i)
			n = len - i;
		memcpy(r->body + r->have, buf + i, n);
		r->have += n;
		i += n;
		if (r->have == r->want) {
			char *body = r->body;
			size_t blen = r->want;
			body[blen] = '\0';
			r->body = NULL;
			r->in_header = 1;
			r->digits = 0;
			r->want = 0;
			r->have = 0;
			int rc = fn ? fn(body, blen, arg) : 0;
			free(body);
			if (rc)
				return rc;
		}
	}
	return 0;
}

int recordio_finish(struct recordio *r, char **err)
{
	if (r->failed)
		return fail(r, err, "recordio: stream failed");
	if (!r->in_header)
		return fail(r, err, "recordio: stream ended inside a record (%zu of %zu bytes)",
			    r->have, r->want);
	if (r->digits)
		return fail(r, err, "recordio: stream ended inside a record length");
	return 0;
}
