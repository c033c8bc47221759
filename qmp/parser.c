/*
 * Stream parser: turns an arbitrary split of bytes into whole JSON values.
 * json_tokener keeps its state between calls, so a value may arrive one
 * byte at a time or several values may share one read.
 */
#include <stdlib.h>
#include <string.h>

#include "qmp/qmp.h"

/* QEMU's replies nest a few levels at most; leave room for qom trees. */
#define PARSER_DEPTH 128
/* A value this large (QGA's guest-exec output) leaves the tokener holding
 * a string buffer of its size until the tokener is freed: past it, the
 * tokener is replaced before the value is handed on. */
#define PARSER_RELEASE_AFTER (1u << 20)

struct qmp_parser {
	struct json_tokener *tok;
	size_t max;
	size_t cur;   /* bytes of the value being parsed so far */
	int in_value; /* the tokener holds a partial value */
	int want_sentinel;
	/* UTF-8 check carried across feeds: continuation bytes still due and
	 * the range the next one must fall in. */
	unsigned u_need;
	unsigned char u_lo, u_hi;
};

static struct json_tokener *tokener_new(void)
{
	struct json_tokener *tok = json_tokener_new_ex(PARSER_DEPTH);

	/* Strict: QEMU sends standard JSON only; trailing bytes are the next
	 * message, not an error. No JSON_TOKENER_VALIDATE_UTF8: json-c 0.16
	 * forgets its UTF-8 state between calls, so a character split across
	 * two reads would be refused; utf8_ok() below checks instead. */
	if (tok)
		json_tokener_set_flags(tok,
				       JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
	return tok;
}

struct qmp_parser *qmp_parser_new(size_t max_message)
{
	struct qmp_parser *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->tok = tokener_new();
	if (!p->tok) {
		free(p);
		return NULL;
	}
	p->max = max_message ? max_message : QMP_DEFAULT_MAX_MESSAGE;
	return p;
}

void qmp_parser_reset(struct qmp_parser *p)
{
	json_tokener_reset(p->tok);
	p->cur = 0;
	p->in_value = 0;
	p->u_need = 0;
}

/*
 * json-c's own check lets overlong forms and encoded surrogates through;
 * this one follows RFC 3629 (Unicode table 3-7), byte by byte.
 */
static int utf8_ok(struct qmp_parser *p, const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = b[i];

		if (p->u_need) {
			if (c < p->u_lo || c > p->u_hi)
				return 0;
			p->u_need--;
			p->u_lo = 0x80;
			p->u_hi = 0xbf;
			continue;
		}
		if (c < 0x80)
			continue;
		if (c < 0xc2)
			return 0;
		p->u_lo = 0x80;
		p->u_hi = 0xbf;
		if (c < 0xe0) {
			p->u_need = 1;
		} else if (c < 0xf0) {
			p->u_need = 2;
			if (c == 0xe0)
				p->u_lo = 0xa0;
			if (c == 0xed)
				p->u_hi = 0x9f;
		} else if (c < 0xf5) {
			p->u_need = 3;
			if (c == 0xf0)
				p->u_lo = 0x90;
			if (c == 0xf4)
				p->u_hi = 0x8f;
		} else {
			return 0;
		}
	}
	return 1;
}

void qmp_parser_expect_sentinel(struct qmp_parser *p)
{
	qmp_parser_reset(p);
	p->want_sentinel = 1;
}

void qmp_parser_free(struct qmp_parser *p)
{
	if (!p)
		return;
	json_tokener_free(p->tok);
	free(p);
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int qmp_parser_feed(struct qmp_parser *p, const char *buf, size_t len, qmp_value_fn fn, void *arg,
		    struct qmp_error *err)
{
	size_t off = 0;

	while (off < len) {
		if (p->want_sentinel) {
			const char *ff = memchr(buf + off, 0xff, len - off);

			if (!ff)
				return 0;
			off = (size_t)(ff - buf) + 1;
			p->want_sentinel = 0;
			continue;
		}
		if (!p->in_value) {
			/* Whitespace between values does not count towards the
			 * size limit; a stray 0xFF between values is QGA's
			 * delimiter (also QEMU's own parser reset) and is skipped. */
			if (is_space(buf[off]) || (unsigned char)buf[off] == 0xff) {
				off++;
				continue;
			}
			p->in_value = 1;
		}
		/* Never hand the tokener more than the limit allows, so an
		 * endless value is cut off after max+1 bytes, not buffered. */
		size_t room = p->max - p->cur + 1;
		size_t n = len - off < room ? len - off : room;
		/* Nor a 0xFF: the tokener would look past a finished value
		 * into it and call the value invalid UTF-8. */
		const char *ff = memchr(buf + off, 0xff, n);
		if (ff == buf + off) {
			qmp_error_set(err, QMP_ERR_PROTOCOL,
				      "byte 0xFF inside a message (invalid UTF-8)");
			qmp_parser_reset(p);
			return -1;
		}
		if (ff)
			n = (size_t)(ff - (buf + off));
		if (n > 1u << 30)
			n = 1u << 30;
		struct json_object *v = json_tokener_parse_ex(p->tok, buf + off, (int)n);
		enum json_tokener_error jerr = json_tokener_get_error(p->tok);

		/* A JSON null is a complete value that json-c returns as NULL. */
		if (v || jerr == json_tokener_success) {
			size_t used = json_tokener_get_parse_end(p->tok);
			size_t body = used;

			/* json-c eats the whitespace after a value; that is
			 * not part of the message's size. */
			while (body > 0 && is_space(buf[off + body - 1]))
				body--;
			if (p->cur + body > p->max) {
				json_object_put(v);
				goto oversize;
			}
			if (!utf8_ok(p, (const unsigned char *)buf + off, used)) {
				json_object_put(v);
				goto bad_utf8;
			}
			off += used;
			if (p->cur + body > PARSER_RELEASE_AFTER) {
				struct json_tokener *fresh = tokener_new();
				/* without memory for a new one, the old one serves on */
				if (fresh) {
					json_tokener_free(p->tok);
					p->tok = fresh;
				}
			}
			qmp_parser_reset(p);
			int rc = fn(v, arg);
			json_object_put(v);
			if (rc < 0)
				return 0;
			continue;
		}
		if (jerr == json_tokener_continue) {
			if (!utf8_ok(p, (const unsigned char *)buf + off, n))
				goto bad_utf8;
			p->cur += n;
			off += n;
			if (p->cur > p->max)
				goto oversize;
			continue;
		}
		qmp_error_set(err, QMP_ERR_PROTOCOL, "malformed JSON at byte %zu of message: %s",
			      p->cur + json_tokener_get_parse_end(p->tok),
			      json_tokener_error_desc(jerr));
		qmp_parser_reset(p);
		return -1;
	}
	return 0;
bad_utf8:
	qmp_error_set(err, QMP_ERR_PROTOCOL, "invalid UTF-8 in message");
	qmp_parser_reset(p);
	return -1;
oversize:
	qmp_error_set(err, QMP_ERR_PROTOCOL, "message exceeds the limit of %zu bytes", p->max);
	qmp_parser_reset(p);
	return -1;
}
