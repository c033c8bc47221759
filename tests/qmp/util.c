#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/qmp/util.h"

char *tu_tmpdir(void)
{
	const char *t = getenv("TMPDIR");
	char *d;

	if (asprintf(&d, "%s/qmptest.XXXXXX", t && *t ? t : "/tmp") < 0)
		return NULL;
	if (!mkdtemp(d)) { /* mkdtemp makes it 0700 */
		free(d);
		return NULL;
	}
	return d;
}

void tu_rmdir(const char *dir)
{
	DIR *d;
	struct dirent *e;
	char p[4096];

	if (!dir || !(d = opendir(dir)))
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	*(int *)arg = 1;
}

int tu_run_until(struct event_base *base, const int *flag, unsigned ms)
{
	int expired = 0;
	struct event *t = evtimer_new(base, on_deadline, &expired);
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	evtimer_add(t, &tv);
	while (!*flag && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag ? 0 : -1;
}

void tu_run_for(struct event_base *base, unsigned ms)
{
	int never = 0;

	tu_run_until(base, &never, ms);
}

void tu_reply_fn(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		 void *arg)
{
	struct tu_reply *r = arg;

	r->done = 1;
	r->calls++;
	if (err) {
		r->failed = 1;
		r->err = *err;
	} else {
		json_object_put(r->ret);
		r->ret = json_object_get(ret);
	}
}

void tu_reply_clear(struct tu_reply *r)
{
	json_object_put(r->ret);
	memset(r, 0, sizeof(*r));
}

void tu_ready_fn(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct tu_ready *r = arg;

	r->done++;
	if (err) {
		r->failed = 1;
		r->err = *err;
	}
}

void tu_close_fn(struct qmp_session *s, const struct qmp_error *why, void *arg)
{
	struct tu_close *c = arg;

	c->done++;
	c->why = *why;
}
