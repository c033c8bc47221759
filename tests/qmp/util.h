/* Shared helpers for the libqmp tests. */
#ifndef TESTS_QMP_UTIL_H
#define TESTS_QMP_UTIL_H

#include <sys/types.h>
#include <event2/event.h>

#include "qmp/qmp.h"

/* A fresh 0700 directory under $TMPDIR (or /tmp); caller frees. */
char *tu_tmpdir(void);
/* Remove the directory and the files (sockets) in it. */
void tu_rmdir(const char *dir);
/* Run the loop until *flag is nonzero or ms pass; 0 if the flag was set. */
int tu_run_until(struct event_base *base, const int *flag, unsigned ms);
/* Run the loop for ms milliseconds. */
void tu_run_for(struct event_base *base, unsigned ms);

/* What a reply callback saw. */
struct tu_reply {
	int done;
	int calls;
	struct json_object *ret; /* own reference */
	struct qmp_error err;
	int failed;
};
void tu_reply_fn(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		 void *arg);
void tu_reply_clear(struct tu_reply *r);

struct tu_ready {
	int done;
	int failed;
	struct qmp_error err;
};
void tu_ready_fn(struct qmp_session *s, const struct qmp_error *err, void *arg);

/* What a close callback saw (qmp_on_close(s, tu_close_fn, &rec)). */
struct tu_close {
	int done;
	struct qmp_error why;
};
void tu_close_fn(struct qmp_session *s, const struct qmp_error *why, void *arg);

#endif
