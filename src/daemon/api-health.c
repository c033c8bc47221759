#include "src/daemon/api-health.h"

#include <json-c/json.h>

#include "src/core/restart.h"
#include "src/core/vm.h"
#include "src/daemon/http.h"
#include "src/daemon/owner.h"

static void add(struct json_object *reasons, const char *reason, const char *vm, const char *detail)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "reason", json_object_new_string(reason));
	json_object_object_add(r, "vm", vm ? json_object_new_string(vm) : NULL);
	json_object_object_add(r, "detail", json_object_new_string(detail));
	json_object_array_add(reasons, r);
}

void api_health(struct vmsup *sup, struct evhttp_request *req, const struct vmsup_peer *peer,
		bool admin)
{
	struct json_object *o = json_object_new_object(), *reasons = json_object_new_array();
	bool degraded;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_send_error(req, 405, "MethodNotAllowed", "/v1/health: use GET");
		json_object_put(reasons);
		json_object_put(o);
		return;
	}
	for (struct vm *vm = vmsup_first(sup); vm; vm = vm->next) {
		/* the host's health is everyone's; other users' VM names are not */
		const char *name = owner_sees(peer, admin, vm) ? vm->spec.name : NULL;
		struct json_object *missing = vm_spec_missing(&vm->spec);

		if (vm->save_error)
			add(reasons, "state_unsaved", name, vm->save_error);
		if (json_object_array_length(missing))
			add(reasons, "missing_files", name,
			    json_object_get_string(json_object_array_get_idx(missing, 0)));
		if (vm_restart_pending(vm))
			add(reasons, "restart_pending", name,
			    vm->error ? vm->error : vm_state_name(vm->state));
		json_object_put(missing);
	}
	degraded = json_object_array_length(reasons) > 0;
	json_object_object_add(o, "status", json_object_new_string(degraded ? "degraded" : "ok"));
	json_object_object_add(o, "reasons", reasons);
	/* a status a plain HTTP check (curl -f, a load balancer) tells apart */
	http_send_json(req, degraded ? 503 : 200, o);
	json_object_put(o);
}
