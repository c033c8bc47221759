/*
 * The ops socket: a VM's second QMP monitor, for people and ops scripts.
 * qemu serves it on a private socket in the run dir (ops-qemu.sock);
 * vmsupd listens on ops.sock and relays each connection to it, byte for
 * byte from qemu, and command by command towards qemu, refusing through
 * vm_qmp_guard() what would make qemu spawn a process or open a host path.
 * A refusal is answered the way qemu answers an error:
 *   {"id": ID, "error": {"class": "GenericError", "desc": "..."}}\r\n
 * (ID only if the command had one), in its place: after qemu's greeting
 * and the answers to the commands sent before it (qemu writes one line per
 * answer or event, so the relay counts answers), as if qemu had answered.
 */
#include "src/core/sup-internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>

#include "src/qemu/qmp-guard.h"
#include "src/util/err.h"
#include "src/util/log.h"

/* a refusal waiting for the answers to the commands sent before it */
struct held {
	uint64_t after; /* written once this many answers came from qemu */
	struct evbuffer *text;
	struct held *next;
};

struct ops_conn {
	struct ops_proxy *p;
	struct bufferevent *client, *qemu;
	struct json_tokener *tok;
	bool client_eof, qemu_eof;
	bool greeted;		 /* qemu's greeting (its first line) passed on */
	uint64_t sent, answered; /* commands passed to qemu, answers from it */
	struct held *held, **held_tail;
	struct ops_conn *next;
};

struct ops_proxy {
	struct evconnlistener *l;
	char *path, *upstream, *name;
	struct ops_conn *conns;
};

static void conn_free(struct ops_conn *c)
{
	for (struct ops_conn **pp = &c->p->conns; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	if (c->client)
		bufferevent_free(c->client);
	if (c->qemu)
		bufferevent_free(c->qemu);
	if (c->tok)
		json_tokener_free(c->tok);
	while (c->held) {
		struct held *h = c->held;
		c->held = h->next;
		evbuffer_free(h->text);
		free(h);
	}
	free(c);
}

/* qemu's own JSON layout: ", " and ": " between members, '/' unescaped */
static void put_json(struct evbuffer *out, struct json_object *o)
{
	bool first = true;

	if (json_object_is_type(o, json_type_object)) {
		evbuffer_add(out, "{", 1);
		json_object_object_foreach(o, k, v)
		{
			struct json_object *key = json_object_new_string(k);
			evbuffer_add_printf(out, "%s", first ? "" : ", ");
			put_json(out, key);
			evbuffer_add(out, ": ", 2);
			put_json(out, v);
			json_object_put(key);
			first = false;
		}
		evbuffer_add(out, "}", 1);
	} else if (json_object_is_type(o, json_type_array)) {
		evbuffer_add(out, "[", 1);
		for (size_t i = 0; i < json_object_array_length(o); i++) {
			evbuffer_add_printf(out, "%s", i ? ", " : "");
			put_json(out, json_object_array_get_idx(o, i));
		}
		evbuffer_add(out, "]", 1);
	} else {
		evbuffer_add_printf(
		    out, "%s",
		    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE));
	}
}

/* Write the refusals whose turn has come (all of them once qemu is gone). */
static void flush_held(struct ops_conn *c, bool all)
{
	while (c->held && (all || (c->greeted && c->held->after <= c->answered))) {
		struct held *h = c->held;
		if (!(c->held = h->next))
			c->held_tail = &c->held;
		bufferevent_write_buffer(c->client, h->text);
		evbuffer_free(h->text);
		free(h);
	}
}

static void reply_error(struct ops_conn *c, struct json_object *id, const char *desc)
{
	struct evbuffer *out = evbuffer_new();
	struct json_object *d = json_object_new_string(desc);
	struct held *h;

	if (!out) {
		json_object_put(d);
		return;
	}
	evbuffer_add(out, "{", 1);
	if (id) {
		evbuffer_add(out, "\"id\": ", 6);
		put_json(out, id);
		evbuffer_add(out, ", ", 2);
	}
	evbuffer_add_printf(out, "\"error\": {\"class\": \"GenericError\", \"desc\": ");
	put_json(out, d);
	evbuffer_add(out, "}}\r\n", 4);
	json_object_put(d);
	if (c->greeted && c->answered >= c->sent && !c->held) {
		bufferevent_write_buffer(c->client, out);
		evbuffer_free(out);
		return;
	}
	if (!(h = calloc(1, sizeof(*h)))) {
		evbuffer_free(out);
		return;
	}
	h->after = c->sent;
	h->text = out;
	*c->held_tail = h;
	c->held_tail = &h->next;
}

