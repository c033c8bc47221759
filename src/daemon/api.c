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
#include "src/qemu/qmp-allow.h"

#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
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

struct stream {
	struct vmsup_api *api;
	struct evhttp_request *req;
	struct evhttp_connection *evcon;
	int handle;
	uid_t uid; /* the reader: sees its own VMs' events unless admin */
	bool admin;
	struct stream *next;
};

/* ---- held requests ---- */

static void no_timeouts(struct evhttp_connection *evcon)
{
	/* a held request may legitimately wait longer than the idle timeout */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(evcon), NULL, NULL);
}

/* the client left: the operation goes on, nobody hears of it */
static void detach_waiter(void *w)
{
	vmsup_cancel(w);
}

/* ---- event streams ---- */

static void stream_free(struct stream *s)
{
	struct vmsup_api *api = s->api;

	vmsup_unsubscribe(api->sup, s->handle);
	for (struct stream **pp = &api->streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	free(s);
}

static void on_stream_close(struct evhttp_connection *evcon, void *arg)
{
	struct stream *s = arg;

	http_request_orphaned(s->req);
	stream_free(s);
}

static void on_stream_event(struct json_object *ev, void *arg)
{
	struct stream *s = arg;
	struct evbuffer *b, *out;
	struct json_object *o;

	if (!s->admin && json_object_object_get_ex(ev, "owner", &o) &&
	    (uid_t)json_object_get_int64(o) != s->uid)
		return;
	out = bufferevent_get_output(evhttp_connection_get_bufferevent(s->evcon));
	if (evbuffer_get_length(out) > STREAM_BACKLOG) {
		LOG_W(NULL, "event reader too slow: dropped");
		api_conn_set_closecb(s->evcon, NULL, NULL);
		evhttp_send_reply_end(s->req);
		stream_free(s);
		return;
	}
	if (!(b = evbuffer_new()))
		return;
	evbuffer_add_printf(b, "%s\n",
			    json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
}

static void route_events(struct vmsup_api *api, struct evhttp_request *req, const char *vm,
			 const struct vmsup_peer *peer, bool admin)
{
	struct vm *v;
	struct stream *s;
	char *err = NULL;

	if (vm && vmsup_name_check(vm, &err)) {
		http_send_error(req, 400, "InvalidParameter", "vm: %s", err);
		free(err);
		return;
	}
	/* a stream for a VM that is not there would wait forever */
	if (vm && (!(v = vmsup_find(api->sup, vm)) || !owner_sees(peer, admin, v))) {
		http_send_error(req, 404, "NotFound", "no VM named '%s'", vm);
		return;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		http_send_error(req, 500, "InternalError", "out of memory");
		return;
	}
	s->api = api;
	s->req = req;
	s->evcon = evhttp_request_get_connection(req);
	s->uid = peer->uid;
	s->admin = admin;
	s->handle = vmsup_subscribe(api->sup, vm, on_stream_event, s);
	if (s->handle < 0) {
		free(s);
		http_send_error(req, 500, "InternalError", "out of memory");
		return;
	}
	s->next = api->streams;
	api->streams = s;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/x-ndjson");
	evhttp_send_reply_start(req, 200, "OK");
	api_limits_count_stream(api->sup, req);
	api_conn_set_closecb(s->evcon, on_stream_close, s);
	no_timeouts(s->evcon);
}

/* ---- request parsing ---- */

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	default:
		return "other";
	}
}

static const struct {
	const char *name;
	enum vm_op op;
} actions[] = {
    {"start", VM_OP_START}, {"pause", VM_OP_PAUSE}, {"resume", VM_OP_RESUME}, {"stop", VM_OP_STOP},
    {"kill", VM_OP_KILL},   {"reset", VM_OP_RESET}, {"qmp", VM_OP_QMP},
};

