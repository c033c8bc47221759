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

#include <event2/http.h>

#include "src/core/supervisor.h"

/* name: the path segment after /v1/templates, or NULL; verb: the one
 * after NAME ("verify"), or NULL. */
struct vmsup_peer;
/* peer: the client's credentials (http_peer_get), for the files a template names */
void api_template_route(struct vmsup *sup, struct evhttp_request *req,
			const struct vmsup_peer *peer, const char *name, const char *verb);

/* Daemon exit (before the HTTP server is freed): templates being made are abandoned. */
void api_template_teardown(void);

#endif