static void command(struct ops_conn *c, struct json_object *cmd)
{
	struct json_object *id = NULL;
	char *why = NULL;

	if (vm_qmp_guard(cmd, &why)) {
		LOG_W(c->p->name, "ops socket: %s", why);
		if (json_object_is_type(cmd, json_type_object))
			json_object_object_get_ex(cmd, "id", &id);
		reply_error(c, id, why);
		free(why);
		return;
	}
	/* qemu gets what was checked: the parsed object, written out again */
	c->sent++;
	evbuffer_add_printf(bufferevent_get_output(c->qemu), "%s\n",
			    json_object_to_json_string_ext(
				cmd, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void on_client_read(struct bufferevent *bev, void *arg)
{
	struct ops_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char buf[4096];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		const char *p = buf;
		size_t len = (size_t)n;
		while (len > 0) {
			struct json_object *o = json_tokener_parse_ex(c->tok, p, (int)len);
			enum json_tokener_error e = json_tokener_get_error(c->tok);
			size_t used = json_tokener_get_parse_end(c->tok);
			if (e == json_tokener_continue)
				break; /* all taken, the object goes on in the next read */
			if (e != json_tokener_success) {
				reply_error(c, NULL, "JSON parse error");
				json_tokener_reset(c->tok);
				break; /* the rest of this read is lost with it */
			}
			command(c, o);
			json_object_put(o);
			json_tokener_reset(c->tok);
			if (used == 0 || used > len)
				break;
			p += used;
			len -= used;
		}
	}
}

/* An answer (not the greeting, not an event): {"return"...} or {"error"...}. */
static bool is_answer(const char *line, size_t len)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = tok ? json_tokener_parse_ex(tok, line, (int)len) : NULL;
	bool yes = o && (json_object_object_get_ex(o, "return", NULL) ||
			 json_object_object_get_ex(o, "error", NULL));

	json_object_put(o);
	if (tok)
		json_tokener_free(tok);
	return yes;
}

/* qemu writes one JSON object per line (CRLF): passed on line by line as
 * it came, counting the answers */
static void on_qemu_read(struct bufferevent *bev, void *arg)
{
	struct ops_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		size_t eol_len = 0, n;
		struct evbuffer_ptr e = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);
		bool answer;
		if (e.pos < 0)
			break;
		n = (size_t)e.pos + eol_len;
		answer = is_answer((const char *)evbuffer_pullup(in, (ssize_t)n), n);
		evbuffer_remove_buffer(in, bufferevent_get_output(c->client), n);
		if (answer)
			c->answered++;
		c->greeted = true; /* the first line is the greeting */
		flush_held(c, false);
	}
}

/* Output drained: pass a half-close on once all has been written. */
static void on_client_drained(struct bufferevent *bev, void *arg)
{
	struct ops_conn *c = arg;

	if (c->qemu_eof)
		conn_free(c);
}

