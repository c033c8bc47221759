#include "tests/fakes/fake-agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

struct fake_agent {
	struct event_base *base;
	char *path;
	struct evconnlistener *lis;
	struct bufferevent *bev;
	struct json_tokener *tok;
	struct fake_agent_opts o;
	char *fault_cmd;
	char *version;
	char *ssh_error;
	struct json_object *ifaces;
	struct json_object *counts; /* {"cmd": n} */
	struct json_object *order;  /* ["cmd", ...] as received */
	struct json_object *keys;
	int nconn;
	int mid; /* inside a JSON value */
	int64_t last_sync_id;
};

static void close_client(struct fake_agent *f)
{
	if (f->bev)
		bufferevent_free(f->bev);
	f->bev = NULL;
	f->mid = 0;
	json_tokener_reset(f->tok);
}

static void send_json(struct fake_agent *f, struct json_object *o, int sentinel)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_SPACED);

	if (sentinel)
		bufferevent_write(f->bev, "\xff", 1);
	bufferevent_write(f->bev, s, strlen(s));
	bufferevent_write(f->bev, "\n", 1);
}

static struct json_object *reply(struct json_object *id, struct json_object *ret)
{
	struct json_object *r = json_object_new_object();

	json_object_object_add(r, "return", ret ? ret : json_object_new_object());
	if (id)
		json_object_object_add(r, "id", json_object_get(id));
	return r;
}

static struct json_object *error_reply(struct json_object *id, const char *cls, const char *desc)
{
	struct json_object *r = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "class", json_object_new_string(cls));
	json_object_object_add(e, "desc", json_object_new_string(desc));
	json_object_object_add(r, "error", e);
	if (id)
		json_object_object_add(r, "id", json_object_get(id));
	return r;
}

/* The fault to inject for this command, counting it down. */
static enum fake_agent_fault fault_for(struct fake_agent *f, const char *cmd)
{
	const char *want = f->fault_cmd ? f->fault_cmd : "guest-sync-delimited";
	enum fake_agent_fault fault = f->o.fault;

	if (fault == FA_NONE || strcmp(cmd, want))
		return FA_NONE;
	if (f->o.fault_times > 0 && --f->o.fault_times == 0)
		f->o.fault = FA_NONE;
	return fault;
}

static void count(struct fake_agent *f, const char *cmd)
{
	struct json_object *v;
	int n = 0;

	if (json_object_object_get_ex(f->counts, cmd, &v))
		n = json_object_get_int(v);
	json_object_object_add(f->counts, cmd, json_object_new_int(n + 1));
	json_object_array_add(f->order, json_object_new_string(cmd));
}

