#include "src/daemon/http.h"
#include "src/daemon/api-limits.h"
#include "src/daemon/owner.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include "src/limits/cgroup.h"
#include "src/util/bounds.h"
#include "src/util/log.h"
#include "src/metrics/metrics.h"
#include "src/limits/vm-limits.h"
#include "src/metrics/vm-stats.h"

#define MIB (1024ll * 1024ll)

/* ---- replies (api.c's format: JSON, errors as {"error":{class,desc}}) ---- */

/* the client left: the change goes on, nobody hears of it */
static void detach_op(void *op)
{
	vm_limits_op_cancel(op);
}

/* ---- validation ---- */

static int only_fields(struct evhttp_request *req, struct json_object *body,
		       const char *const *known)
{
	json_object_object_foreach(body, k, v)
	{
		bool ok = false;
		(void)v;
		for (const char *const *p = known; *p; p++)
			ok = ok || !strcmp(k, *p);
		if (!ok) {
			http_send_error(req, 400, "InvalidParameter", "unknown field '%s'", k);
			return -1;
		}
	}
	return 0;
}

/* An integer field in min..max: 1 present, 0 absent, -1 after replying. */
static int int_field(struct evhttp_request *req, struct json_object *body, const char *key,
		     int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;

	if (!json_object_object_get_ex(body, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int)) {
		http_send_error(req, 400, "InvalidParameter", "'%s' must be an integer, not %s",
				key, json_type_to_name(json_object_get_type(v)));
		return -1;
	}
	*out = json_object_get_int64(v);
	/* json-c saturates out-of-range numbers: a uint64 beyond int64 too */
	if (*out < min || *out > max ||
	    (*out == INT64_MAX && json_object_get_uint64(v) > INT64_MAX)) {
		http_send_error(req, 400, "InvalidParameter", "'%s' is %s, must be in %lld..%lld",
				key, json_object_to_json_string(v), (long long)min, (long long)max);
		return -1;
	}
	return 1;
}

static void put_memory(struct vmsup *sup, struct vm_limits *l, struct evhttp_request *req,
		       struct vm *vm, struct json_object *body)
{
	static const char *const known[] = {"target_mib", NULL};
	struct http_held *h;
	int64_t target;
	int rc;

	if (only_fields(req, body, known))
		return;
	rc = int_field(req, body, "target_mib", 1, VMSUP_MEM_MAX_MIB, &target);
	if (rc < 0)
		return;
	if (rc == 0) {
		http_send_error(req, 400, "InvalidParameter", "'target_mib' is required");
		return;
	}
	(void)sup;
	if ((h = http_held_new(req)))
		http_held_wait(h, vm_limits_balloon(l, vm, target, http_held_outcome, h),
			       detach_op);
}

static void put_cpu(struct vmsup *sup, struct vm_limits *l, struct evhttp_request *req,
		    struct vm *vm, struct json_object *body)
{
	static const char *const known[] = {"quota_pct", "period_us",	 "pin", "pin_mode",
					    "vcpu_pin",	 "emulator_pin", NULL};
	struct vm_cpu_change c;
	struct json_object *v;
	struct http_held *h;
	int64_t n;
	int rc;
	char *err = NULL;

	(void)sup;
	memset(&c, 0, sizeof(c));
	if (only_fields(req, body, known))
		return;
	if (json_object_object_get_ex(body, "quota_pct", &v) &&
	    json_object_is_type(v, json_type_null)) {
		c.set_quota = true;
		c.quota_pct = CG_CPU_UNLIMITED;
	} else if ((rc = int_field(req, body, "quota_pct", 1, VMSUP_QUOTA_PCT_MAX, &n)) < 0) {
		return;
	} else if (rc) {
		c.set_quota = true;
		c.quota_pct = (int)n;
	}
	if ((rc = int_field(req, body, "period_us", CG_MIN_PERIOD, CG_MAX_PERIOD, &n)) < 0)
		return;
	if (rc) {
		c.set_period = true;
		c.period_us = (unsigned)n;
	}
	if (vm_cpu_change_pins(body, &c, &err)) {
		http_send_error(req, 400, "InvalidParameter", "%s", err);
		free(err);
		return;
	}
	if (!c.set_quota && !c.set_period && !c.set_pin && !c.set_emu) {
		http_send_error(req, 400, "InvalidParameter",
				"nothing to change: give quota_pct, period_us, pin, vcpu_pin or "
				"emulator_pin");
		return;
	}
	if ((h = http_held_new(req)))
		http_held_wait(h, vm_limits_cpu(l, vm, &c, http_held_outcome, h), detach_op);
}

void api_limits_put(struct vmsup *sup, struct evhttp_request *req, const char *name,
		    const char *action, struct json_object *body)
{
	struct vm_limits *l = vm_limits_of(sup);
	struct vm *vm;

	if (!body || !json_object_is_type(body, json_type_object)) {
		http_send_error(req, 400, "InvalidParameter", "the body must be a JSON object");
		return;
	}
	if (!(vm = vmsup_find(sup, name))) {
		http_send_error(req, 404, "NotFound", "no VM named '%s'", name);
		return;
	}
	if (!l) {
		http_send_error(req, 501, "NotImplemented",
				"limits are not active in this process");
		return;
	}
	if (vm->destroying) {
		http_send_error(req, 409, "Conflict", "VM '%s' is being destroyed", name);
		return;
	}
	if (!strcmp(action, "memory"))
		put_memory(sup, l, req, vm, body);
	else
		put_cpu(sup, l, req, vm, body);
}

/* ---- /metrics ---- */

void api_limits_metrics(struct vmsup *sup, struct evhttp_request *req,
			const struct vmsup_peer *peer, bool admin)
{
	struct vm_limits *l = vm_limits_of(sup);
	struct vmsup_stats *st = vm_stats_of(sup);
	size_t n = vmsup_count(sup), i = 0;
	struct metrics_vm *mv = calloc(n ? n : 1, sizeof(*mv));
	struct metrics_daemon md = {0};
	struct evbuffer *b = evbuffer_new();
	char *err = NULL;

	if (!mv || !b) {
		http_send_error(req, 500, "InternalError", "out of memory");
		goto out;
	}
	for (struct vm *vm = vmsup_first(sup); vm && i < n; vm = vm->next) {
		/* another user's VM does not exist, here as on every route */
		if (!owner_sees(peer, admin, vm))
			continue;
		mv[i++] = (struct metrics_vm){
		    .name = vm->spec.name,
		    .state = vm_state_name(vm->state),
		    .vcpus = (int)vm->spec.cpus,
		    .memory_bytes = (uint64_t)vm->spec.mem_mib * MIB,
		    .balloon_bytes = vm->balloon_mib >= 0 ? (int64_t)vm->balloon_mib * MIB : -1,
		    .cpu_seconds = vm_limits_cpu_seconds(l, vm),
		    .restarts = vm->restarts,
		    .agent_ready = vm->agent_state == VM_AGENT_READY,
		    .state_unsaved = vm->save_error != NULL,
		};
	}
	if (st) {
		md.uptime_seconds = vmsup_stats_now() - st->started_mono;
		/* every user's requests and VMs: for admins */
		md.api = admin ? &st->api : NULL;
		md.qmp = admin ? &st->qmp_rt : NULL;
	}
	if (metrics_render_vmsup(b, &md, mv, i, &err) < 0) {
		http_send_error(req, 500, "InternalError", "metrics: %s", err);
		goto out;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  METRICS_CONTENT_TYPE);
	evhttp_send_reply(req, 200, "OK", b);
out:
	if (b)
		evbuffer_free(b);
	free(mv);
	free(err);
}
