/* vmctl: error reporting, argument parsing and the API call wrapper. */
#include "config.h"

#include "src/cli/vmctl.h"
#include "src/client/client.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int vmctl_fail(const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vmctl: %s: ", name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return VMCTL_EXIT_ERR;
}

int vmctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	if (cmd)
		fprintf(stderr, "vmctl: %s: ", cmd);
	else
		fputs("vmctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	vmctl_print_usage_line(stderr, cmd);
	return VMCTL_EXIT_USAGE;
}

int vmctl_valid_name(const char *name)
{
	size_t i, n = strlen(name);

	if (n < 1 || n > 63)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];
		int alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return 0;
	}
	return 1;
}

int vmctl_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (!s || !*s || (*s != '-' && (*s < '0' || *s > '9')))
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The unit words of a size and their MiB: "", M and MiB, G and GiB. */
static long mib_unit(const char *u)
{
	static const struct {
		const char *word;
		long mib;
	} units[] = {{"", 1}, {"m", 1}, {"mib", 1}, {"g", 1024}, {"gib", 1024}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcasecmp(u, units[i].word))
			return units[i].mib;
	return 0;
}

int vmctl_parse_mib(const char *s, long min, long max, long *out)
{
	char *end;
	long v, unit;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || !(unit = mib_unit(end)) || v > max / unit || v * unit < min)
		return -1;
	*out = v * unit;
	return 0;
}

int vmctl_parse(const char *cmd, int argc, char **argv, const char *shortopts,
		const struct option *longopts, int maxpos, int want_rest, vmctl_opt_fn fn,
		void *ctx, struct vmctl_args *out)
{
	char sopts[64];
	struct option lo[64];
	int opt, rc, before;

	memset(out, 0, sizeof(*out));
	/* '+': stop at the first operand, so a command's own options (after
	 * "--" or after the positionals) are never taken for ours; ':' lets
	 * us word the errors ourselves. The global options are everywhere. */
	snprintf(sopts, sizeof(sopts), "+:%s" VMCTL_GLOBAL_SHORTOPTS, shortopts);
	if (vmctl_with_global_opts(longopts, lo, sizeof(lo) / sizeof(lo[0])) < 0)
		return vmctl_fail(cmd, "too many options");
	optind = 0;
	opterr = 0;
	for (;;) {
		before = optind ? optind : 1;
		opt = getopt_long(argc, argv, sopts, lo, NULL);
		if (opt == -1) {
			int dashdash = optind == before + 1 && strcmp(argv[before], "--") == 0;

			if (optind >= argc)
				break;
			if (out->npos < maxpos && !dashdash) {
				out->pos[out->npos++] = argv[optind++];
				continue;
			}
			if (want_rest) {
				out->rest = argv + optind;
				out->nrest = argc - optind;
				break;
			}
			if (out->npos < maxpos) {
				/* "--" before a positional (e.g. a name): accept the
				 * rest as positionals, nothing more. */
				while (optind < argc && out->npos < maxpos)
					out->pos[out->npos++] = argv[optind++];
				if (optind < argc)
					return vmctl_usage_error(cmd, "unexpected argument '%s'",
								 argv[optind]);
				break;
			}
			return vmctl_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
		}
		if (opt == 'h') {
			vmctl_print_help(stdout, cmd);
			return -1;
		}
		if (opt == '?') {
			if (optopt)
				return vmctl_usage_error(cmd, "unknown option '-%c'", optopt);
			return vmctl_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
		if (opt == ':')
			return vmctl_usage_error(cmd, "option '%s' needs a value",
						 argv[optind - 1]);
		rc = vmctl_global_opt(cmd, opt, optarg);
		if (rc < 0)
			rc = fn ? fn(cmd, opt, optarg, ctx) : VMCTL_EXIT_USAGE;
		if (rc)
			return rc;
	}
	return 0;
}

int vmctl_call(const struct vmctl *g, const char *name, const char *method, const char *path,
	       struct json_object *body, long timeout_ms, struct json_object **reply, long *http)
{
	long status = 0;
	char *err = NULL;

	*reply = NULL;
	if (http)
		*http = 0;
	if (vmsup_request(g->sock, method, path, body, timeout_ms, &status, reply, &err) < 0) {
		vmctl_fail(name, "%s", err);
		free(err);
		return VMCTL_EXIT_ERR;
	}
	if (http)
		*http = status;
	if (status < 200 || status > 299) {
		vmctl_fail(name, "%s", vmsup_error_desc(*reply, status));
		json_object_put(*reply);
		*reply = NULL;
		return VMCTL_EXIT_ERR;
	}
	return 0;
}

int vmctl_parse_name(const char *cmd, int argc, char **argv, const char *shortopts,
		     const struct option *lo, vmctl_opt_fn fn, void *ctx, int maxpos, int want_rest,
		     struct vmctl_args *a)
{
	int rc = vmctl_parse(cmd, argc, argv, shortopts, lo, maxpos, want_rest, fn, ctx, a);

	if (rc)
		return rc;
	if (a->npos < 1)
		return vmctl_usage_error(cmd, "missing NAME");
	if (!vmctl_valid_name(a->pos[0]))
		return vmctl_usage_error(cmd, "'%s' is not a valid VM name", a->pos[0]);
	return 0;
}

int vmctl_get_vm(const struct vmctl *g, const char *name, const char *suffix,
		 struct json_object **reply)
{
	char path[256];

	snprintf(path, sizeof(path), "/v1/vms/%s%s", name, suffix ? suffix : "");
	return vmctl_call(g, name, "GET", path, NULL, 30000, reply, NULL);
}

int vmctl_get_print(const struct vmctl *g, const char *name, const char *suffix, const char *key,
		    void (*text)(struct json_object *reply))
{
	struct json_object *r = NULL, *v = NULL;
	int rc = vmctl_get_vm(g, name, suffix, &r);

	if (rc)
		return rc;
	if (!g->json)
		text(r);
	else if (!key)
		vmctl_print_json(r);
	else if (json_object_object_get_ex(r, key, &v))
		vmctl_print_json(v);
	else
		vmctl_print_json(NULL);
	json_object_put(r);
	return 0;
}

int vmctl_vm_dead(const struct vmctl *g, const char *name, char *why, size_t size)
{
	struct json_object *vm = NULL, *v;
	char path[160], *err = NULL;
	const char *state;
	long status = 0;
	int dead = 0;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	if (vmsup_request(g->sock, "GET", path, NULL, 5000, &status, &vm, &err) < 0) {
		free(err);
		return 0;
	}
	if (status == 404) {
		snprintf(why, size, "the VM is gone (destroyed)");
		dead = 1;
	} else if (status == 200 && json_object_object_get_ex(vm, "state", &v) &&
		   (state = json_object_get_string(v)) &&
		   (!strcmp(state, "crashed") || !strcmp(state, "failed") ||
		    !strcmp(state, "stopped") || !strcmp(state, "stopping"))) {
		const char *e =
		    json_object_object_get_ex(vm, "error", &v) ? json_object_get_string(v) : NULL;
		snprintf(why, size, "the VM is %s%s%s", state, e ? ": " : "", e ? e : "");
		dead = 1;
	}
	json_object_put(vm);
	return dead;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	remove(path);
	return 0;
}

void vmctl_rmrf(const char *dir)
{
	if (dir)
		nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}
