/*
 * The template routes of the API (docs/API.md):
 *   POST   /v1/templates        {"name":..., VM spec fields}  -> 201 meta
 *   GET    /v1/templates                                     -> {"templates":[...]}
 *   DELETE /v1/templates/NAME                                -> {}
 *   POST   /v1/templates/NAME/verify                         -> {"name","ok","files"}
 * POST /v1/vms {"name","from"} is the supervisor's (src/snapshot/vm-template.h).
 */
#ifndef VMSUP_API_TEMPLATE_H
#define VMSUP_API_TEMPLATE_H

#include <stdbool.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "src/core/supervisor.h"

/* name: the path segment after /v1/templates, or NULL; verb: the one
 * after NAME ("verify"), or NULL. */
struct vmsup_peer;
/* peer: the client's credentials (http_peer_get), for the files a template
 * names and its owner; admin: the peer acts on every user's templates. A
 * template is its maker's: others get 404 for it, and the list leaves it out. */
void api_template_route(struct vmsup *sup, struct evhttp_request *req,
			const struct vmsup_peer *peer, bool admin, const char *name,
			const char *verb);

/*
 * POST /v1/vms with "from": a template the peer may not see is 404, as a
 * VM would be. 1 to go on (no "from", or the peer's own template), or 0
 * after replying.
 */
int api_template_from_ok(struct vmsup *sup, struct evhttp_request *req,
			 const struct vmsup_peer *peer, bool admin, struct json_object *body);

/* Daemon exit (before the HTTP server is freed): templates being made are abandoned. */
void api_template_teardown(void);

#endif
