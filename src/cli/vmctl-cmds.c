/* vmctl: the commands that are one API call (or one stream) each. */
#include "config.h"

#include "src/cli/vmctl.h"
#include "src/client/client.h"
#include "src/util/bounds.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static const struct option help_only[] = {{"help", no_argument, NULL, 'h'}, {0}};

static void vm_path(char *buf, size_t n, const char *name, const char *what)
{
	snprintf(buf, n, "/v1/vms/%s%s%s", name, what ? "/" : "", what ? what : "");
}

/* Text mode shows `NAME: state` after a state change, JSON the whole VM. */
static void report_vm(const struct vmctl *g, const char *name, struct json_object *vm)
{
	char b[64];

	if (g->json)
		vmctl_print_json(vm);
	else if (!g->quiet)
		printf("%s: %s\n", name, vmctl_field(vm, "state", b, sizeof(b)));
}

static int done(int rc)
{
	return rc < 0 ? 0 : rc;
}

int vmctl_cmd_list(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *r = NULL, *vms = NULL;
	struct vmctl_args a;
	int rc = vmctl_parse("list", argc, argv, "h", help_only, 0, 0, NULL, NULL, &a);

	if (rc)
		return done(rc);
	rc = vmctl_call(g, "list", "GET", "/v1/vms", NULL, 30000, &r, NULL);
	if (rc)
		return rc;
	if (g->json)
		vmctl_print_json(r);
	else if (json_object_object_get_ex(r, "vms", &vms) &&
		 json_object_is_type(vms, json_type_array))
		vmctl_print_vm_list_text(vms, g->quiet);
	else
		rc = vmctl_fail("list", "reply has no \"vms\" array");
	json_object_put(r);
	return rc;
}

int vmctl_cmd_status(const struct vmctl *g, int argc, char **argv)
{
	struct vmctl_args a;
	int rc = vmctl_parse_name("status", argc, argv, "h", help_only, NULL, NULL, 1, 0, &a);

	if (rc)
		return done(rc);
	return vmctl_get_print(g, a.pos[0], NULL, NULL, vmctl_print_vm_text);
}

/* start, pause, resume, kill, reset: POST /v1/vms/NAME/<cmd>. */
int vmctl_cmd_lifecycle(const struct vmctl *g, int argc, char **argv)
{
	const char *cmd = argv[0];
	struct json_object *vm = NULL;
	struct vmctl_args a;
	char path[160];
	int rc = vmctl_parse_name(cmd, argc, argv, "h", help_only, NULL, NULL, 1, 0, &a);

	if (rc)
		return done(rc);
	vm_path(path, sizeof(path), a.pos[0], cmd);
	rc = vmctl_call(g, a.pos[0], "POST", path, NULL, 0, &vm, NULL);
	if (rc)
		return rc;
	report_vm(g, a.pos[0], vm);
	json_object_put(vm);
	return 0;
}

static int timeout_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	if (vmctl_parse_long(arg, 0, VMSUP_TIMEOUT_MAX_S, ctx) < 0)
		return vmctl_usage_error(cmd, "--timeout: '%s' is not a number of seconds", arg);
	return 0;
}

static const struct option timeout_opts[] = {
    {"timeout", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'}, {0}};

int vmctl_cmd_stop(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *vm = NULL, *body = NULL;
	struct vmctl_args a;
	char path[160];
	long t = -1;
	int rc = vmctl_parse_name("stop", argc, argv, "h", timeout_opts, timeout_opt, &t, 1, 0, &a);

	if (rc)
		return done(rc);
	vm_path(path, sizeof(path), a.pos[0], "stop");
	if (t >= 0) {
		body = json_object_new_object();
		json_object_object_add(body, "timeout_s", json_object_new_int64(t));
	}
	rc = vmctl_call(g, a.pos[0], "POST", path, body, 0, &vm, NULL);
	json_object_put(body);
	if (rc)
		return rc;
	report_vm(g, a.pos[0], vm);
	json_object_put(vm);
	return 0;
}

struct destroy_opts {
	long timeout;
	bool force;
};

static int destroy_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	struct destroy_opts *o = ctx;

	if (opt == 'f') {
		o->force = true;
		return 0;
	}
	return timeout_opt(cmd, opt, arg, &o->timeout);
}

static const struct option destroy_opts[] = {{"timeout", required_argument, NULL, 't'},
					     {"force", no_argument, NULL, 'f'},
					     {"help", no_argument, NULL, 'h'},
					     {0}};

int vmctl_cmd_destroy(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *r = NULL;
	struct vmctl_args a;
	char path[160];
	struct destroy_opts o = {-1, false};
	int rc =
	    vmctl_parse_name("destroy", argc, argv, "h", destroy_opts, destroy_opt, &o, 1, 0, &a);

	if (rc)
		return done(rc);
	vm_path(path, sizeof(path), a.pos[0], NULL);
	if (o.force)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "?force=1");
	if (o.timeout >= 0)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%ctimeout=%ld",
			 o.force ? '&' : '?', o.timeout);
	rc = vmctl_call(g, a.pos[0], "DELETE", path, NULL, 0, &r, NULL);
	if (rc)
		return rc;
	if (g->json && r)
		vmctl_print_json(r);
	else if (g->json)
		printf("{}\n");
	json_object_put(r);
	return 0;
}

