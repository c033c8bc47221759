#include "src/daemon/http.h"
#include "src/daemon/accept.h"
#include "src/daemon/api.h"
#include "src/daemon/api-console.h"
#include "src/daemon/conn.h"
#include "src/daemon/api-guest.h"
#include "src/daemon/api-logs.h"
#include "src/daemon/api-limits.h"
#include "src/daemon/api-health.h"
#include "src/daemon/api-pool.h"
#include "src/daemon/api-shutdown.h"
#include "src/daemon/api-template.h"
#include "src/daemon/autostart.h"
#include "src/daemon/owner.h"
#include "src/daemon/router.h"
#include "src/daemon/api-vm.h"

#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "src/util/bounds.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/util/name.h"
#include "src/util/peer.h"

#define HARD_BODY_MAX  (4 * VMSUP_API_BODY_MAX) /* beyond: libevent refuses unread */
#define STREAM_BACKLOG (4 * 1024 * 1024)	/* a reader this far behind is dropped */
#define IDLE_TIMEOUT_S 60

struct stream;

struct vmsup_api {
	struct event_base *base;
	struct vmsup *sup;
	struct evhttp *http;
	struct evhttp_bound_socket *bound;
	struct accept_guard *guard; /* pauses accepting when out of fds */
	struct api_conns *conns;    /* limits, deadlines, JSON error pages */
	char *path;
	gid_t api_gid;	 /* (gid_t)-1: none */
	gid_t admin_gid; /* (gid_t)-1: none */
	struct stream *streams;
};

/* ---- event streams ---- */

struct stream {
	struct http_stream stream;
	struct vmsup_api *api;
	int handle;
	uid_t uid; /* the reader: sees its own VMs' events unless admin */
	bool admin;
	struct stream *next;
};

static void stream_free(void *arg, bool client_left)
{
	struct stream *s = arg;
	struct vmsup_api *api = s->api;

	(void)client_left;
	vmsup_unsubscribe(api->sup, s->handle);
	for (struct stream **pp = &api->streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s);
}

static void on_stream_event(struct json_object *ev, void *arg)
{
	struct stream *s = arg;
	struct json_object *o;

	if (!s->admin && json_object_object_get_ex(ev, "owner", &o) &&
	    (uid_t)json_object_get_int64(o) != s->uid)
		return;
	if (http_stream_backlog(&s->stream) > STREAM_BACKLOG) {
		LOG_W(NULL, "event reader too slow: dropped");
		http_stream_end(&s->stream);
		return;
	}
	http_stream_printf(&s->stream, "%s\n",
			   json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
								  JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* ---- the routes ---- */

static void events(const struct api_call *c)
{
	const char *vm = evhttp_find_header(c->query, "vm");
	struct vm *v;
	struct stream *s;
	char *err = NULL;

	if (vm && vmsup_name_check(vm, &err)) {
		http_send_error(c->req, 400, "InvalidParameter", "vm: %s", err);
		free(err);
		return;
	}
	/* a stream for a VM that is not there would wait forever */
	if (vm && (!(v = vmsup_find(c->sup, vm)) || !owner_sees(c->peer, c->admin, v))) {
		http_send_error(c->req, 404, "NotFound", "no VM named '%s'", vm);
		return;
	}
	if (!(s = calloc(1, sizeof(*s))) ||
	    (s->handle = vmsup_subscribe(c->sup, vm, on_stream_event, s)) < 0) {
		free(s);
		http_send_error(c->req, 500, "InternalError", "out of memory");
		return;
	}
	s->api = c->api;
	s->uid = c->peer->uid;
	s->admin = c->admin;
	s->next = c->api->streams;
	c->api->streams = s;
	http_stream_start(&s->stream, c->sup, c->req, "application/x-ndjson", stream_free, s);
}

static void metrics(const struct api_call *c)
{
	api_limits_metrics(c->sup, c->req, c->peer, c->admin);
}

static void version(const struct api_call *c)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "version", json_object_new_string(VMSUP_VERSION));
	json_object_object_add(o, "qemu", json_object_new_string(vmsup_qemu_version(c->sup)));
	http_send_json(c->req, 200, o);
	json_object_put(o);
}

static void health(const struct api_call *c)
{
	api_health(c->sup, c->req, c->peer, c->admin);
}

static void shutdown_all(const struct api_call *c)
{
	struct json_object *body;

	if (!http_read_json(c->req, &body))
		api_shutdown_all(c->sup, c->req, body);
	json_object_put(body);
}

/* memory, cpu: the path's last segment */
static void vm_limits(const struct api_call *c)
{
	struct json_object *body;

	if (!http_read_json(c->req, &body))
		api_limits_put(c->sup, c->req, c->name, c->last, body);
	json_object_put(body);
}

