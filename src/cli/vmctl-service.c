/* vmctl autostart NAME on|off, vmctl shutdown --all: vmsupd as a host service. */
#include "config.h"

#include "src/cli/vmctl.h"
#include "src/util/bounds.h"

#include <stdlib.h>
#include <string.h>

static int done(int rc)
{
	return rc < 0 ? 0 : rc;
}

static const struct option help_only[] = {{"help", no_argument, NULL, 'h'}, {0}};

int vmctl_cmd_autostart(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *vm = NULL, *body;
	struct vmctl_args a;
	char path[160], b[16];
	int rc = vmctl_parse("autostart", argc, argv, "h", help_only, 2, 0, NULL, NULL, &a), on;

	if (rc)
		return done(rc);
	if (a.npos < 1)
		return vmctl_usage_error("autostart", "missing NAME");
	if (!vmctl_valid_name(a.pos[0]))
		return vmctl_usage_error("autostart", "'%s' is not a valid VM name", a.pos[0]);
	if (a.npos < 2)
		return vmctl_usage_error("autostart", "missing on|off");
	if (!strcmp(a.pos[1], "on"))
		on = 1;
	else if (!strcmp(a.pos[1], "off"))
		on = 0;
	else
		return vmctl_usage_error("autostart", "'%s' is not on or off", a.pos[1]);
	snprintf(path, sizeof(path), "/v1/vms/%s/autostart", a.pos[0]);
	body = json_object_new_object();
	json_object_object_add(body, "autostart", json_object_new_boolean(on));
	rc = vmctl_call(g, a.pos[0], "PUT", path, body, 30000, &vm, NULL);
	json_object_put(body);
	if (rc)
		return rc;
	if (g->json)
		vmctl_print_json(vm);
	else if (!g->quiet)
		printf("%s: autostart %s\n", a.pos[0],
		       strcmp(vmctl_field(vm, "autostart", b, sizeof(b)), "true") ? "off" : "on");
	json_object_put(vm);
	return 0;
}

struct shutdown_opts {
	int all;
	long timeout;
};

enum { OPT_ALL = VMCTL_OPT_FIRST_FREE, OPT_TIMEOUT };

static int shutdown_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	struct shutdown_opts *o = ctx;

	if (opt == OPT_ALL) {
		o->all = 1;
		return 0;
	}
	if (opt == OPT_TIMEOUT && vmctl_parse_long(arg, 0, VMSUP_TIMEOUT_MAX_S, &o->timeout) == 0)
		return 0;
	return vmctl_usage_error(cmd, "--timeout: '%s' is not a number of seconds", arg);
}

/* One line per VM that did not stop as asked; the count on success. */
static int shutdown_report(const struct vmctl *g, struct json_object *r)
{
	struct json_object *vms = NULL;
	long long failed = 0, stopped = 0;
	char b[256], s[64], by[32];
	int rc = 0;

	if (r && json_object_object_get_ex(r, "failed", &vms))
		failed = json_object_get_int64(vms);
	if (r && json_object_object_get_ex(r, "stopped", &vms))
		stopped = json_object_get_int64(vms);
	if (!r || !json_object_object_get_ex(r, "vms", &vms) ||
	    !json_object_is_type(vms, json_type_array))
		return vmctl_fail("shutdown", "reply has no \"vms\" array");
	if (g->json)
		vmctl_print_json(r);
	for (size_t i = 0; i < json_object_array_length(vms); i++) {
		struct json_object *e = json_object_array_get_idx(vms, i);
		char n[80];

		snprintf(n, sizeof(n), "%s", vmctl_field(e, "name", b, sizeof(b)));
		snprintf(s, sizeof(s), "%s", vmctl_field(e, "state", b, sizeof(b)));
		snprintf(by, sizeof(by), "%s", vmctl_field(e, "stopped_by", b, sizeof(b)));
		if (strcmp(s, "stopped"))
			rc = vmctl_fail(n, "not stopped (%s): %s", s,
					vmctl_field(e, "error", b, sizeof(b)));
		else if (!g->json && !g->quiet)
			printf("%s: stopped (%s)\n", n, by);
	}
	if (failed && !rc)
		rc = vmctl_fail("shutdown", "%lld VMs failed to stop", failed);
	if (!g->json && !g->quiet)
		printf("%lld stopped, %lld failed in %.3f s\n", stopped, failed,
		       json_object_object_get_ex(r, "seconds", &vms) ? json_object_get_double(vms)
								     : 0.0);
	return rc;
}

int vmctl_cmd_shutdown(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {{"all", no_argument, NULL, OPT_ALL},
					   {"timeout", required_argument, NULL, OPT_TIMEOUT},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct shutdown_opts o = {0, -1};
	struct json_object *r = NULL, *body = NULL;
	struct vmctl_args a;
	int rc = vmctl_parse("shutdown", argc, argv, "h", lo, 0, 0, shutdown_opt, &o, &a);

	if (rc)
		return done(rc);
	if (!o.all)
		return vmctl_usage_error("shutdown", "--all is required (it stops every VM)");
	if (o.timeout >= 0) {
		body = json_object_new_object();
		json_object_object_add(body, "timeout_s", json_object_new_int64(o.timeout));
	}
	/* no client timeout: the daemon bounds the stops (grace, quit, SIGKILL) */
	rc = vmctl_call(g, "shutdown", "POST", "/v1/shutdown", body, 0, &r, NULL);
	json_object_put(body);
	if (!rc)
		rc = shutdown_report(g, r);
	json_object_put(r);
	return rc;
}
