/* The VMs' own routes (see api-vm.h). */
#include "src/daemon/api-vm.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "src/daemon/api-template.h"
#include "src/daemon/http.h"
#include "src/daemon/owner.h"
#include "src/qemu/qmp-allow.h"
#include "src/util/bounds.h"

/* the client left: the operation goes on, nobody hears of it */
static void detach_waiter(void *w)
{
	vmsup_cancel(w);
}

static bool shown_to(const struct vm *vm, const void *arg)
{
	const struct api_call *c = arg;

	return owner_sees(c->peer, c->admin, vm);
}

void api_vm_list(const struct api_call *c)
{
	struct evbuffer *b = evbuffer_new();

	/* non-admins see their own VMs only */
	if (!b || vmsup_list_write(c->sup, b, shown_to, c))
		http_send_error(c->req, 500, "InternalError", "out of memory");
	else
		http_send_buffer(c->req, 200, b);
	if (b)
		evbuffer_free(b);
}

void api_vm_create(const struct api_call *c)
{
	struct json_object *body;
	struct http_held *h;

	if (http_read_json(c->req, &body))
		return;
	if (!body) {
		http_send_error(c->req, 400, "InvalidParameter", "a VM spec is required");
		return;
	}
	if (http_peer_files_ok(c->req, c->peer, body) &&
	    api_template_from_ok(c->sup, c->req, c->peer, c->admin, body) &&
	    (h = http_held_new(c->req)))
		http_held_wait(h, vmsup_create(c->sup, body, c->peer, http_held_done, h),
			       detach_waiter);
	json_object_put(body);
}

void api_vm_get(const struct api_call *c)
{
	struct json_object *o = vmsup_get(c->sup, c->name);

	if (!o)
		http_send_error(c->req, 404, "NotFound", "no VM named '%s'", c->name);
	else
		http_send_json(c->req, 200, o);
	json_object_put(o);
}

/* A held operation on the VM; args stay the caller's. */
static void vm_op(const struct api_call *c, enum vm_op op, struct json_object *args)
{
	struct http_held *h = http_held_new(c->req);

	if (h)
		http_held_wait(h, vmsup_op(c->sup, c->name, op, args, http_held_done, h),
			       detach_waiter);
}

/* ?timeout=S&force=1 as the destroy's arguments; NULL after replying 400. */
static struct json_object *destroy_args(const struct api_call *c)
{
	const char *t = evhttp_find_header(c->query, "timeout");
	struct json_object *args = json_object_new_object();

	if (t) {
		char *end;
		long n = strtol(t, &end, 10);
		if (!*t || *end || n < 0 || n > (long)VMSUP_TIMEOUT_MAX_S) {
			json_object_put(args);
			http_send_error(c->req, 400, "InvalidParameter",
					"timeout: '%s' is not an integer in 0..%u", t,
					VMSUP_TIMEOUT_MAX_S);
			return NULL;
		}
		json_object_object_add(args, "timeout_s", json_object_new_int64(n));
	}
	if ((t = evhttp_find_header(c->query, "force"))) {
		bool on = !strcmp(t, "1") || !strcmp(t, "true");
		if (!on && strcmp(t, "0") && strcmp(t, "false")) {
			json_object_put(args);
			http_send_error(c->req, 400, "InvalidParameter",
					"force: '%s' is not one of 1, 0, true, false", t);
			return NULL;
		}
		json_object_object_add(args, "force", json_object_new_boolean(on));
	}
	return args;
}

void api_vm_destroy(const struct api_call *c)
{
	struct json_object *args = destroy_args(c);

	if (args)
		vm_op(c, VM_OP_DESTROY, args);
	json_object_put(args);
}

/* The body as an action's arguments: 0, or -1 after replying 400/403. */
static int action_args(const struct api_call *c, struct json_object *body)
{
	if (body && !json_object_is_type(body, json_type_object)) {
		http_send_error(c->req, 400, "InvalidParameter", "the body must be a JSON object");
		return -1;
	}
	if (c->op == VM_OP_STOP && body) {
		json_object_object_foreach(body, k, v)
		{
			(void)v;
			if (strcmp(k, "timeout_s")) {
				http_send_error(c->req, 400, "InvalidParameter",
						"unknown field '%s'", k);
				return -1;
			}
		}
	}
	if (c->op == VM_OP_QMP && !body) {
		http_send_error(c->req, 400, "InvalidParameter",
				"the body must be a QMP command object {\"execute\":...}");
		return -1;
	}
	if (c->op == VM_OP_QMP && !c->admin && !vm_qmp_unprivileged_ok(body)) {
		http_send_error(c->req, 403, "PermissionDenied",
				"this QMP command is for root and admin_group members only");
		return -1;
	}
	return 0;
}

void api_vm_action(const struct api_call *c)
{
	struct json_object *body;

	if (http_read_json(c->req, &body))
		return;
	if (!action_args(c, body))
		vm_op(c, c->op, body);
	json_object_put(body);
}