int vmctl_cmd_memory(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *vm = NULL, *body;
	struct vmctl_args a;
	char path[160];
	long mib;
	int rc = vmctl_parse_name("memory", argc, argv, "h", help_only, NULL, NULL, 2, 0, &a);

	if (rc)
		return done(rc);
	if (a.npos != 2)
		return vmctl_usage_error("memory", "missing MiB");
	if (vmctl_parse_mib(a.pos[1], 1, VMSUP_MEM_MAX_MIB, &mib) < 0)
		return vmctl_usage_error("memory", "'%s' is not a size in 1..%u MiB (M or G)",
					 a.pos[1], VMSUP_MEM_MAX_MIB);
	vm_path(path, sizeof(path), a.pos[0], "memory");
	body = json_object_new_object();
	json_object_object_add(body, "target_mib", json_object_new_int64(mib));
	rc = vmctl_call(g, a.pos[0], "PUT", path, body, 0, &vm, NULL);
	json_object_put(body);
	if (rc)
		return rc;
	if (g->json)
		vmctl_print_json(vm);
	json_object_put(vm);
	return 0;
}

enum { OPT_QUOTA = VMCTL_OPT_FIRST_FREE, OPT_PERIOD };

static int cpu_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	struct json_object *body = ctx;
	long v;

	switch (opt) {
	case OPT_QUOTA:
		/* none: the API's null, no quota at all */
		if (!strcmp(arg, "none")) {
			json_object_object_add(body, "quota_pct", NULL);
			return 0;
		}
		if (vmctl_parse_long(arg, 1, VMSUP_QUOTA_PCT_MAX, &v) < 0)
			return vmctl_usage_error(
			    cmd, "--quota: '%s' is not a percentage (1..%u) or none", arg,
			    VMSUP_QUOTA_PCT_MAX);
		json_object_object_add(body, "quota_pct", json_object_new_int64(v));
		return 0;
	case OPT_PERIOD:
		/* The kernel's own bounds for cpu.cfs_period_us. */
		if (vmctl_parse_long(arg, VMSUP_PERIOD_MIN_US, VMSUP_PERIOD_MAX_US, &v) < 0)
			return vmctl_usage_error(cmd, "--period: '%s' is not %u..%u us", arg,
						 VMSUP_PERIOD_MIN_US, VMSUP_PERIOD_MAX_US);
		json_object_object_add(body, "period_us", json_object_new_int64(v));
		return 0;
	case VMCTL_OPT_PIN:
		return vmctl_pin_opt(cmd, "pin", arg, body);
	case VMCTL_OPT_EMULATOR_PIN:
		return vmctl_pin_opt(cmd, "emulator_pin", arg, body);
	}
	return VMCTL_EXIT_USAGE;
}

int vmctl_cmd_cpu(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {{"quota", required_argument, NULL, OPT_QUOTA},
					   {"period", required_argument, NULL, OPT_PERIOD},
					   VMCTL_PIN_LONGOPTS,
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct json_object *vm = NULL, *body = json_object_new_object();
	struct vmctl_args a;
	char path[160];
	int rc = vmctl_parse_name("cpu", argc, argv, "h", lo, cpu_opt, body, 1, 0, &a);

	if (rc)
		goto out;
	if (!json_object_object_length(body)) {
		rc = vmctl_usage_error("cpu", "give --quota, --period, --pin or --emulator-pin");
		goto out;
	}
	vm_path(path, sizeof(path), a.pos[0], "cpu");
	rc = vmctl_call(g, a.pos[0], "PUT", path, body, 0, &vm, NULL);
	if (!rc && g->json)
		vmctl_print_json(vm);
out:
	json_object_put(vm);
	json_object_put(body);
	return done(rc);
}

static int wait_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	if (vmctl_parse_long(arg, 0, 86400, ctx) < 0)
		return vmctl_usage_error(cmd, "--wait: '%s' is not a number of seconds", arg);
	return 0;
}

