/* The warm pool's routes (see api-pool.h). */
#include "src/daemon/api-pool.h"

#include <stdlib.h>

#include <unistd.h>

#include "src/core/module.h"
#include "src/daemon/http.h"
#include "src/files/vm-files.h"
#include "src/pool/pool.h"
#include "src/util/share.h"

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

/* The share a take binds, held to the rules of any share (share.h): 1
 * with *fd (the directory opened, or -1 for no share), or 0 after
 * replying 403/500. */
static int share_ok(struct vmsup *sup, struct evhttp_request *req, const struct vmsup_peer *peer,
		    struct json_object *body, int *fd)
{
	const struct vm_files_ctx *c = vmsup_module_ctx(sup, "files");
	struct json_object *arr, *e, *path;
	char *err = NULL;
	int rc = 0;

	*fd = -1;
	if (!c || !json_object_object_get_ex(body, "shares", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return 1;
	/* a take binds one share (more is the take's own 400) */
	if (json_object_array_length(arr) == 1) {
		dev_t dev;
		ino_t ino;
		e = json_object_array_get_idx(arr, 0);
		if (json_object_object_get_ex(e, "path", &path) &&
		    json_object_is_type(path, json_type_string))
			rc = vmsup_share_open(peer, json_object_get_string(path), vm_files_rules(c),
					      fd, &dev, &ino, &err);
	}
	if (rc == 2)
		http_send_error(req, 400, "InvalidParameter", "%s", err);
	else if (rc)
		http_send_error(req, rc > 0 ? 403 : 500,
				rc > 0 ? "PermissionDenied" : "InternalError", "%s",
				err ? err : "share check failed");
	free(err);
	return rc == 0;
}

static void take(struct vmsup *sup, struct vm_pool *p, struct evhttp_request *req,
		 const struct vmsup_peer *peer)
{
	struct json_object *body;
	struct http_held *h;
	int fd = -1;

	if (http_read_json(req, &body))
		return;
	/* a share is bound into the VM by root: the client must own up to it
	 * (checked first: a refusal says nothing about the pool). The bind
	 * shows the directory's owner as qemu's user (vm_stage_bind), so the
	 * caller's own directory serves as well as root's */
	if (body &&
	    (!http_peer_files_ok(req, peer, body) || !share_ok(sup, req, peer, body, &fd))) {
		json_object_put(body);
		return;
	}
	if (!p)
		no_pool(req);
	else if ((h = http_held_new(req)))
		http_held_wait(h, vm_pool_take(p, body, peer->uid, fd, http_held_done, h), detach);
	if (fd >= 0)
		close(fd);
	json_object_put(body);
}

void api_pool_status(struct vmsup *sup, struct evhttp_request *req)
{
	struct vm_pool *p = vmsup_module_ctx(sup, VM_POOL_MODULE);

	if (!p) {
		no_pool(req);
	} else if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
		struct json_object *o = vm_pool_status(p);
		http_send_json(req, 200, o);
		json_object_put(o);
	} else {
		http_send_error(req, 405, "MethodNotAllowed", "use GET");
	}
}

void api_pool_take(struct vmsup *sup, struct evhttp_request *req, const struct vmsup_peer *peer)
{
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST)
		take(sup, vmsup_module_ctx(sup, VM_POOL_MODULE), req, peer);
	else
		http_send_error(req, 405, "MethodNotAllowed", "use POST");
}
