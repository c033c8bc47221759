/* The warm pool's routes (see api-pool.h). */
#include "src/daemon/api-pool.h"

#include <stdlib.h>
#include <string.h>

#include "src/core/module.h"
#include "src/daemon/http.h"
#include "src/pool/pool.h"

static void detach(void *take)
{
	/* the client went away: the VM it would have got is destroyed */
	vm_pool_take_detach(take);
}

static void no_pool(struct evhttp_request *req)
{
	http_send_error(req, 404, "NotFound",
			"no warm pool: set pool_template and pool_size in vmsupd.conf");
}

static void take(struct vm_pool *p, struct evhttp_request *req, const struct vmsup_peer *peer)
{
	struct json_object *body;
	struct http_held *h;

	if (http_read_json(req, &body))
		return;
	/* a share is bound into the VM by root: the client must own up to it
	 * (checked first: a refusal says nothing about the pool) */
	if (body && !http_peer_files_ok(req, peer, body)) {
		json_object_put(body);
		return;
	}
	if (!p) {
		no_pool(req);
		json_object_put(body);
		return;
	}
	if ((h = http_held_new(req)))
		http_held_wait(h, vm_pool_take(p, body, peer->uid, http_held_done, h), detach);
	json_object_put(body);
}

void api_pool_route(struct vmsup *sup, struct evhttp_request *req, const struct vmsup_peer *peer,
		    const char *action)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct vm_pool *p = vmsup_module_ctx(sup, VM_POOL_MODULE);

	if (!action) {
		if (!p) {
			no_pool(req);
		} else if (m == EVHTTP_REQ_GET) {
			struct json_object *o = vm_pool_status(p);
			http_send_json(req, 200, o);
			json_object_put(o);
		} else {
			http_send_error(req, 405, "MethodNotAllowed", "use GET");
		}
	} else if (!strcmp(action, "take")) {
		if (m == EVHTTP_REQ_POST)
			take(p, req, peer);
		else
			http_send_error(req, 405, "MethodNotAllowed", "use POST");
	} else {
		http_send_error(req, 404, "NotFound", "no such path");
	}
}