int vmctl_cmd_ip(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"wait", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'}, {0}};
	struct json_object *r = NULL, *v;
	struct vmctl_args a;
	char path[160];
	long wait = 0;
	int rc = vmctl_parse_name("ip", argc, argv, "h", lo, wait_opt, &wait, 1, 0, &a);

	if (rc)
		return done(rc);
	snprintf(path, sizeof(path), "/v1/vms/%s/ip?wait=%ld", a.pos[0], wait);
	/* The daemon bounds the wait; ours only guards against a hung one. */
	rc = vmctl_call(g, a.pos[0], "GET", path, NULL, (wait + 30) * 1000, &r, NULL);
	if (rc)
		return rc;
	if (g->json) {
		vmctl_print_json(r);
	} else if ((json_object_object_get_ex(r, "ip", &v) && v) ||
		   (json_object_object_get_ex(r, "ipv6", &v) && v)) {
		/* one line, as vm-ip prints it: scripts read one address */
		printf("%s\n", json_object_get_string(v));
	} else {
		rc = vmctl_fail(a.pos[0], "the guest has no address");
	}
	json_object_put(r);
	return rc;
}

/* A QMP command name as vm-qmp takes it: letters, digits, '-' and '_'. */
static int qmp_name(const char *s)
{
	return *s &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") ==
		   strlen(s);
}

static struct json_object *json_obj(const char *s)
{
	struct json_object *o = json_tokener_parse(s);

	if (o && json_object_is_type(o, json_type_object))
		return o;
	json_object_put(o);
	return NULL;
}

/*
 * The command object of `qmp NAME COMMAND [ARGS]`: a whole object, or a
 * bare name (query-status) with its arguments as a JSON object. NULL after
 * printing a usage error.
 */
static struct json_object *qmp_command(const struct vmctl_args *a)
{
	struct json_object *cmd, *args = NULL;

	if (!qmp_name(a->pos[1])) {
		if (a->npos == 2 && (cmd = json_obj(a->pos[1])))
			return cmd;
		vmctl_usage_error("qmp",
				  "'%s' is not a QMP command name or a JSON object like "
				  "{\"execute\":\"query-status\"}",
				  a->pos[1]);
		return NULL;
	}
	if (a->npos == 3 && !(args = json_obj(a->pos[2]))) {
		vmctl_usage_error("qmp", "'%s' is not a JSON object of arguments", a->pos[2]);
		return NULL;
	}
	cmd = json_object_new_object();
	json_object_object_add(cmd, "execute", json_object_new_string(a->pos[1]));
	if (args)
		json_object_object_add(cmd, "arguments", args);
	return cmd;
}

int vmctl_cmd_qmp(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *cmd, *r = NULL;
	struct vmctl_args a;
	char path[160];
	int rc = vmctl_parse_name("qmp", argc, argv, "h", help_only, NULL, NULL, 3, 0, &a);

	if (rc)
		return done(rc);
	if (a.npos < 2)
		return vmctl_usage_error("qmp", "missing COMMAND");
	if (!(cmd = qmp_command(&a)))
		return VMCTL_EXIT_USAGE;
	vm_path(path, sizeof(path), a.pos[0], "qmp");
	rc = vmctl_call(g, a.pos[0], "POST", path, cmd, 0, &r, NULL);
	json_object_put(cmd);
	if (rc)
		return rc;
	vmctl_print_json(r);
	json_object_put(r);
	return 0;
}

struct line_ctx {
	const struct vmctl *g;
};

static int on_event(const char *line, void *arg)
{
	struct line_ctx *c = arg;
	struct json_object *ev;

	if (c->g->json) {
		printf("%s\n", line);
		fflush(stdout);
		return 0;
	}
	ev = json_tokener_parse(line);
	if (ev)
		vmctl_print_event_text(ev);
	else
		fprintf(stderr, "vmctl: events: skipping a line that is not JSON\n");
	json_object_put(ev);
	return 0;
}

int vmctl_cmd_events(const struct vmctl *g, int argc, char **argv)
{
	struct line_ctx c = {g};
	struct vmctl_args a;
	char path[160] = "/v1/events", *err = NULL;
	int rc = vmctl_parse("events", argc, argv, "h", help_only, 1, 0, NULL, NULL, &a);

	if (rc)
		return done(rc);
	if (a.npos == 1) {
		if (!vmctl_valid_name(a.pos[0]))
			return vmctl_usage_error("events", "'%s' is not a valid VM name", a.pos[0]);
		snprintf(path, sizeof(path), "/v1/events?vm=%s", a.pos[0]);
	}
	if (vmsup_stream(g->sock, path, on_event, &c, &err) < 0) {
		rc = vmctl_fail(a.npos ? a.pos[0] : "events", "%s", err);
		free(err);
	}
	return rc;
}

static int on_metric(const char *line, void *arg)
{
	printf("%s\n", line);
	return 0;
}

