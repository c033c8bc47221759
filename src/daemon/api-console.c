#include "src/daemon/api-console.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "src/daemon/http.h"
#include "src/qemu/argv.h"
#include "src/util/log.h"
#include "src/util/peer.h"

/* the client reads this far behind: stop reading the guest until it drains
 * (the serial port then waits; qemu still logs what the guest wrote) */
#define OUT_BACKLOG (1024 * 1024)

struct session {
	struct http_stream stream;
	struct evbuffer *from_client; /* the connection's input buffer */
	struct evbuffer_cb_entry *client_cb;
	struct bufferevent *serial; /* to qemu's console socket */
	char *vm;
	pid_t pid;
	uid_t uid;
	struct session *next;
};

static struct session *sessions;

static struct session *holder(const char *vm)
{
	for (struct session *s = sessions; s; s = s->next)
		if (!strcmp(s->vm, vm))
			return s;
	return NULL;
}

/* The stream's end, either side's: a client leaving is logged. */
static void session_free(void *arg, bool client_left)
{
	struct session *s = arg;

	if (client_left)
		LOG_I(s->vm, "console detached (pid %ld)", (long)s->pid);
	for (struct session **pp = &sessions; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (s->client_cb)
		evbuffer_remove_cb_entry(s->from_client, s->client_cb);
	if (s->serial)
		bufferevent_free(s->serial); /* closes the socket: qemu listens again */
	free(s->vm);
	free(s);
}

static void on_client_flushed(struct evhttp_connection *evcon, void *arg)
{
	struct session *s = arg;

	(void)evcon;
	bufferevent_enable(s->serial, EV_READ);
}

static void on_serial_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *b = evbuffer_new();

	if (!b)
		return;
	evbuffer_add_buffer(b, bufferevent_get_input(bev));
	evhttp_send_reply_chunk_with_cb(s->stream.req, b, on_client_flushed, s);
	evbuffer_free(b);
	if (http_stream_backlog(&s->stream) > OUT_BACKLOG)
		bufferevent_disable(bev, EV_READ);
}

static void on_serial_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		LOG_I(s->vm, "console closed by qemu");
		http_stream_end(&s->stream);
	}
}

/* Bytes the client sent after its request: to the guest's serial input. */
static void on_client_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct session *s = arg;

	if (info->n_added && evbuffer_get_length(buf))
		bufferevent_write_buffer(s->serial, buf);
}

/* Connect to the VM's console socket; -1 with errno. */
static int connect_serial(const char *run_dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" VM_CONSOLE_SOCK, run_dir);

	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    evutil_make_socket_nonblocking(fd)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

void api_console_attach(struct vmsup *sup, struct evhttp_request *req, const char *name,
			const struct vmsup_peer *peer)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct session *s, *h;
	struct vm *vm;
	int fd;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_send_error(req, 405, "MethodNotAllowed", "use GET");
		return;
	}
	if (!(vm = vmsup_find(sup, name))) {
		http_send_error(req, 404, "NotFound", "no VM named '%s'", name);
		return;
	}
	if ((h = holder(name))) {
		http_send_error(req, 409, "Conflict",
				"the console of VM '%s' is in use by pid %ld (uid %ld)", name,
				(long)h->pid, (long)h->uid);
		return;
	}
	if (!vm_state_has_process(vm->state) || !vm->run_dir) {
		http_send_error(req, 409, "Conflict", "VM '%s' is %s: no console", name,
				vm_state_name(vm->state));
		return;
	}
	if ((fd = connect_serial(vm->run_dir)) < 0) {
		/* a qemu started before consoles existed has a file, no socket */
		http_send_error(req, 409, "Conflict", "VM '%s' has no console socket: %s", name,
				strerror(errno));
		return;
	}
	if (!(s = calloc(1, sizeof(*s))) || !(s->vm = strdup(name)) ||
	    !(s->serial = bufferevent_socket_new(evhttp_connection_get_base(evcon), fd,
						 BEV_OPT_CLOSE_ON_FREE))) {
		if (s)
			free(s->vm);
		free(s);
		close(fd);
		http_send_error(req, 500, "GenericError", "out of memory");
		return;
	}
	s->pid = peer->pid;
	s->uid = peer->uid;
	s->from_client = bufferevent_get_input(evhttp_connection_get_bufferevent(evcon));
	s->next = sessions;
	sessions = s;
	/* a console may sit idle for hours */
	http_stream_start(&s->stream, sup, req, "application/octet-stream", session_free, s);
	bufferevent_setcb(s->serial, on_serial_read, NULL, on_serial_event, s);
	bufferevent_enable(s->serial, EV_READ | EV_WRITE);
	/* libevent reads the connection on (to see it close) but hands the
	 * bytes to nobody once the reply started: they are the keystrokes */
	s->client_cb = evbuffer_add_cb(s->from_client, on_client_input, s);
	if (evbuffer_get_length(s->from_client))
		bufferevent_write_buffer(s->serial, s->from_client);
	LOG_I(name, "console attached by pid %ld (uid %ld)", (long)s->pid, (long)s->uid);
}

void api_console_teardown(void)
{
	while (sessions)
		http_stream_end(&sessions->stream);
}