static void vm_autostart(const struct api_call *c)
{
	struct json_object *body;

	if (!http_read_json(c->req, &body))
		api_autostart_put(c->sup, c->req, c->name, body);
	json_object_put(body);
}

static void vm_ip(const struct api_call *c)
{
	vmsup_api_guest_ip(c->sup, c->req, c->name, c->query);
}

static void vm_exec(const struct api_call *c)
{
	vmsup_api_guest_exec(c->sup, c->req, c->name);
}

static void vm_logs(const struct api_call *c)
{
	api_logs_get(c->sup, c->req, c->name, c->query);
}

static void vm_console(const struct api_call *c)
{
	api_console_attach(c->sup, c->req, c->name, c->peer);
}

static void pool_status(const struct api_call *c)
{
	api_pool_status(c->sup, c->req);
}

static void pool_take(const struct api_call *c)
{
	api_pool_take(c->sup, c->req, c->peer);
}

static void templates(const struct api_call *c)
{
	api_template_route(c->sup, c->req, c->peer, c->admin, c->name, c->verb);
}

#define GET    EVHTTP_REQ_GET
#define POST   EVHTTP_REQ_POST
#define PUT    EVHTTP_REQ_PUT
#define DELETE EVHTTP_REQ_DELETE
#define ANY    ROUTE_ANY
#define ADMIN  ROUTE_ADMIN
#define VM     ROUTE_VM

/* Every route (docs/API.md), walked by api_route_find (router.h). */
static const struct api_route routes[] = {
    {GET, "/metrics", metrics, 0, 0},
    {GET, "/v1/version", version, 0, 0},
    {ANY, "/v1/health", health, 0, 0},
    {POST, "/v1/shutdown", shutdown_all, ADMIN, 0}, /* it stops every user's VMs */
    {GET, "/v1/events", events, 0, 0},
    {GET, "/v1/vms", api_vm_list, 0, 0},
    {POST, "/v1/vms", api_vm_create, 0, 0},
    {GET, "/v1/vms/{name}", api_vm_get, VM, 0},
    {DELETE, "/v1/vms/{name}", api_vm_destroy, VM, 0},
    {PUT, "/v1/vms/{name}/memory", vm_limits, VM, 0},
    {PUT, "/v1/vms/{name}/cpu", vm_limits, VM, 0},
    {PUT, "/v1/vms/{name}/autostart", vm_autostart, VM, 0},
    {ANY, "/v1/vms/{name}/ip", vm_ip, VM, 0},
    {ANY, "/v1/vms/{name}/exec", vm_exec, VM, 0},
    {ANY, "/v1/vms/{name}/logs", vm_logs, VM, 0},
    {ANY, "/v1/vms/{name}/console", vm_console, VM, 0},
    {POST, "/v1/vms/{name}/start", api_vm_action, VM, VM_OP_START},
    {POST, "/v1/vms/{name}/pause", api_vm_action, VM, VM_OP_PAUSE},
    {POST, "/v1/vms/{name}/resume", api_vm_action, VM, VM_OP_RESUME},
    {POST, "/v1/vms/{name}/stop", api_vm_action, VM, VM_OP_STOP},
    {POST, "/v1/vms/{name}/kill", api_vm_action, VM, VM_OP_KILL},
    {POST, "/v1/vms/{name}/reset", api_vm_action, VM, VM_OP_RESET},
    {POST, "/v1/vms/{name}/qmp", api_vm_action, VM, VM_OP_QMP},
    /* after the VM's routes: an unknown one is checked as a VM first */
    {ANY, "/v1/vms/{name}/{verb}", api_no_such_path, VM, 0},
    {ANY, "/v1/pool", pool_status, 0, 0},
    {ANY, "/v1/pool/take", pool_take, 0, 0},
    {ANY, "/v1/templates", templates, 0, 0},
    {ANY, "/v1/templates/{name}", templates, 0, 0},
    {ANY, "/v1/templates/{name}/{verb}", templates, 0, 0},
};