static void route_vm(struct vmsup_api *api, struct evhttp_request *req, const char *name,
		     const char *action, struct evkeyvalq *query, const struct vmsup_peer *peer,
		     bool admin)
{
	struct vm *vm;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	struct json_object *body = NULL, *args = NULL;
	struct http_held *h;
	char *err = NULL;

	if (vmsup_name_check(name, &err)) {
		http_send_error(req, 400, "InvalidParameter", "bad VM name: %s", err);
		free(err);
		return;
	}
	/* another user's VM is not there for this peer, on every route */
	if ((vm = vmsup_find(api->sup, name)) && !owner_sees(peer, admin, vm)) {
		http_send_error(req, 404, "NotFound", "no VM named '%s'", name);
		return;
	}
	if (!action) {
		if (m == EVHTTP_REQ_GET) {
			struct json_object *o = vmsup_get(api->sup, name);
			if (!o)
				http_send_error(req, 404, "NotFound", "no VM named '%s'", name);
			else
				http_send_json(req, 200, o);
			json_object_put(o);
			return;
		}
		if (m != EVHTTP_REQ_DELETE) {
			http_send_error(req, 405, "MethodNotAllowed", "%s: use GET or DELETE",
					method_name(m));
			return;
		}
		const char *t = evhttp_find_header(query, "timeout");
		args = json_object_new_object();
		if (t) {
			char *end;
			long n = strtol(t, &end, 10);
			if (!*t || *end || n < 0 || n > (long)VMSUP_TIMEOUT_MAX_S) {
				json_object_put(args);
				http_send_error(req, 400, "InvalidParameter",
						"timeout: '%s' is not an integer in 0..%u", t,
						VMSUP_TIMEOUT_MAX_S);
				return;
			}
			json_object_object_add(args, "timeout_s", json_object_new_int64(n));
		}
		if ((t = evhttp_find_header(query, "force"))) {
			bool on = !strcmp(t, "1") || !strcmp(t, "true");
			if (!on && strcmp(t, "0") && strcmp(t, "false")) {
				json_object_put(args);
				http_send_error(req, 400, "InvalidParameter",
						"force: '%s' is not one of 1, 0, true, false", t);
				return;
			}
			json_object_object_add(args, "force", json_object_new_boolean(on));
		}
		if (!(h = http_held_new(req))) {
			json_object_put(args);
			return;
		}
		http_held_wait(h, vmsup_op(api->sup, name, VM_OP_DESTROY, args, http_held_done, h),
			       detach_waiter);
		json_object_put(args);
		return;
	}
	if (!strcmp(action, "memory") || !strcmp(action, "cpu") || !strcmp(action, "autostart")) {
		if (m != EVHTTP_REQ_PUT) {
			http_send_error(req, 405, "MethodNotAllowed", "%s: use PUT",
					method_name(m));
			return;
		}
		if (http_read_json(req, &body))
			return;
		if (!strcmp(action, "autostart"))
			api_autostart_put(api->sup, req, name, body);
		else
			api_limits_put(api->sup, req, name, action, body);
		json_object_put(body);
		return;
	}
	if (!strcmp(action, "ip")) {
		vmsup_api_guest_ip(api->sup, req, name, query);
		return;
	}
	if (!strcmp(action, "exec")) {
		vmsup_api_guest_exec(api->sup, req, name);
		return;
	}
	if (!strcmp(action, "logs")) {
		api_logs_get(api->sup, req, name, query);
		return;
	}
	if (!strcmp(action, "console")) {
		api_console_attach(api->sup, req, name, peer);
		return;
	}
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(action, actions[i].name))
			continue;
		if (m != EVHTTP_REQ_POST) {
			http_send_error(req, 405, "MethodNotAllowed", "%s: use POST",
					method_name(m));
			return;
		}
		if (http_read_json(req, &body))
			return;
		if (body && !json_object_is_type(body, json_type_object)) {
			json_object_put(body);
			http_send_error(req, 400, "InvalidParameter",
					"the body must be a JSON object");
			return;
		}
		if (actions[i].op == VM_OP_STOP && body) {
			json_object_object_foreach(body, k, v)
			{
				(void)v;
				if (strcmp(k, "timeout_s")) {
					http_send_error(req, 400, "InvalidParameter",
							"unknown field '%s'", k);
					json_object_put(body);
					return;
				}
			}
		}
		if (actions[i].op == VM_OP_QMP && !body) {
			http_send_error(req, 400, "InvalidParameter",
					"the body must be a QMP command object {\"execute\":...}");
			return;
		}
		if (actions[i].op == VM_OP_QMP && !admin && !vm_qmp_unprivileged_ok(body)) {
			json_object_put(body);
			http_send_error(
			    req, 403, "PermissionDenied",
			    "this QMP command is for root and admin_group members only");
			return;
		}
		if (!(h = http_held_new(req))) {
			json_object_put(body);
			return;
		}
		http_held_wait(h, vmsup_op(api->sup, name, actions[i].op, body, http_held_done, h),
			       detach_waiter);
		json_object_put(body);
		return;
	}
	http_send_error(req, 404, "NotFound", "no such path");
}

