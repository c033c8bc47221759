#include "src/daemon/http.h"
#include "src/daemon/api-guest.h"

#include <errno.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "src/daemon/api.h"
#include "src/daemon/conn.h"
#include "src/util/b64.h"
#include "src/util/bounds.h"
#include "src/util/log.h"
#include "src/guest/vm-agent.h"

#define EXEC_ARGV_MAX	 4096
#define EXEC_TIMEOUT_MAX 86400

/* A request held until the agent answers. */
struct gop {
	struct evhttp_request *req; /* NULL once the client left */
	struct evhttp_connection *evcon;
	struct vm *vm;	 /* valid in the agent's callbacks: they all fire before it is freed */
	struct gexec *g; /* exec in flight */
	char *name;
	/* exec: stdout's and stderr's base64 so far, and the 0-2 bytes not yet
	 * encoded (base64 goes 3 bytes at a time) */
	struct evbuffer *b64[2];
	unsigned char carry[2][3];
	size_t ncarry[2];
	bool nomem;
};

static void gop_free(struct gop *op)
{
	for (int i = 0; i < 2; i++)
		if (op->b64[i])
			evbuffer_free(op->b64[i]);
	free(op->name);
	free(op);
}

static void on_client_gone(struct evhttp_connection *evcon, void *arg)
{
	struct gop *op = arg;
	struct qmp_error e;

	(void)evcon;
	/* the request dies with the connection; the agent's callback frees op */
	http_request_orphaned(op->req);
	op->req = NULL;
	op->evcon = NULL;
	if (op->g) {
		/* nobody will read the output: stop waiting for it (done frees
		 * op); the guest's files are still removed */
		qmp_error_set(&e, QMP_ERR_DISCONNECTED, "the client went away");
		gexec_drop(op->g, &e);
	}
}

static struct gop *gop_hold(struct evhttp_request *req, struct vm *vm)
{
	struct gop *op = calloc(1, sizeof(*op));

	if (!op || !(op->name = strdup(vm->spec.name))) {
		free(op);
		return NULL;
	}
	op->req = req;
	op->vm = vm;
	return op;
}

static void gop_watch(struct gop *op)
{
	/* a wait of up to 600 s, or a long command, outlasts the idle timeout */
	op->evcon = http_hold(op->req, on_client_gone, op);
}

/* The client is still there: unhook, so its close is not ours any more. */
static struct evhttp_request *gop_take(struct gop *op)
{
	struct evhttp_request *req = op->req;

	if (op->evcon)
		api_conn_set_closecb(op->evcon, NULL, NULL);
	op->req = NULL;
	op->evcon = NULL;
	return req;
}

static void reply_agent_error(struct evhttp_request *req, struct gop *op,
			      const struct qmp_error *err)
{
	const char *gone = vm_agent_gone_reason(op->vm);
	/* qemu usually closes the agent socket before its exit is reaped: say
	 * what is going on rather than "connection lost" */
	bool stopping = op->vm->kill_requested || op->vm->stop_stage || op->vm->shutdown_seen ||
			op->vm->state == VM_STOPPING;
	bool lost = !strcmp(err->cls, QMP_ERR_DISCONNECTED);

	if (lost && ((gone && !strcmp(gone, "destroyed")) || op->vm->destroying))
		http_send_error(req, 404, "NotFound", "VM '%s' was destroyed", op->name);
	else if (lost && (gone || stopping))
		http_send_error(req, 409, "Conflict", "VM '%s': qemu %s", op->name,
				gone ? "exited" : "is stopping");
	else if (!strcmp(err->cls, QMP_ERR_DISCONNECTED))
		http_send_error(req, 503, AGENT_ERR_NOT_READY, "agent connection lost: %s",
				err->desc);
	else if (!strcmp(err->cls, AGENT_ERR_NOT_READY))
		http_send_error(req, 503, AGENT_ERR_NOT_READY, "%s", err->desc);
	else if (!strcmp(err->cls, QMP_ERR_TIMEOUT))
		http_send_error(req, 504, QMP_ERR_TIMEOUT, "%s", err->desc);
	else if (!strcmp(err->cls, "InvalidParameter"))
		http_send_error(req, 400, err->cls, "%s", err->desc);
	else if (!strcmp(err->cls, "InternalError"))
		http_send_error(req, 500, err->cls, "%s", err->desc);
	else
		/* the guest agent's own error (GenericError ...), as for QMP passthrough */
		http_send_error(req, 502, err->cls, "guest agent: %s", err->desc);
}

