/*
 * libFuzzer target for the libqmp stream parser. The first byte picks the
 * limit, the sentinel mode and how the rest is cut into feeds, so framing
 * across reads is fuzzed along with the bytes themselves.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "qmp/qmp.h"

static int on_value(struct json_object *v, void *arg)
{
	size_t *n = arg;

	/* touch the value the way the session does */
	if (v && json_object_is_type(v, json_type_object)) {
		struct json_object *x;
		if (json_object_object_get_ex(v, "id", &x))
			(void)json_object_get_int64(x);
		(void)json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
	}
	return ++*n > 1000 ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qmp_parser *p;
	struct qmp_error err;
	size_t values = 0, off = 1, chunk;
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	p = qmp_parser_new((mode & 0x80) ? 64 : 0);
	if (!p)
		return 0;
	if (mode & 0x40)
		qmp_parser_expect_sentinel(p);
	chunk = (mode & 0x3f) + 1;
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (qmp_parser_feed(p, (const char *)data + off, n, on_value, &values, &err) < 0) {
			/* must carry a class and a reason */
			if (strcmp(err.cls, QMP_ERR_PROTOCOL) || !err.desc[0])
				__builtin_trap();
			qmp_parser_reset(p);
		}
		off += n;
	}
	qmp_parser_free(p);
	return 0;
}
