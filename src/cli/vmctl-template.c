/*
 * vmctl template create|list|rm|verify, and `vmctl create NAME --from
 * TEMPLATE` (POST /v1/templates, GET /v1/templates, DELETE
 * /v1/templates/NAME, POST /v1/templates/NAME/verify, POST /v1/vms
 * {"name","from"}).
 */
#include "config.h"

#include "src/cli/vmctl.h"

#include <stdlib.h>
#include <string.h>

enum { OPT_FROM = VMCTL_OPT_FIRST_FREE + 40 };

static int check_name(const char *cmd, const char *what, const char *name)
{
	if (vmctl_valid_name(name))
		return 0;
	return vmctl_usage_error(
	    cmd, "'%s' is not a valid %s name ([A-Za-z0-9][A-Za-z0-9_.-]{0,62})", name, what);
}

static int spec_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	int rc = vmctl_spec_opt(cmd, opt, arg, ctx);

	return rc >= 0 ? rc : VMCTL_EXIT_USAGE;
}

static int tmpl_create(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {
	    VMCTL_SPEC_LONGOPTS, {"help", no_argument, NULL, 'h'}, {0}};
	struct json_object *spec = json_object_new_object(), *r = NULL;
	struct vmctl_args a;
	int rc = vmctl_parse("template", argc, argv, "h", lo, 1, 0, spec_opt, spec, &a);

	if (rc)
		goto out;
	if (a.npos != 1) {
		rc = vmctl_usage_error("template", "template create: missing NAME");
		goto out;
	}
	if ((rc = check_name("template", "template", a.pos[0])))
		goto out;
	json_object_object_add(spec, "name", json_object_new_string(a.pos[0]));
	/* boots a VM, waits for its agent and saves it: no client timeout */
	if ((rc = vmctl_call(g, a.pos[0], "POST", "/v1/templates", spec, 0, &r, NULL)))
		goto out;
	if (g->json) {
		vmctl_print_json(r);
	} else if (!g->quiet) {
		char b1[64], b2[64];
		printf("%s: saved, %s bytes in %s ms\n", a.pos[0],
		       vmctl_field(r, "state_bytes", b1, sizeof(b1)),
		       vmctl_ms(r, "save_ms", b2, sizeof(b2)));
	}
out:
	json_object_put(r);
	json_object_put(spec);
	return rc < 0 ? 0 : rc;
}

static int tmpl_list(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {0}};
	struct json_object *r = NULL, *l;
	struct vmctl_args a;
	int rc = vmctl_parse("template", argc, argv, "h", lo, 0, 0, NULL, NULL, &a);

	if (rc)
		return rc < 0 ? 0 : rc;
	if ((rc = vmctl_call(g, "template", "GET", "/v1/templates", NULL, 0, &r, NULL)))
		return rc;
	if (g->json) {
		vmctl_print_json(r);
	} else if (json_object_object_get_ex(r, "templates", &l)) {
		printf("%-24s %-12s %-10s %s\n", "NAME", "STATE_BYTES", "QEMU", "MAC/ERROR");
		for (size_t i = 0; i < json_object_array_length(l); i++) {
			struct json_object *t = json_object_array_get_idx(l, i), *e;
			char b[4][96];
			printf("%-24s %-12s %-10s %s\n", vmctl_field(t, "name", b[0], sizeof(b[0])),
			       vmctl_field(t, "state_bytes", b[1], sizeof(b[1])),
			       vmctl_field(t, "qemu_version", b[2], sizeof(b[2])),
			       json_object_object_get_ex(t, "error", &e)
				   ? json_object_get_string(e)
				   : vmctl_field(t, "mac", b[3], sizeof(b[3])));
		}
	}
	json_object_put(r);
	return 0;
}

/*
 * `template SUB NAME`: parse, check NAME, send method to
 * /v1/templates/NAME then suffix, with no client timeout (a verify reads every byte of the RAM
 * file). 0 with *r and *name set, else the exit status (-1: --help shown).
 */
static int name_call(const struct vmctl *g, int argc, char **argv, const char *sub,
		     const char *method, const char *suffix, struct json_object **r,
		     const char **name)
{
	static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {0}};
	struct vmctl_args a;
	char path[128];
	int rc = vmctl_parse("template", argc, argv, "h", lo, 1, 0, NULL, NULL, &a);

	if (rc)
		return rc;
	if (a.npos != 1)
		return vmctl_usage_error("template", "template %s: missing NAME", sub);
	if ((rc = check_name("template", "template", a.pos[0])))
		return rc;
	*name = a.pos[0];
	snprintf(path, sizeof(path), "/v1/templates/%s%s", a.pos[0], suffix);
	return vmctl_call(g, a.pos[0], method, path, NULL, 0, r, NULL);
}

