/*
 * Incremental RecordIO parser (Mesos event stream framing): each record is
 * its decimal length in bytes, '\n', then that many bytes. Bytes may arrive
 * in any split: one record over several reads, several records in one read.
 */
#ifndef VMEXEC_RECORDIO_H
#define VMEXEC_RECORDIO_H

#include <stddef.h>

/* Default cap on one record; the agent's events are small JSON documents. */
#define RECORDIO_DEFAULT_MAX (16u * 1024 * 1024)

struct recordio;

/* Called with each complete record (not NUL-terminated, but data[len] is 0).
 * A non-zero return stops the feed and is returned from recordio_feed. */
typedef int (*recordio_fn)(const char *data, size_t len, void *arg);

/* max_record 0 = RECORDIO_DEFAULT_MAX. NULL on allocation failure. */
struct recordio *recordio_new(size_t max_record);
void recordio_free(struct recordio *r);

/*
 * Feed len bytes. Calls fn for every record completed by them. Returns 0, the
 * non-zero value fn returned, or -1 with *err (malloc'd) on a framing error
 * (empty or zero length, non-digit, overflow, over the maximum). After an
 * error the parser stays failed: the stream cannot be resynchronised.
 */
int recordio_feed(struct recordio *r, const char *buf, size_t len, recordio_fn fn, void *arg,
		  char **err);

/* End of stream: -1 with *err if it stopped inside a record. */
int recordio_finish(struct recordio *r, char **err);

#endif
