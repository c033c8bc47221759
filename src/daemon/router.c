/* The API's router (see router.h). */
#include "src/daemon/router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/daemon/http.h"
#include "src/daemon/owner.h"
#include "src/util/name.h"

/* in the order a 405 names them */
static const struct {
	enum evhttp_cmd_type m;
	const char *name;
} methods[] = {
    {EVHTTP_REQ_GET, "GET"},
    {EVHTTP_REQ_POST, "POST"},
    {EVHTTP_REQ_PUT, "PUT"},
    {EVHTTP_REQ_DELETE, "DELETE"},
};

const char *api_method_name(enum evhttp_cmd_type m)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].m == m)
			return methods[i].name;
	return "other";
}

void api_no_such_path(const struct api_call *c)
{
	http_send_error(c->req, 404, "NotFound", "no such path");
}

/* Does path match the n segments seg? Sets c's {name}, {verb} if so. */
static bool path_matches(const char *path, char **seg, int n, struct api_call *c)
{
	const char *name = NULL, *verb = NULL;
	int i = 0;

	for (const char *p = path; *p == '/'; i++) {
		size_t len = strcspn(++p, "/");
		if (i == n)
			return false;
		if (len == 6 && !strncmp(p, "{name}", len))
			name = seg[i];
		else if (len == 6 && !strncmp(p, "{verb}", len))
			verb = seg[i];
		else if (strlen(seg[i]) != len || strncmp(seg[i], p, len))
			return false;
		p += len;
	}
	if (i != n)
		return false;
	c->name = name;
	c->verb = verb;
	c->last = n ? seg[n - 1] : NULL;
	return true;
}

/* "use GET or POST": the methods of the rows of r's path */
static void method_not_allowed(const struct api_call *c, const struct api_route *r,
			       const struct api_route *end)
{
	char use[64] = "";
	unsigned allowed = 0;

	for (const struct api_route *o = r; o < end; o++)
		if (!strcmp(o->path, r->path))
			allowed |= o->methods;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (allowed & methods[i].m)
			snprintf(use + strlen(use), sizeof(use) - strlen(use), "%s%s",
				 *use ? " or " : "", methods[i].name);
	http_send_error(c->req, 405, "MethodNotAllowed", "%s: use %s",
			api_method_name(evhttp_request_get_command(c->req)), use);
}

const struct api_route *api_route_find(const struct api_route *routes, size_t n_routes,
				       struct api_call *c, char **seg, int n)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(c->req);
	const struct api_route *r = routes, *end = routes + n_routes;
	struct vm *vm;
	char *err = NULL;

	while (r < end && !path_matches(r->path, seg, n, c))
		r++;
	if (r == end) {
		api_no_such_path(c);
		return NULL;
	}
	if (r->flags & ROUTE_VM) {
		if (vmsup_name_check(c->name, &err)) {
			http_send_error(c->req, 400, "InvalidParameter", "bad VM name: %s", err);
			free(err);
			return NULL;
		}
		/* another user's VM is not there for this peer, on every route */
		if ((vm = vmsup_find(c->sup, c->name)) && !owner_sees(c->peer, c->admin, vm)) {
			http_send_error(c->req, 404, "NotFound", "no VM named '%s'", c->name);
			return NULL;
		}
	}
	for (const struct api_route *o = r; o < end; o++)
		if (!strcmp(o->path, r->path) && (!o->methods || (o->methods & m))) {
			if (!(o->flags & ROUTE_ADMIN) || c->admin)
				return o;
			http_send_error(c->req, 403, "PermissionDenied",
					"%s: only root and admin_group members",
					strrchr(o->path, '/') + 1);
			return NULL;
		}
	method_not_allowed(c, r, end);
	return NULL;
}
