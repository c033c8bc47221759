/* libFuzzer target: the daemon's HTTP API, libevent's request parser, the
 * router and every route's validation, as a client on its socket reaches
 * them. The input is "METHOD PATH[?QUERY]\n" then the body; the target
 * sends it as one HTTP/1.1 request (its own headers, Content-Length, so
 * nothing in the input can leave the request half read) and reads the
 * reply to its end. Every request must be answered (a reply within 5 s,
 * or the first line of a stream). Each input meets the same daemon: one
 * VM, "a", defined (not started), for the routes on a VM to reach past
 * their 404; whatever the input created or changed is destroyed after it.
 *
 * No qemu ever runs: the supervisor's qemu is a stand-in script (see
 * fuzz-sup.h), and a module refuses every start at its argv hook, after
 * the spec, the files, the name and the argv were all checked and built:
 * the start fails there, as a spawn that failed would.
 *
 * Run as root, the target also speaks as a member of api_group who is not
 * an admin: an input that starts with '@' is sent on a connection made by a
 * child that took on nobody:nogroup (SO_PEERCRED is taken at connect).
 * That member owns VM "u"; root owns "a". Whatever a member sends, root's
 * VM is untouched afterwards, no route on it answers the member 2xx, and
 * no reply to the member shows it. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "src/core/module.h"
#include "src/daemon/api.h"
#include "src/files/vm-files.h"
#include "src/snapshot/vm-template.h"
#include "src/util/err.h"
#include "src/util/peer.h"
#include "tests/fuzz/fuzz-sup.h"

#define BODY_MAX  (256 * 1024) /* under the socket buffer: written before the loop runs */
#define REPLY_MAX (1 << 20)

static int no_spawn(void *ctx, struct vm *vm, char ***argv, int *fds, char **err)
{
	(void)ctx;
	(void)vm;
	(void)argv;
	(void)fds;
	return vmsup_err(err, "fuzz build: qemu is never spawned");
}

static const struct vm_module no_spawn_module = {.name = "fuzz-no-spawn", .argv = no_spawn};

struct client {
	struct event_base *base;
	char *reply;
	size_t len;
	bool done;
};

/* The reply so far is a whole stream's start: its headers, chunked. */
static bool stream_started(const struct client *c)
{
	const char *end = memmem(c->reply, c->len, "\r\n\r\n", 4);

	return end && memmem(c->reply, (size_t)(end - c->reply), "Transfer-Encoding: chunked",
			     strlen("Transfer-Encoding: chunked"));
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		fprintf(stderr, "no reply in 5 s; so far: %.*s\n", (int)c->len, c->reply);
		abort();
	}
	n = read(fd, c->reply + c->len, REPLY_MAX - c->len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		c->len += (size_t)n;
	c->reply[c->len] = '\0';
	if (n <= 0 || c->len == REPLY_MAX || stream_started(c)) {
		c->done = true;
		event_base_loopbreak(c->base);
	}
}

static struct json_object *a_spec, *u_spec;
static struct vmsup_peer member; /* nobody:nogroup */
static bool member_on;		 /* root: inputs may speak as the member */

#define MEMBER_ID 65534

static char *record_of(struct vmsup *sup, const char *name)
{
	struct vm *vm = vmsup_find(sup, name);
	struct json_object *j;
	char *s;

	if (!vm || !(j = vm_record_json(vm)))
		return NULL;
	s = strdup(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN));
	json_object_put(j);
	return s;
}

static void ignore_result(const struct vmsup_result *r, void *arg)
{
	(void)r;
	(void)arg;
}

