#include "src/executor/launch-internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/client/client.h"

static void *req_thread(void *arg)
{
	struct vreq *r = arg;
	if (vmsup_request(r->l->sock, r->method, r->path, r->body, r->timeout_ms, &r->status,
			  &r->reply, &r->err) < 0 &&
	    !r->err)
		r->err = strdup("vmsupd request failed");
	/* A pointer is far below PIPE_BUF: the write is atomic. */
	while (write(r->l->pipe[1], &r, sizeof(r)) < 0 && errno == EINTR)
		;
	return NULL;
}

void launch_start_req(struct launcher *l, struct task *t, enum req_kind kind, const char *method,
		      struct json_object *body, long timeout_ms, const char *fmt, ...)
{
	struct vreq *r = calloc(1, sizeof(*r));
	pthread_attr_t attr;
	pthread_t th;
	va_list ap;

	if (!r) {
		json_object_put(body);
		task_set_final(t, "TASK_FAILED", "out of memory");
		launch_finish_if_idle(l, t);
		return;
	}
	r->l = l;
	r->t = t;
	r->kind = kind;
	r->method = method;
	r->body = body;
	r->timeout_ms = timeout_ms;
	va_start(ap, fmt);
	vsnprintf(r->path, sizeof(r->path), fmt, ap);
	va_end(ap);
	l->inflight++;
	t->inflight++;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, req_thread, r) != 0) {
		r->err = strdup("cannot start a thread for the vmsupd request");
		launch_on_req_done(l, r);
	}
	pthread_attr_destroy(&attr);
}

/* "desc" from an error reply, or the transport error. */
const char *launch_req_error(struct vreq *r)
{
	if (r->err)
		return r->err;
	return vmsup_error_desc(r->reply, r->status);
}

/* "class" from an error reply {"error":{"class","desc"}}, or "". */
const char *launch_req_class(struct vreq *r)
{
	struct json_object *e, *c;

	if (r->err || !json_object_object_get_ex(r->reply, "error", &e) ||
	    !json_object_object_get_ex(e, "class", &c) || !json_object_is_type(c, json_type_string))
		return "";
	return json_object_get_string(c);
}