static void on_qemu_drained(struct bufferevent *bev, void *arg)
{
	struct ops_conn *c = arg;

	if (c->client_eof)
		shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void on_client_event(struct bufferevent *bev, short what, void *arg)
{
	struct ops_conn *c = arg;

	if (what & BEV_EVENT_EOF) {
		/* the operator is done sending; qemu answers, then closes */
		c->client_eof = true;
		bufferevent_disable(bev, EV_READ);
		if (!evbuffer_get_length(bufferevent_get_output(c->qemu)))
			shutdown(bufferevent_getfd(c->qemu), SHUT_WR);
		return;
	}
	if (what & BEV_EVENT_ERROR)
		conn_free(c);
}

/* qemu closed (or is gone): what it said still goes out, the refusals too */
static void pass_rest(struct ops_conn *c)
{
	on_qemu_read(c->qemu, c);
	bufferevent_write_buffer(c->client, bufferevent_get_input(c->qemu));
	flush_held(c, true);
}

static void on_qemu_event(struct bufferevent *bev, short what, void *arg)
{
	struct ops_conn *c = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		pass_rest(c);
		c->qemu_eof = true;
		bufferevent_disable(bev, EV_READ | EV_WRITE);
		if (!evbuffer_get_length(bufferevent_get_output(c->client)))
			conn_free(c);
	}
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct ops_proxy *p = arg;
	struct event_base *base = evconnlistener_get_base(l);
	struct ops_conn *c = calloc(1, sizeof(*c));
	struct sockaddr_un un = {.sun_family = AF_UNIX};

	if (!c) {
		close(fd);
		return;
	}
	c->p = p;
	c->held_tail = &c->held;
	c->next = p->conns;
	p->conns = c;
	c->client = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->qemu = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->tok = json_tokener_new();
	if (!c->client || !c->qemu || !c->tok) {
		if (!c->client)
			close(fd);
		conn_free(c);
		return;
	}
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", p->upstream);
	bufferevent_setcb(c->client, on_client_read, on_client_drained, on_client_event, c);
	bufferevent_setcb(c->qemu, on_qemu_read, on_qemu_drained, on_qemu_event, c);
	if (bufferevent_socket_connect(c->qemu, (struct sockaddr *)&un, sizeof(un)) < 0) {
		LOG_W(p->name, "ops socket: cannot reach qemu's monitor %s", p->upstream);
		conn_free(c);
		return;
	}
	bufferevent_enable(c->client, EV_READ | EV_WRITE);
	bufferevent_enable(c->qemu, EV_READ | EV_WRITE);
}

/*
 * The proxy goes with its qemu, maybe before the loop read qemu's last
 * words: the answer to the `quit` or `cont` that ended it (a pool member
 * resumed by hand is destroyed at once) sits unread in the socket. Pass it
 * on as far as the client's socket takes it without waiting.
 */
static void flush_now(struct ops_conn *c)
{
	struct evbuffer *out;

	if (!c->client)
		return;
	if (c->qemu && !c->qemu_eof) {
		struct evbuffer *in = bufferevent_get_input(c->qemu);
		while (evbuffer_read(in, bufferevent_getfd(c->qemu), 65536) > 0)
			;
		pass_rest(c);
	}
	out = bufferevent_get_output(c->client);
	while (evbuffer_get_length(out) && evbuffer_write(out, bufferevent_getfd(c->client)) > 0)
		;
}

void sup_ops_proxy_stop(struct vm *vm)
{
	struct ops_proxy *p = vm->ops_proxy;

	if (!p)
		return;
	vm->ops_proxy = NULL;
	while (p->conns) {
		flush_now(p->conns);
		conn_free(p->conns);
	}
	if (p->l)
		evconnlistener_free(p->l);
	if (p->path)
		unlink(p->path);
	free(p->path);
	free(p->upstream);
	free(p->name);
	free(p);
}

int sup_ops_proxy_start(struct vm *vm, char **err)
{
	struct ops_proxy *p;
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	mode_t old;

	sup_ops_proxy_stop(vm);
	if (!vm->ops_sock || !vm->ops_qemu_sock)
		return vmsup_err(err, "ops socket: no path");
	if (strlen(vm->ops_sock) >= sizeof(un.sun_path))
		return vmsup_err(err, "ops socket: path %s too long", vm->ops_sock);
	if (!(p = calloc(1, sizeof(*p))) || !(p->upstream = strdup(vm->ops_qemu_sock)) ||
	    !(p->name = strdup(vm->spec.name))) {
		vm->ops_proxy = p;
		sup_ops_proxy_stop(vm);
		return vmsup_err(err, "out of memory");
	}
	vm->ops_proxy = p;
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", vm->ops_sock);
	unlink(vm->ops_sock);
	/* as private as the run dir it lies in */
	old = umask(0177);
	p->l = evconnlistener_new_bind(vm->sup->base, on_accept, p,
				       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
				       (struct sockaddr *)&un, sizeof(un));
	umask(old);
	if (!p->l) {
		int e = errno;
		sup_ops_proxy_stop(vm);
		return vmsup_err(err, "ops socket %s: %s", vm->ops_sock, strerror(e));
	}
	p->path = strdup(vm->ops_sock);
	return 0;
}