/* The agent of a VM that can answer now, or NULL after replying. */
static struct agent *agent_for(struct vmsup *sup, struct evhttp_request *req, const char *name,
			       struct vm **vmp)
{
	struct vm *vm = vmsup_find(sup, name);
	struct agent *a;

	if (!vm) {
		http_send_error(req, 404, "NotFound", "no VM named '%s'", name);
		return NULL;
	}
	if (vm->destroying) {
		http_send_error(req, 409, "Conflict", "VM '%s' is being destroyed", name);
		return NULL;
	}
	if (!vm->spec.kernel && !vm->spec.disk) {
		http_send_error(req, 503, AGENT_ERR_NOT_READY,
				"agent not ready: VM '%s' has no guest OS", name);
		return NULL;
	}
	if (!(a = vm_agent_of(vm))) {
		http_send_error(req, 503, AGENT_ERR_NOT_READY, "agent not ready: VM '%s' is %s",
				name, vm_state_name(vm->state));
		return NULL;
	}
	*vmp = vm;
	return a;
}

/* ---- GET ip ---- */

static void on_ip(struct json_object *ipinfo, const struct qmp_error *err, void *arg)
{
	struct gop *op = arg;
	struct evhttp_request *req = gop_take(op);

	if (req) {
		if (err)
			reply_agent_error(req, op, err);
		else
			http_send_json(req, 200, ipinfo);
	}
	gop_free(op);
}

void vmsup_api_guest_ip(struct vmsup *sup, struct evhttp_request *req, const char *name,
			struct evkeyvalq *query)
{
	const char *w = query ? evhttp_find_header(query, "wait") : NULL;
	long wait = 0;
	struct agent *a;
	struct vm *vm = NULL;
	struct gop *op;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		http_send_error(req, 405, "MethodNotAllowed", "use GET");
		return;
	}
	if (w) {
		char *end;
		errno = 0;
		wait = strtol(w, &end, 10);
		if (!*w || *end || errno || wait < 0 || wait > VMSUP_IP_WAIT_MAX_S ||
		    !(*w >= '0' && *w <= '9')) {
			http_send_error(req, 400, "InvalidParameter",
					"wait: '%s' is not an integer in 0..%d", w,
					VMSUP_IP_WAIT_MAX_S);
			return;
		}
	}
	if (!(a = agent_for(sup, req, name, &vm)))
		return;
	if (!(op = gop_hold(req, vm))) {
		http_send_error(req, 500, "InternalError", "out of memory");
		return;
	}
	if (agent_get_ip(a, (unsigned)wait * 1000u, on_ip, op) < 0) {
		gop_free(op);
		http_send_error(req, 500, "InternalError", "out of memory");
		return;
	}
	/* the answer never comes inside agent_get_ip */
	gop_watch(op);
}

/* ---- POST exec ---- */

struct exec_args {
	const char **argv;
	unsigned char *input;
	size_t input_len;
	unsigned timeout_s;
};

static void exec_args_release(struct exec_args *x)
{
	free(x->argv);
	free(x->input);
}