static void route(struct evhttp_request *req, void *arg)
{
	struct vmsup_api *api = arg;
	enum evhttp_cmd_type m = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq query = {0};
	struct vmsup_peer peer;
	bool admin;
	char *copy = NULL, *seg[6] = {0}, *save = NULL, *p;
	int n = 0;

	TAILQ_INIT(&query);
	api_limits_count_on_complete(api->sup, req);
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
	admin = owner_is_admin(&peer, api->admin_gid);
	LOG_D(NULL, "%s %s", method_name(m), evhttp_request_get_uri(req));
	if (!path || !(copy = strdup(path))) {
		http_send_error(req, 400, "InvalidParameter", "bad request path");
		return;
	}
	if (q && evhttp_parse_query_str(q, &query) < 0) {
		http_send_error(req, 400, "InvalidParameter", "bad query string");
		goto out;
	}
	for (p = strtok_r(copy, "/", &save); p && n < 6; p = strtok_r(NULL, "/", &save))
		seg[n++] = p;
	if (p) {
		http_send_error(req, 404, "NotFound", "no such path");
		goto out;
	}
	if (n == 1 && !strcmp(seg[0], "metrics")) {
		if (m != EVHTTP_REQ_GET)
			http_send_error(req, 405, "MethodNotAllowed", "%s: use GET",
					method_name(m));
		else
			api_limits_metrics(api->sup, req, &peer, admin);
		goto out;
	}
	if (n < 2 || strcmp(seg[0], "v1")) {
		http_send_error(req, 404, "NotFound", "no such path");
		goto out;
	}
	if (n == 2 && !strcmp(seg[1], "version")) {
		if (m != EVHTTP_REQ_GET) {
			http_send_error(req, 405, "MethodNotAllowed", "%s: use GET",
					method_name(m));
		} else {
			struct json_object *o = json_object_new_object();
			json_object_object_add(o, "version", json_object_new_string(VMSUP_VERSION));
			json_object_object_add(
			    o, "qemu", json_object_new_string(vmsup_qemu_version(api->sup)));
			http_send_json(req, 200, o);
			json_object_put(o);
		}
	} else if (n == 2 && !strcmp(seg[1], "health")) {
		api_health(api->sup, req, &peer, admin);
	} else if (n == 2 && !strcmp(seg[1], "shutdown")) {
		struct json_object *body;
		if (m != EVHTTP_REQ_POST) {
			http_send_error(req, 405, "MethodNotAllowed", "%s: use POST",
					method_name(m));
		} else if (!admin) {
			/* it stops every user's VMs */
			http_send_error(req, 403, "PermissionDenied",
					"shutdown: only root and admin_group members");
		} else if (!http_read_json(req, &body)) {
			api_shutdown_all(api->sup, req, body);
			json_object_put(body);
		}
	} else if (n == 2 && !strcmp(seg[1], "events")) {
		if (m != EVHTTP_REQ_GET)
			http_send_error(req, 405, "MethodNotAllowed", "%s: use GET",
					method_name(m));
		else
			route_events(api, req, evhttp_find_header(&query, "vm"), &peer, admin);
	} else if (n == 2 && !strcmp(seg[1], "vms")) {
		if (m == EVHTTP_REQ_GET) {
			struct json_object *o = vmsup_list(api->sup);
			owner_filter_list(o, "vms", &peer, admin);
			http_send_json(req, 200, o);
			json_object_put(o);
		} else if (m == EVHTTP_REQ_POST) {
			struct json_object *body;
			struct http_held *h;
			if (http_read_json(req, &body))
				goto out;
			if (!body) {
				http_send_error(req, 400, "InvalidParameter",
						"a VM spec is required");
				goto out;
			}
			if (!http_peer_files_ok(req, &peer, body) ||
			    !api_template_from_ok(api->sup, req, &peer, admin, body)) {
				json_object_put(body);
				goto out;
			}
			if (!(h = http_held_new(req))) {
				json_object_put(body);
				goto out;
			}
			http_held_wait(h, vmsup_create(api->sup, body, &peer, http_held_done, h),
				       detach_waiter);
			json_object_put(body);
		} else {
			http_send_error(req, 405, "MethodNotAllowed", "%s: use GET or POST",
					method_name(m));
		}
	} else if ((n == 2 || n == 3) && !strcmp(seg[1], "pool")) {
		api_pool_route(api->sup, req, &peer, n == 3 ? seg[2] : NULL);
	} else if (n >= 2 && n <= 4 && !strcmp(seg[1], "templates")) {
		api_template_route(api->sup, req, &peer, admin, n >= 3 ? seg[2] : NULL,
				   n == 4 ? seg[3] : NULL);
	} else if ((n == 3 || n == 4) && !strcmp(seg[1], "vms")) {
		route_vm(api, req, seg[2], n == 4 ? seg[3] : NULL, &query, &peer, admin);
	} else {
		http_send_error(req, 404, "NotFound", "no such path");
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
	while (api->streams) {
		struct stream *s = api->streams;
		api_conn_set_closecb(s->evcon, NULL, NULL);
		evhttp_send_reply_end(s->req);
		stream_free(s);
	}
	if (api->http)
		evhttp_free(api->http);
	api_conns_free(api->conns); /* after the connections closed */
	free(api->path);
	free(api);
}