int vmctl_cmd_metrics(const struct vmctl *g, int argc, char **argv)
{
	struct vmctl_args a;
	char *err = NULL;
	int rc = vmctl_parse("metrics", argc, argv, "h", help_only, 0, 0, NULL, NULL, &a);

	if (rc)
		return done(rc);
	/* Prometheus text, not JSON: read as lines. */
	if (vmsup_stream(g->sock, "/metrics", on_metric, NULL, &err) < 0) {
		rc = vmctl_fail("metrics", "%s", err);
		free(err);
	}
	return rc;
}

int vmctl_cmd_version(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *r = NULL;
	struct vmctl_args a;
	char b[2][64];
	int rc = vmctl_parse("version", argc, argv, "h", help_only, 0, 0, NULL, NULL, &a);

	if (rc)
		return done(rc);
	if (!g->json)
		printf("vmctl %s\n", PACKAGE_VERSION);
	rc = vmctl_call(g, "version", "GET", "/v1/version", NULL, 30000, &r, NULL);
	if (rc)
		return rc;
	if (g->json) {
		json_object_object_add(r, "vmctl", json_object_new_string(PACKAGE_VERSION));
		vmctl_print_json(r);
	} else {
		printf("vmsupd %s (qemu %s)\n", vmctl_field(r, "version", b[0], sizeof(b[0])),
		       vmctl_field(r, "qemu", b[1], sizeof(b[1])));
	}
	json_object_put(r);
	return 0;
}

/* GET /v1/health answers 503 with the reasons when the host is degraded:
 * that is the answer here, not a failed call. Exit 0 ok, 1 degraded (or
 * no answer), so a check script or a systemd unit can test it. */
int vmctl_cmd_health(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *r = NULL, *rs = NULL;
	struct vmctl_args a;
	char *err = NULL, b[3][256];
	const char *status;
	long http = 0;
	int rc = vmctl_parse("health", argc, argv, "h", help_only, 0, 0, NULL, NULL, &a);

	if (rc)
		return done(rc);
	if (vmsup_request(g->sock, "GET", "/v1/health", NULL, 30000, &http, &r, &err) < 0) {
		rc = vmctl_fail("health", "%s", err);
		free(err);
		return rc;
	}
	status = r && json_object_is_type(r, json_type_object)
		     ? json_object_get_string(json_object_object_get(r, "status"))
		     : NULL;
	if ((http != 200 && http != 503) || !status) {
		rc = vmctl_fail("health", "%s", vmsup_error_desc(r, http));
		json_object_put(r);
		return rc;
	}
	if (g->json) {
		vmctl_print_json(r);
	} else {
		printf("%s\n", status);
		json_object_object_get_ex(r, "reasons", &rs);
		for (size_t i = 0; rs && i < json_object_array_length(rs); i++) {
			struct json_object *e = json_object_array_get_idx(rs, i);
			printf("  %s\t%s\t%s\n", vmctl_field(e, "reason", b[0], sizeof(b[0])),
			       vmctl_field(e, "vm", b[1], sizeof(b[1])),
			       vmctl_field(e, "detail", b[2], sizeof(b[2])));
		}
	}
	json_object_put(r);
	return http == 200 ? 0 : VMCTL_EXIT_ERR;
}

int vmctl_cmd_pool(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *r = NULL, *m, *e;
	struct vmctl_args a;
	char b[5][96];
	int rc = vmctl_parse("pool", argc, argv, "h", help_only, 0, 0, NULL, NULL, &a);

	if (rc)
		return done(rc);
	rc = vmctl_call(g, "pool", "GET", "/v1/pool", NULL, 30000, &r, NULL);
	if (rc)
		return rc;
	if (g->json) {
		vmctl_print_json(r);
	} else {
		printf("template %s (%s): %s of %s ready, %s filling\n",
		       vmctl_field(r, "template", b[0], sizeof(b[0])),
		       vmctl_field(r, "template_state", b[4], sizeof(b[4])),
		       vmctl_field(r, "ready", b[1], sizeof(b[1])),
		       vmctl_field(r, "size", b[2], sizeof(b[2])),
		       vmctl_field(r, "filling", b[3], sizeof(b[3])));
		if (json_object_object_get_ex(r, "members", &m))
			for (size_t i = 0; i < json_object_array_length(m); i++) {
				e = json_object_array_get_idx(m, i);
				printf("  %s %s\n", vmctl_field(e, "name", b[0], sizeof(b[0])),
				       vmctl_field(e, "state", b[1], sizeof(b[1])));
			}
		printf("taken %s warm, %s restored on demand; last error: %s\n",
		       vmctl_field(r, "hits", b[0], sizeof(b[0])),
		       vmctl_field(r, "misses", b[1], sizeof(b[1])),
		       vmctl_field(r, "last_error", b[2], sizeof(b[2])));
	}
	json_object_put(r);
	return 0;
}