/* Each input meets a daemon with one defined VM, "a", and nothing else. */
static void reset(struct fuzz_sup *fs)
{
	struct json_object *force = json_tokener_parse("{\"force\":true}");
	struct vm *vm;
	char name[128];

	for (int tries = 0; (vm = vmsup_first(fs->sup)) && tries < 100; tries++) {
		snprintf(name, sizeof(name), "%s", vm->spec.name);
		vmsup_op(fs->sup, name, VM_OP_DESTROY, force, ignore_result, NULL);
		event_base_loop(fs->base, EVLOOP_NONBLOCK);
	}
	json_object_put(force);
	if (vmsup_first(fs->sup)) {
		fprintf(stderr, "VM '%s' cannot be destroyed\n", vmsup_first(fs->sup)->spec.name);
		abort();
	}
	vmsup_create(fs->sup, a_spec, NULL, ignore_result, NULL);
	if (member_on)
		vmsup_create(fs->sup, u_spec, &member, ignore_result, NULL);
	if (!vmsup_find(fs->sup, "a") || (member_on && !vmsup_find(fs->sup, "u")))
		abort();
}

/* vmsup_peer_open_with's opener, in a child that is already the member:
 * SO_PEERCRED is the connecting process's, so the socket is the member's. */
static int connect_as_is(const char *path, int flags)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	(void)flags;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* As root: the member, its own VM, and a socket the member may reach
 * (its dir searchable, the socket nogroup's). */
static void member_setup(struct fuzz_sup *fs)
{
	if (geteuid() != 0)
		return;
	if (chmod(fs->dir, 0711))
		abort();
	member_on = true;
	member = (struct vmsup_peer){.pid = getpid(), .uid = MEMBER_ID, .gid = MEMBER_ID};
	u_spec = json_tokener_parse("{\"name\":\"u\",\"start\":false,\"guest\":false}");
}

/* A socket connected to the API by the member; -1 if that failed. */
static int member_connect(const char *sock)
{
	int flags = 0, fd = -1;
	char *err = NULL;

	if (vmsup_peer_open_with(&member, &sock, &flags, 1, connect_as_is, &fd, NULL, &err) < 0) {
		fprintf(stderr, "connecting as the member: %s\n", err);
		abort();
	}
	free(err); /* 1: refused, fd -1 */
	return fd;
}

/* Send one request and read its reply; 0, or -1 if the socket failed. */
static int exchange(struct fuzz_sup *fs, bool as_member, const char *line, size_t line_len,
		    const uint8_t *body, size_t body_len, struct client *c)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const struct timeval limit = {5, 0};
	struct event *ev;
	char head[512];
	int fd, n;

	n = snprintf(head, sizeof(head),
		     "%.*s HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		     (int)line_len, line, body_len);
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", fs->sock);
	if (as_member)
		fd = member_connect(fs->sock);
	else if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		abort();
	if (fd < 0)
		return -1;
	if ((!as_member && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) ||
	    write(fd, head, (size_t)n) != n ||
	    (body_len && write(fd, body, body_len) != (ssize_t)body_len)) {
		close(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	if (!(ev = event_new(fs->base, fd, EV_READ | EV_PERSIST, on_readable, c)) ||
	    event_add(ev, &limit))
		abort();
	while (!c->done)
		event_base_loop(fs->base, EVLOOP_ONCE);
	event_free(ev);
	close(fd);
	/* the daemon sees the close (a stream's reader gone) */
	for (int i = 0; i < 4; i++)
		event_base_loop(fs->base, EVLOOP_NONBLOCK);
	return 0;
}

/* An HTTP reply; an error's body is the API's JSON error (docs/API.md),
 * libevent's own refusals (400, 405, 413 ...) included. */
static void check_reply(const struct client *c, bool head)
{
	const char *body = c->len ? memmem(c->reply, c->len, "\r\n\r\n", 4) : NULL;
	struct json_object *j, *e;
	int status;

	if (!c->len)
		return; /* the client's socket failed before the daemon saw it */
	if (c->len < 13 || strncmp(c->reply, "HTTP/1.1 ", 9) || !body ||
	    sscanf(c->reply + 9, "%3d", &status) != 1) {
		fprintf(stderr, "not an HTTP reply: %.*s\n", (int)c->len, c->reply);
		abort();
	}
	body += 4;
	if (status < 400 || head)
		return;
	j = json_tokener_parse(body);
	if (!json_object_object_get_ex(j, "error", &e) ||
	    !json_object_is_type(e, json_type_object)) {
		fprintf(stderr, "error %d without a JSON error body: %.*s\n", status, (int)c->len,
			c->reply);
		abort();
	}
	json_object_put(j);
}

/* Nothing a member sends reaches root's VM: no 2xx on its routes, and
 * "a" is as it was recorded. */
static void check_member(struct fuzz_sup *fs, const char *line, const char *a_record,
			 const struct client *c)
{
	const char *path = strchr(line, ' ');
	char *now = record_of(fs->sup, "a");
	int status = 0;

	if (c->len > 12)
		sscanf(c->reply + 9, "%3d", &status);
	if (path &&
	    (!strncmp(path, " /v1/vms/a/", 11) || !strcmp(path, " /v1/vms/a") ||
	     !strncmp(path, " /v1/vms/a?", 11)) &&
	    status >= 200 && status < 300) {
		fprintf(stderr, "member got %d on root's VM: %s\n", status, line);
		abort();
	}
	if (memmem(c->reply, c->len, "\"name\":\"a\"", 10)) {
		fprintf(stderr, "member was shown root's VM: %s\n%.*s\n", line, (int)c->len,
			c->reply);
		abort();
	}
	if (!now || strcmp(now, a_record)) {
		fprintf(stderr, "root's VM changed by a member's '%s':\n%s\n%s\n", line, a_record,
			now ? now : "(gone)");
		abort();
	}
	free(now);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmsup_api *api;
	struct fuzz_sup *fs = fuzz_sup_get();
	static char reply[REPLY_MAX + 1];
	struct client c = {.base = fs->base, .reply = reply};
	const uint8_t *nl = memchr(data, '\n', size);
	char line[256];
	size_t n = 0;
	char *a_record;
	bool as_member;

	if (!api) {
		struct vm_files_ctx *files;
		char *err = NULL;
		vm_template_setup(NULL);
		/* first: the refusal comes before any other module's argv */
		if (vmsup_register(fs->sup, &no_spawn_module, NULL) ||
		    !(files = vm_files_new(vmsup_config(fs->sup), &err)) ||
		    vmsup_register(fs->sup, &vm_files_module, files) ||
		    vmsup_register(fs->sup, &vm_template_module, NULL) ||
		    !(api = vmsup_api_new(fs->base, fs->sup, fs->sock,
					  geteuid() == 0 ? "nogroup" : NULL, &err))) {
			fprintf(stderr, "fuzz-api: %s\n", err ? err : "cannot register");
			abort();
		}
		a_spec = json_tokener_parse("{\"name\":\"a\",\"start\":false,\"guest\":false}");
		member_setup(fs);
		reset(fs);
	}
	if ((as_member = size && data[0] == '@' && member_on)) {
		data++;
		size--;
		nl = memchr(data, '\n', size);
	}
	if (!nl || size - (size_t)(nl + 1 - data) > BODY_MAX)
		return 0;
	/* the request line is the target's: no CR/LF of the input in it */
	for (const uint8_t *p = data; p < nl && n < sizeof(line) - 1; p++)
		if (*p != '\r')
			line[n++] = (char)*p;
	line[n] = '\0'; /* check_member reads it as a string */
	a_record = as_member ? record_of(fs->sup, "a") : NULL;
	exchange(fs, as_member, line, n, nl + 1, size - (size_t)(nl + 1 - data), &c);
	check_reply(&c, n >= 4 && !memcmp(line, "HEAD", 4));
	if (as_member)
		check_member(fs, line, a_record, &c);
	free(a_record);
	reset(fs);
	return 0;
}