static int tmpl_rm(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *r = NULL;
	const char *name;
	int rc = name_call(g, argc, argv, "rm", "DELETE", "", &r, &name);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (g->json)
		printf("{}\n");
	json_object_put(r);
	return 0;
}

static int tmpl_verify(const struct vmctl *g, int argc, char **argv)
{
	struct json_object *r = NULL, *files;
	const char *name;
	int rc = name_call(g, argc, argv, "verify", "POST", "/verify", &r, &name);

	if (rc)
		return rc < 0 ? 0 : rc;
	if (g->json) {
		vmctl_print_json(r);
	} else if (!g->quiet && json_object_object_get_ex(r, "files", &files)) {
		for (size_t i = 0; i < json_object_array_length(files); i++) {
			struct json_object *f = json_object_array_get_idx(files, i), *rec;
			char b[2][96];
			printf("%s: %s: %s bytes, %s\n", name,
			       vmctl_field(f, "file", b[0], sizeof(b[0])),
			       vmctl_field(f, "bytes", b[1], sizeof(b[1])),
			       json_object_object_get_ex(f, "recorded", &rec) && rec
				   ? "sha256 as saved"
				   : "size as saved (no sha256 was recorded)");
		}
	}
	json_object_put(r);
	return 0;
}

int vmctl_cmd_template(const struct vmctl *g, int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		vmctl_print_help(stdout, "template");
		return 0;
	}
	if (argc < 2)
		return vmctl_usage_error("template", "missing create, list, rm or verify");
	if (!strcmp(argv[1], "create"))
		return tmpl_create(g, argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return tmpl_list(g, argc - 1, argv + 1);
	if (!strcmp(argv[1], "rm"))
		return tmpl_rm(g, argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return tmpl_verify(g, argc - 1, argv + 1);
	return vmctl_usage_error("template", "unknown subcommand '%s' (create, list, rm, verify)",
				 argv[1]);
}

int vmctl_create_has_from(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--from") || !strncmp(argv[i], "--from=", 7))
			return 1;
	return 0;
}

static int from_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	struct json_object *spec = ctx;

	switch (opt) {
	case OPT_FROM:
		json_object_object_add(spec, "from", json_object_new_string(arg));
		return 0;
	case VMCTL_OPT_NO_START:
		json_object_object_add(spec, "start", json_object_new_boolean(0));
		return 0;
	case VMCTL_OPT_RESTART:
		json_object_object_add(spec, "restart", json_object_new_string(arg));
		return 0;
	}
	return vmctl_usage_error(cmd, "with --from only --no-start and --restart may be given: "
				      "the VM has the template's devices");
}

int vmctl_cmd_create_from(const struct vmctl *g, int argc, char **argv)
{
	/* the spec options are parsed only to refuse them with a clear message */
	static const struct option lo[] = {VMCTL_SPEC_LONGOPTS,
					   {"from", required_argument, NULL, OPT_FROM},
					   {"no-start", no_argument, NULL, VMCTL_OPT_NO_START},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct json_object *spec = json_object_new_object(), *vm = NULL, *v;
	struct vmctl_args a;
	int rc = vmctl_parse("create", argc, argv, "h", lo, 1, 0, from_opt, spec, &a);

	if (rc)
		goto out;
	if (a.npos != 1) {
		rc = vmctl_usage_error("create", "missing NAME");
		goto out;
	}
	if ((rc = check_name("create", "VM", a.pos[0])))
		goto out;
	if (!json_object_object_get_ex(spec, "from", &v) ||
	    (rc = check_name("create", "template", json_object_get_string(v))))
		goto out;
	json_object_object_add(spec, "name", json_object_new_string(a.pos[0]));
	if ((rc = vmctl_call(g, a.pos[0], "POST", "/v1/vms", spec, 0, &vm, NULL)))
		goto out;
	if (g->json)
		vmctl_print_json(vm);
	if (json_object_object_get_ex(vm, "state", &v) &&
	    !strcmp(json_object_get_string(v), "failed")) {
		char b[1024];
		rc = vmctl_fail(a.pos[0], "failed: %s", vmctl_field(vm, "error", b, sizeof(b)));
		goto out;
	}
	if (!g->json && !g->quiet) {
		char b[64];
		struct json_object *t, *ms;
		printf("%s: %s", a.pos[0], vmctl_field(vm, "state", b, sizeof(b)));
		if (json_object_object_get_ex(vm, "template", &t) &&
		    json_object_object_get_ex(t, "restore_ms", &ms) && ms)
			printf(" (restored in %.0f ms)", json_object_get_double(ms));
		printf("\n");
	}
out:
	json_object_put(vm);
	json_object_put(spec);
	return rc < 0 ? 0 : rc;
}
