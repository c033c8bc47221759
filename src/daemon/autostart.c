/* Autostart: the flag's route and the start pass at daemon start-up. */
#include "src/daemon/autostart.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "src/daemon/http.h"
#include "src/util/log.h"

/* the client left: the change stands, nobody hears of it */
static void detach_waiter(void *w)
{
	vmsup_cancel(w);
}

void api_autostart_put(struct vmsup *sup, struct evhttp_request *req, const char *name,
		       struct json_object *body)
{
	struct json_object *v;
	struct http_held *h;
	struct vm *vm;
	bool was;

	if (!body || !json_object_is_type(body, json_type_object)) {
		http_send_error(req, 400, "InvalidParameter",
				"the body must be a JSON object {\"autostart\": true|false}");
		return;
	}
	json_object_object_foreach(body, k, val)
	{
		(void)val;
		if (strcmp(k, "autostart")) {
			http_send_error(req, 400, "InvalidParameter", "unknown field '%s'", k);
			return;
		}
	}
	if (!json_object_object_get_ex(body, "autostart", &v)) {
		http_send_error(req, 400, "InvalidParameter", "'autostart' is required");
		return;
	}
	if (!json_object_is_type(v, json_type_boolean)) {
		http_send_error(req, 400, "InvalidParameter",
				"'autostart' must be true or false, not %s",
				json_type_to_name(json_object_get_type(v)));
		return;
	}
	if (!(vm = vmsup_find(sup, name))) {
		http_send_error(req, 404, "NotFound", "no VM named '%s'", name);
		return;
	}
	if (vm->destroying) {
		http_send_error(req, 409, "Conflict", "VM '%s' is being destroyed", name);
		return;
	}
	if (vm->pool_member) {
		http_send_error(req, 409, "PoolMember",
				"VM '%s' waits in the warm pool, which starts its own VMs", name);
		return;
	}
	if (!(h = http_held_new(req)))
		return;
	was = vm->spec.autostart;
	vm->spec.autostart = json_object_get_boolean(v);
	if (vm->spec.autostart != was) {
		LOG_I(name, "autostart %s", vm->spec.autostart ? "on" : "off");
		vmsup_vm_save_start(vm);
	}
	/* on disk before the reply says so (a kill -9 right after it keeps
	 * it), written by the writer thread while the loop serves others */
	http_held_wait(h, vmsup_vm_reply_saved(vm, NULL, false, http_held_done, h), detach_waiter);
}

static void on_started(const struct vmsup_result *r, void *arg)
{
	char *name = arg;
	struct json_object *st;

	if (r->cls)
		LOG_W(name, "autostart failed: %s", r->desc);
	else if (r->body && json_object_object_get_ex(r->body, "state", &st) &&
		 strcmp(json_object_get_string(st), "running"))
		LOG_W(name, "autostart: %s", json_object_get_string(st));
	else
		LOG_I(name, "autostarted");
	free(name);
}

size_t vm_autostart_all(struct vmsup *sup)
{
	size_t n = 0, i = 0, count = vmsup_count(sup);
	char **names = calloc(count ? count : 1, sizeof(*names));

	if (!names) {
		LOG_E(NULL, "autostart: out of memory");
		return 0;
	}
	/* names first: a start that fails at once may change the registry */
	for (struct vm *vm = vmsup_first(sup); vm && i < count; vm = vm->next)
		if (vm->spec.autostart && !vm_state_has_process(vm->state) && !vm->pool_member &&
		    !vm->destroying && vm->pid <= 0)
			names[i++] = strdup(vm->spec.name);
	for (size_t k = 0; k < i; k++) {
		if (!names[k])
			continue;
		LOG_I(names[k], "autostart");
		n++;
		/* on_started frees the name; the waiter is the daemon's, never cancelled */
		vmsup_op(sup, names[k], VM_OP_START, NULL, on_started, names[k]);
	}
	free(names);
	return n;
}