/* Returns -1 when the connection was closed. */
static int handle(struct fake_agent *f, struct json_object *req)
{
	struct json_object *ex, *args = NULL, *id = NULL, *ret = NULL, *r, *v;
	const char *cmd;
	enum fake_agent_fault fault;
	int sentinel = 0;

	if (!json_object_object_get_ex(req, "execute", &ex) ||
	    !json_object_is_type(ex, json_type_string)) {
		r = error_reply(NULL, "GenericError", "Invalid JSON syntax");
		send_json(f, r, 0);
		json_object_put(r);
		return 0;
	}
	cmd = json_object_get_string(ex);
	if (getenv("FAKE_AGENT_TRACE"))
		fprintf(stderr, "fake-agent %s <- %s\n", f->path, json_object_to_json_string(req));
	json_object_object_get_ex(req, "arguments", &args);
	json_object_object_get_ex(req, "id", &id);
	count(f, cmd);
	fault = fault_for(f, cmd);
	if (fault == FA_SILENT)
		return 0;

	if (!strcmp(cmd, "guest-sync-delimited") || !strcmp(cmd, "guest-sync")) {
		if (!json_object_object_get_ex(args, "id", &v)) {
			r = error_reply(id, "GenericError", "Parameter 'id' is missing");
			send_json(f, r, 0);
			json_object_put(r);
			return 0;
		}
		sentinel = !strcmp(cmd, "guest-sync-delimited");
		ret = json_object_get(v);
		f->last_sync_id = json_object_get_int64(v);
		if (fault == FA_GARBAGE_BEFORE_SYNC)
			bufferevent_write(f->bev, "{\"return\": 1}garbage\x01\x02{{", 22);
		if (fault == FA_STALE_ID || fault == FA_STALE_ONLY) {
			struct json_object *stale =
			    reply(id, json_object_new_int64(json_object_get_int64(v) - 1));
			send_json(f, stale, sentinel);
			json_object_put(stale);
			if (fault == FA_STALE_ONLY) {
				json_object_put(ret);
				return 0;
			}
		}
	} else if (!strcmp(cmd, "guest-ping")) {
		ret = NULL;
	} else if (!strcmp(cmd, "guest-info")) {
		ret = json_object_new_object();
		json_object_object_add(ret, "version", json_object_new_string(f->version));
		json_object_object_add(ret, "supported_commands", json_object_new_array());
	} else if (!strcmp(cmd, "guest-network-get-interfaces")) {
		ret = NULL;
		if (f->ifaces)
			json_object_deep_copy(f->ifaces, &ret, NULL);
		if (!ret)
			ret = json_object_new_array();
	} else if (!strcmp(cmd, "guest-ssh-add-authorized-keys")) {
		struct json_object *keys;
		size_t i;
		if (f->ssh_error) {
			r = error_reply(id, "GenericError", f->ssh_error);
			send_json(f, r, 0);
			json_object_put(r);
			return 0;
		}
		if (json_object_object_get_ex(args, "keys", &keys))
			for (i = 0; i < json_object_array_length(keys); i++)
				json_object_array_add(
				    f->keys, json_object_get(json_object_array_get_idx(keys, i)));
	} else {
		r = error_reply(id, "CommandNotFound", "The command has not been found");
		send_json(f, r, 0);
		json_object_put(r);
		return 0;
	}

	r = reply(id, ret);
	if (fault == FA_DISCONNECT_MID) {
		const char *s = json_object_to_json_string_ext(r, JSON_C_TO_STRING_SPACED);
		if (sentinel)
			bufferevent_write(f->bev, "\xff", 1);
		bufferevent_write(f->bev, s, strlen(s) / 2);
		json_object_put(r);
		/* Let the half reply go out before the close, as a dying guest would. */
		evutil_socket_t fd = bufferevent_getfd(f->bev);
		struct evbuffer *out = bufferevent_get_output(f->bev);
		evbuffer_write(out, fd);
		close_client(f);
		return -1;
	}
	send_json(f, r, sentinel);
	json_object_put(r);
	return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct fake_agent *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	unsigned char buf[4096];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		int off = 0;
		while (off < n) {
			struct json_object *o;
			int end;

			/* QGA: 0xFF from the client resets the parser (guest-sync-delimited flush).
			 */
			if (buf[off] == 0xff) {
				json_tokener_reset(f->tok);
				f->mid = 0;
				off++;
				continue;
			}
			if (!f->mid && (buf[off] == ' ' || buf[off] == '\n' || buf[off] == '\r' ||
					buf[off] == '\t')) {
				off++;
				continue;
			}
			for (end = off; end < n && buf[end] != 0xff; end++)
				;
			o = json_tokener_parse_ex(f->tok, (const char *)buf + off, end - off);
			if (json_tokener_get_error(f->tok) == json_tokener_continue) {
				f->mid = 1;
				off = end;
				continue;
			}
			f->mid = 0;
			if (!o) {
				struct json_object *r =
				    error_reply(NULL, "GenericError", "Invalid JSON syntax");
				json_tokener_reset(f->tok);
				send_json(f, r, 0);
				json_object_put(r);
				off = end;
				continue;
			}
			off += (int)json_tokener_get_parse_end(f->tok);
			json_tokener_reset(f->tok);
			if (handle(f, o) < 0) {
				json_object_put(o);
				return;
			}
			json_object_put(o);
		}
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct fake_agent *f = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		close_client(f);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int len,
		      void *arg)
{
	struct fake_agent *f = arg;

	/* QEMU's chardev serves one client; a newer one replaces a dead one only. */
	if (f->bev) {
		close(fd);
		return;
	}
	f->nconn++;
	f->bev = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(f->bev, on_read, NULL, on_event, f);
	bufferevent_enable(f->bev, EV_READ | EV_WRITE);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct fake_agent *fake_agent_new(struct event_base *base, const char *path,
				  const struct fake_agent_opts *opts)
{
	struct fake_agent *f = calloc(1, sizeof(*f));
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	if (!f || strlen(path) >= sizeof(sun.sun_path)) {
		free(f);
		return NULL;
	}
	if (opts)
		f->o = *opts;
	f->base = base;
	f->path = strdup(path);
	f->fault_cmd = dup_or_null(f->o.fault_cmd);
	f->version = strdup(f->o.version ? f->o.version : "7.2.0-fake");
	f->ssh_error = dup_or_null(f->o.ssh_error);
	if (f->o.ifaces)
		json_object_deep_copy(f->o.ifaces, &f->ifaces, NULL);
	f->counts = json_object_new_object();
	f->order = json_object_new_array();
	f->keys = json_object_new_array();
	f->tok = json_tokener_new();
	strcpy(sun.sun_path, path);
	unlink(path);
	f->lis = evconnlistener_new_bind(base, on_accept, f,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1,
					 (struct sockaddr *)&sun, sizeof(sun));
	if (!f->lis) {
		fake_agent_free(f);
		return NULL;
	}
	return f;
}

void fake_agent_set_fault(struct fake_agent *f, enum fake_agent_fault fault, const char *cmd,
			  int times)
{
	f->o.fault = fault;
	f->o.fault_times = times;
	free(f->fault_cmd);
	f->fault_cmd = dup_or_null(cmd);
}

void fake_agent_set_ifaces(struct fake_agent *f, struct json_object *ifaces)
{
	json_object_put(f->ifaces);
	f->ifaces = NULL;
	if (ifaces)
		json_object_deep_copy(ifaces, &f->ifaces, NULL);
}

int fake_agent_count(const struct fake_agent *f, const char *cmd)
{
	struct json_object *v;

	return json_object_object_get_ex(f->counts, cmd, &v) ? json_object_get_int(v) : 0;
}

struct json_object *fake_agent_order(const struct fake_agent *f)
{
	return f->order;
}

struct json_object *fake_agent_keys(const struct fake_agent *f)
{
	return f->keys;
}

void fake_agent_kick(struct fake_agent *f)
{
	close_client(f);
}

int fake_agent_connections(const struct fake_agent *f)
{
	return f->nconn;
}

void fake_agent_free(struct fake_agent *f)
{
	if (!f)
		return;
	close_client(f);
	if (f->lis)
		evconnlistener_free(f->lis);
	if (f->path)
		unlink(f->path);
	if (f->tok)
		json_tokener_free(f->tok);
	json_object_put(f->ifaces);
	json_object_put(f->counts);
	json_object_put(f->order);
	json_object_put(f->keys);
	free(f->path);
	free(f->fault_cmd);
	free(f->version);
	free(f->ssh_error);
	free(f);
}
