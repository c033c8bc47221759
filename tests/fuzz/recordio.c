/* libFuzzer target: the RecordIO parser and the event parser behind it, fed
 * the input in two pieces split at a point the input chooses. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "src/executor/protocol.h"
#include "src/executor/recordio.h"

static int on_record(const char *data, size_t len, void *arg)
{
	struct proto_event ev;
	char *err = NULL;
	if (proto_event_parse(data, len, &ev, &err) == 0)
		proto_event_clear(&ev);
	free(err);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct recordio *r = recordio_new(1 << 16);
	char *err = NULL;
	size_t cut = size ? data[0] % (size + 1) : 0;

	if (!r)
		return 0;
	if (recordio_feed(r, (const char *)data, cut, on_record, NULL, &err) == 0)
		recordio_feed(r, (const char *)data + cut, size - cut, on_record, NULL, &err);
	free(err);
	err = NULL;
	recordio_finish(r, &err);
	free(err);
	recordio_free(r);
	return 0;
}
