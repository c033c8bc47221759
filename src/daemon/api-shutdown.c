/* POST /v1/shutdown: every VM stopped in parallel (see api-shutdown.h). */
#include "src/daemon/api-shutdown.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/daemon/http.h"
#include "src/util/bounds.h"
#include "src/util/log.h"

struct shutdown_all {
	struct vmsup *sup;
	struct http_held *held; /* NULL once the client went away */
	struct json_object *vms;
	size_t pending; /* stops not answered yet, + 1 while they are being asked */
	unsigned stopped, failed;
	double t0;
};

struct one_stop {
	struct shutdown_all *all;
	char *name;
};

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* How the stop ended: the stage it had reached when qemu exited. */
static const char *stopped_by(struct vmsup *sup, const char *name)
{
	const struct vm *vm = vmsup_find(sup, name);

	if (!vm || vm->pid > 0)
		return NULL;
	switch (vm->stop_stage) {
	case 1:
		return "acpi";
	case 2:
		return "quit";
	case 3:
		return "kill";
	default:
		return vm->shutdown_seen ? "guest" : NULL;
	}
}

static void finish(struct shutdown_all *all)
{
	struct json_object *o = json_object_new_object();
	double secs = now_mono() - all->t0;

	LOG_I(NULL, "shutdown: %u VMs stopped, %u failed, in %.3f s", all->stopped, all->failed,
	      secs);
	json_object_object_add(o, "vms", all->vms);
	json_object_object_add(o, "stopped", json_object_new_int64(all->stopped));
	json_object_object_add(o, "failed", json_object_new_int64(all->failed));
	json_object_object_add(o, "seconds", json_object_new_double(secs));
	if (all->held)
		http_held_outcome(NULL, NULL, o, all->held);
	json_object_put(o);
	free(all);
}

static void on_stopped(const struct vmsup_result *r, void *arg)
{
	struct one_stop *one = arg;
	struct shutdown_all *all = one->all;
	struct json_object *e = json_object_new_object(), *st = NULL;
	const char *state = NULL, *by;

	if (!r->cls && r->body && json_object_object_get_ex(r->body, "state", &st))
		state = json_object_get_string(st);
	by = r->cls ? NULL : stopped_by(all->sup, one->name);
	json_object_object_add(e, "name", json_object_new_string(one->name));
	json_object_object_add(e, "state", state ? json_object_new_string(state) : NULL);
	json_object_object_add(e, "stopped_by", by ? json_object_new_string(by) : NULL);
	json_object_object_add(e, "error", r->cls ? json_object_new_string(r->desc) : NULL);
	json_object_array_add(all->vms, e);
	/* crashed or failed: not running either, but not stopped as asked */
	if (r->cls || !state || strcmp(state, "stopped")) {
		all->failed++;
		LOG_W(one->name, "shutdown: %s", r->cls ? r->desc : state ? state : "no state");
	} else {
		all->stopped++;
	}
	free(one->name);
	free(one);
	if (--all->pending == 0)
		finish(all);
}

static void detach(void *job)
{
	/* the client went away: the stops go on, the reply goes nowhere */
	((struct shutdown_all *)job)->held = NULL;
}

/* timeout_s from the body: 0, or -1 after replying 400. */
static int parse_body(struct evhttp_request *req, struct json_object *body,
		      struct json_object **args)
{
	struct json_object *t;

	*args = NULL;
	if (!body)
		return 0;
	if (!json_object_is_type(body, json_type_object)) {
		http_send_error(req, 400, "InvalidParameter", "the body must be a JSON object");
		return -1;
	}
	json_object_object_foreach(body, k, v)
	{
		(void)v;
		if (strcmp(k, "timeout_s")) {
			http_send_error(req, 400, "InvalidParameter", "unknown field '%s'", k);
			return -1;
		}
	}
	if (!json_object_object_get_ex(body, "timeout_s", &t) ||
	    json_object_is_type(t, json_type_null))
		return 0;
	if (!json_object_is_type(t, json_type_int) || json_object_get_int64(t) < 0 ||
	    json_object_get_int64(t) > VMSUP_TIMEOUT_MAX_S) {
		http_send_error(req, 400, "InvalidParameter",
				"'timeout_s' must be an integer in 0..%u", VMSUP_TIMEOUT_MAX_S);
		return -1;
	}
	*args = json_object_new_object();
	json_object_object_add(*args, "timeout_s", json_object_get(t));
	return 0;
}

void api_shutdown_all(struct vmsup *sup, struct evhttp_request *req, struct json_object *body)
{
	struct shutdown_all *all;
	struct json_object *args;
	size_t count = vmsup_count(sup), n = 0;
	char **names;

	if (parse_body(req, body, &args))
		return;
	all = calloc(1, sizeof(*all));
	names = calloc(count ? count : 1, sizeof(*names));
	if (!all || !names || !(all->held = http_held_new(req))) {
		if (!all || !names)
			http_send_error(req, 500, "InternalError", "out of memory");
		free(all);
		free(names);
		json_object_put(args);
		return;
	}
	all->sup = sup;
	all->vms = json_object_new_array();
	all->t0 = now_mono();
	all->pending = 1;
	/* names first: a stop that ends at once may free its VM (destroy) */
	for (struct vm *vm = vmsup_first(sup); vm && n < count; vm = vm->next)
		if (vm->pid > 0 && !vm->pool_member)
			names[n++] = strdup(vm->spec.name);
	LOG_I(NULL, "shutdown: stopping %zu VMs", n);
	for (size_t i = 0; i < n; i++) {
		struct one_stop *one = calloc(1, sizeof(*one));

		if (!one || !names[i]) {
			free(one);
			free(names[i]);
			all->failed++;
			continue;
		}
		one->all = all;
		one->name = names[i];
		all->pending++;
		vmsup_op(sup, one->name, VM_OP_STOP, args, on_stopped, one);
	}
	free(names);
	json_object_put(args);
	if (--all->pending == 0) {
		finish(all); /* every stop answered at once: replied, held freed */
		return;
	}
	http_held_wait(all->held, all, detach);
}