static void route(struct evhttp_request *req, void *arg)
{
	struct vmsup_api *api = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq query = {0};
	struct vmsup_peer peer;
	struct api_call c = {
	    .api = api, .sup = api->sup, .req = req, .query = &query, .peer = &peer};
	const struct api_route *r;
	char *copy = NULL, *seg[ROUTE_SEG_MAX + 1] = {0}, *save = NULL, *p;
	int n = 0;

	TAILQ_INIT(&query);
	http_count_on_complete(api->sup, req);
	if (api_conn_refused(req))
		return;
	/* one read of the socket's credentials decides both who may use the
	 * API and which files a spec may name */
	if (http_peer_get(req, &peer))
		return;
	if (!vmsup_peer_api_allowed(&peer, api->api_gid)) {
		http_send_error(req, 403, "PermissionDenied",
				"peer is neither root nor in api_group");
		return;
	}
	c.admin = owner_is_admin(&peer, api->admin_gid);
	LOG_D(NULL, "%s %s", api_method_name(evhttp_request_get_command(req)),
	      evhttp_request_get_uri(req));
	if (!path || !(copy = strdup(path))) {
		http_send_error(req, 400, "InvalidParameter", "bad request path");
		return;
	}
	if (q && evhttp_parse_query_str(q, &query) < 0) {
		http_send_error(req, 400, "InvalidParameter", "bad query string");
		goto out;
	}
	/* a path longer than any route's matches none (n == ROUTE_SEG_MAX + 1) */
	for (p = strtok_r(copy, "/", &save); p && n <= ROUTE_SEG_MAX;
	     p = strtok_r(NULL, "/", &save))
		seg[n++] = p;
	if ((r = api_route_find(routes, sizeof(routes) / sizeof(routes[0]), &c, seg, n))) {
		c.op = r->op;
		r->fn(&c);
	}
out:
	evhttp_clear_headers(&query);
	free(copy);
}

static int bind_socket(const char *path, const char *group, gid_t *gid, char **err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, probe;

	*gid = (gid_t)-1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return vmsup_err(err, "%s: socket path too long", path);
	strcpy(sa.sun_path, path);
	if (group) {
		struct group *g = getgrnam(group);
		if (!g)
			return vmsup_err(err, "api_group '%s': no such group", group);
		*gid = g->gr_gid;
	}
	/* a socket that still answers belongs to a live daemon: leave it */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		int live = connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(probe);
		if (live)
			return vmsup_err(err, "%s: another daemon is listening there", path);
	}
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vmsup_err(err, "socket: %s", strerror(errno));
	/* no window in which the socket exists with wider permissions */
	mode_t old = umask(0117);
	int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0) {
		vmsup_err(err, "bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (chmod(path, 0660) < 0 || (group && chown(path, (uid_t)-1, *gid) < 0) ||
	    listen(fd, 128) < 0) {
		/* sa.sun_path, not path: GCC's sanitizer build misreads path as NULL here */
		vmsup_err(err, "%s: %s", sa.sun_path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

struct vmsup_api *vmsup_api_new(struct event_base *base, struct vmsup *sup, const char *path,
				const char *api_group, char **err)
{
	struct vmsup_api *api = calloc(1, sizeof(*api));
	int fd;

	if (!api || !(api->path = strdup(path))) {
		free(api);
		vmsup_err(err, "out of memory");
		return NULL;
	}
	api->base = base;
	api->sup = sup;
	/* checked before the socket is bound: a bad key leaves nothing behind */
	if (owner_admin_gid(vmsup_config(sup)->admin_group, &api->admin_gid, err)) {
		free(api->path);
		free(api);
		return NULL;
	}
	fd = bind_socket(path, api_group, &api->api_gid, err);
	if (fd < 0) {
		free(api->path);
		free(api);
		return NULL;
	}
	api->http = evhttp_new(base);
	if (!api->http) {
		close(fd);
		unlink(path);
		free(api->path);
		free(api);
		vmsup_err(err, "evhttp_new failed");
		return NULL;
	}
	evhttp_set_max_body_size(api->http, HARD_BODY_MAX);
	evhttp_set_max_headers_size(api->http, 64 * 1024);
	evhttp_set_timeout(api->http, IDLE_TIMEOUT_S);
	evhttp_set_allowed_methods(api->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						  EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(api->http, route, api);
	api->bound = evhttp_accept_socket_with_handle(api->http, fd);
	if (!api->bound) {
		close(fd);
		vmsup_err(err, "cannot accept on %s", path);
		vmsup_api_free(api);
		return NULL;
	}
	/* before the loop turns: no connection is accepted unwatched */
	if (!(api->guard = accept_guard_new(base, api->bound)) ||
	    !(api->conns = api_conns_new(base, api->http, vmsup_config(sup)->max_connections,
					 vmsup_config(sup)->read_timeout_s))) {
		vmsup_err(err, "out of memory");
		vmsup_api_free(api);
		return NULL;
	}
	LOG_I(NULL, "API on %s", path);
	return api;
}

void vmsup_api_stop_accepting(struct vmsup_api *api)
{
	if (api && api->bound) {
		accept_guard_free(api->guard);
		api->guard = NULL;
		evhttp_del_accept_socket(api->http, api->bound);
		api->bound = NULL;
		unlink(api->path);
	}
}

void vmsup_api_free(struct vmsup_api *api)
{
	if (!api)
		return;
	api_template_teardown();
	api_console_teardown();
	vmsup_api_stop_accepting(api);
	while (api->streams)
		http_stream_end(&api->streams->stream);
	if (api->http)
		evhttp_free(api->http);
	api_conns_free(api->conns); /* after the connections closed */
	free(api->path);
	free(api);
}