/* Strict: 0, or -1 after replying 400/413. body and x->argv's strings share a lifetime. */
static int parse_exec(struct evhttp_request *req, struct json_object **body, struct exec_args *x)
{
	struct json_object *v;
	size_t n;

	if (http_read_json(req, body))
		return -1;
	if (!*body) {
		http_send_error(req, 400, "InvalidParameter",
				"a body {\"argv\":[...]} is required");
		return -1;
	}
	if (!json_object_is_type(*body, json_type_object)) {
		http_send_error(req, 400, "InvalidParameter", "the body must be a JSON object");
		return -1;
	}
	json_object_object_foreach(*body, k, val)
	{
		(void)val;
		if (strcmp(k, "argv") && strcmp(k, "input_b64") && strcmp(k, "timeout_s")) {
			http_send_error(req, 400, "InvalidParameter", "unknown field '%s'", k);
			return -1;
		}
	}
	if (!json_object_object_get_ex(*body, "argv", &v) ||
	    !json_object_is_type(v, json_type_array) || !(n = json_object_array_length(v))) {
		http_send_error(req, 400, "InvalidParameter",
				"'argv' must be a non-empty array of strings");
		return -1;
	}
	if (n > EXEC_ARGV_MAX) {
		http_send_error(req, 400, "InvalidParameter", "'argv': at most %d arguments",
				EXEC_ARGV_MAX);
		return -1;
	}
	if (!(x->argv = calloc(n + 1, sizeof(*x->argv)))) {
		http_send_error(req, 500, "InternalError", "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *s = json_object_array_get_idx(v, i);
		if (!json_object_is_type(s, json_type_string)) {
			http_send_error(req, 400, "InvalidParameter", "'argv[%zu]' is not a string",
					i);
			return -1;
		}
		x->argv[i] = json_object_get_string(s);
		/* C strings end at NUL: an argument with one would be cut silently */
		if (strlen(x->argv[i]) != (size_t)json_object_get_string_len(s)) {
			http_send_error(req, 400, "InvalidParameter",
					"'argv[%zu]' contains a NUL byte", i);
			return -1;
		}
	}
	if (!*x->argv[0]) {
		http_send_error(req, 400, "InvalidParameter", "'argv[0]' is empty");
		return -1;
	}
	if (json_object_object_get_ex(*body, "input_b64", &v)) {
		if (!json_object_is_type(v, json_type_string)) {
			http_send_error(req, 400, "InvalidParameter",
					"'input_b64' must be a string");
			return -1;
		}
		if (json_object_get_string_len(v) > 0 &&
		    !(x->input =
			  b64_decode(json_object_get_string(v),
				     (size_t)json_object_get_string_len(v), &x->input_len))) {
			http_send_error(req, 400, "InvalidParameter",
					"'input_b64' is not padded standard base64");
			return -1;
		}
		if (x->input_len > VMSUP_EXEC_INPUT_MAX) {
			http_send_error(req, 413, "TooLarge",
					"'input_b64': at most %u bytes of input (%zu given)",
					VMSUP_EXEC_INPUT_MAX, x->input_len);
			return -1;
		}
	}
	if (json_object_object_get_ex(*body, "timeout_s", &v)) {
		int64_t t;
		if (!json_object_is_type(v, json_type_int) || (t = json_object_get_int64(v)) < 0 ||
		    t > EXEC_TIMEOUT_MAX) {
			http_send_error(req, 400, "InvalidParameter",
					"'timeout_s' must be an integer in 0..%d (0: no limit)",
					EXEC_TIMEOUT_MAX);
			return -1;
		}
		x->timeout_s = (unsigned)t;
	}
	return 0;
}

/* n bytes as base64 onto b, -1 if out of memory. */
static int add_b64(struct evbuffer *b, const unsigned char *p, size_t n)
{
	struct evbuffer_iovec v;

	if (!n)
		return 0;
	if (evbuffer_reserve_space(b, (ev_ssize_t)b64_encoded_len(n), &v, 1) < 1)
		return -1;
	b64_encode_into(p, n, v.iov_base);
	v.iov_len = b64_encoded_len(n);
	return evbuffer_commit_space(b, &v, 1);
}

/*
 * A piece of the output (at most GEXEC_CHUNK), straight to base64 in the
 * reply's buffer: the output is never held raw, only as the base64 the
 * reply sends (exec_output_max * 4/3 a stream at most).
 */
static void on_exec_chunk(int stream, const unsigned char *p, size_t n, void *arg)
{
	struct gop *op = arg;
	int i = stream - 1;
	size_t k;

	if (op->nomem)
		return;
	while (op->ncarry[i] && op->ncarry[i] < 3 && n) {
		op->carry[i][op->ncarry[i]++] = *p++;
		n--;
	}
	if (op->ncarry[i] == 3) {
		op->nomem = add_b64(op->b64[i], op->carry[i], 3) < 0;
		op->ncarry[i] = 0;
	}
	k = n - n % 3;
	op->nomem = op->nomem || add_b64(op->b64[i], p, k) < 0;
	memcpy(op->carry[i], p + k, n - k);
	op->ncarry[i] += n - k;
}

/* The exec's answer, in the shape docs/API.md gives. */
static void send_exec_reply(struct evhttp_request *req, struct gop *op,
			    const struct gexec_result *res)
{
	struct evbuffer *b = evbuffer_new();
	int bad = !b || op->nomem;

	for (int i = 0; i < 2; i++)
		bad = bad || add_b64(op->b64[i], op->carry[i], op->ncarry[i]) < 0;
	if (!bad && res->signal)
		bad = evbuffer_add_printf(b, "{\"exitcode\":null,\"signal\":%d", res->signal) < 0;
	else if (!bad)
		bad = evbuffer_add_printf(b, "{\"exitcode\":%d,\"signal\":null", res->exitcode) < 0;
	/* the base64 moves into the reply (evbuffer_add_buffer), uncopied */
	bad = bad || evbuffer_add_printf(b, ",\"status\":%d,\"stdout_b64\":\"", res->status) < 0 ||
	      evbuffer_add_buffer(b, op->b64[0]) < 0 ||
	      evbuffer_add_printf(b, "\",\"stderr_b64\":\"") < 0 ||
	      evbuffer_add_buffer(b, op->b64[1]) < 0 ||
	      evbuffer_add_printf(b, "\",\"stdout_truncated\":%s,\"stderr_truncated\":%s}\n",
				  res->out_truncated ? "true" : "false",
				  res->err_truncated ? "true" : "false") < 0;
	if (bad) {
		if (b)
			evbuffer_free(b);
		http_send_error(req, 500, "InternalError", "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

static void on_exec(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct gop *op = arg;
	struct evhttp_request *req;

	op->g = NULL;
	req = gop_take(op);
	if (req && err)
		reply_agent_error(req, op, err);
	else if (req)
		send_exec_reply(req, op, res);
	gop_free(op);
}

/*
 * A VM that cannot run a command now: 409 at once with the reason, rather
 * than a guest-exec that waits out its timeout. 0 when exec may go on.
 */
static int exec_refused(struct vmsup *sup, struct evhttp_request *req, const char *name)
{
	struct vm *vm = vmsup_find(sup, name);

	if (!vm || vm->destroying)
		return 0; /* agent_for says 404 / 409 */
	if (!vm->spec.kernel && !vm->spec.disk) {
		http_send_error(req, 409, "Conflict",
				"VM '%s' has no guest OS (no kernel or disk): nothing to exec in",
				name);
		return -1;
	}
	if (vm->state == VM_PAUSED) {
		http_send_error(req, 409, "Conflict", "VM '%s' is paused: resume it first", name);
		return -1;
	}
	if (vm->state != VM_RUNNING && vm->state != VM_STARTING) {
		http_send_error(req, 409, "Conflict", "VM '%s' is %s: exec needs a running guest",
				name, vm_state_name(vm->state));
		return -1;
	}
	return 0;
}

void vmsup_api_guest_exec(struct vmsup *sup, struct evhttp_request *req, const char *name)
{
	struct exec_args x = {0};
	struct gexec_request r = {0};
	struct json_object *body = NULL;
	struct qmp_error e;
	struct agent *a;
	struct vm *vm = NULL;
	struct gop *op;

	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
		http_send_error(req, 405, "MethodNotAllowed", "use POST");
		return;
	}
	if (parse_exec(req, &body, &x) || exec_refused(sup, req, name))
		goto out;
	if (!(a = agent_for(sup, req, name, &vm)))
		goto out;
	if (!(op = gop_hold(req, vm))) {
		http_send_error(req, 500, "InternalError", "out of memory");
		goto out;
	}
	if (!(op->b64[0] = evbuffer_new()) || !(op->b64[1] = evbuffer_new())) {
		gop_free(op);
		http_send_error(req, 500, "InternalError", "out of memory");
		goto out;
	}
	r.argv = x.argv;
	r.input = x.input;
	r.input_len = x.input_len;
	r.timeout_ms = x.timeout_s * 1000u;
	r.output_max = vmsup_config(sup)->exec_output_max;
	r.chunk = on_exec_chunk;
	/* argv and input are copied into the guest-exec command at once */
	op->g = agent_exec_req(a, &r, on_exec, op, &e);
	if (!op->g) {
		reply_agent_error(req, op, &e);
		gop_free(op);
		goto out;
	}
	gop_watch(op);
out:
	exec_args_release(&x);
	json_object_put(body);
}
