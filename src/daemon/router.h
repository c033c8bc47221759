/*
 * The API's router (api.c holds the table): each route a path of segments,
 * "{name}" and "{verb}" matching any one, the methods it takes, the checks
 * before its handler and the handler. A new route is a row of the table.
 */
#ifndef VMSUP_ROUTER_H
#define VMSUP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "src/core/supervisor.h"

struct vmsup_api;
struct vmsup_peer;

/* What a route's handler is given. */
struct api_call {
	struct vmsup_api *api;
	struct vmsup *sup;
	struct evhttp_request *req;
	struct evkeyvalq *query;
	const struct vmsup_peer *peer;
	bool admin;
	const char *name; /* the path's {name} segment */
	const char *verb; /* its {verb} segment */
	const char *last; /* its last segment */
	enum vm_op op;	  /* the route's */
};

struct api_route {
	unsigned methods; /* EVHTTP_REQ_* bits, or ROUTE_ANY */
	const char *path; /* "/v1/vms/{name}/start" */
	void (*fn)(const struct api_call *c);
	unsigned flags; /* ROUTE_* */
	enum vm_op op;	/* given to fn in c->op */
};

#define ROUTE_ANY     0	 /* the handler checks the method (and words its own 405) */
#define ROUTE_ADMIN   1u /* root and admin_group members only: 403 for others */
#define ROUTE_VM      2u /* {name} is a VM: 400 for a bad name, 404 for another user's */
#define ROUTE_SEG_MAX 4	 /* the most segments a route's path has */

/*
 * The route of c's path (its n segments seg), its checks passed, with
 * c's name, verb and last set; NULL after replying: 404 when no row's path
 * matches, a check's 400, 403 or 404, or 405 when the first matching
 * row's path takes another method (the rows of the same path are one).
 */
const struct api_route *api_route_find(const struct api_route *routes, size_t n_routes,
				       struct api_call *c, char **seg, int n);

/* "GET", "POST", "PUT", "DELETE", else "other". */
const char *api_method_name(enum evhttp_cmd_type m);

/* 404 "no such path": a row's handler for the paths below a VM no route has. */
void api_no_such_path(const struct api_call *c);

#endif
