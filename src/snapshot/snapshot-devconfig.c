/* The device configuration of a qemu argv, and path quoting for exec: URIs. */
#include "src/snapshot/snapshot.h"
#include "src/snapshot/snapshot-internal.h"
#include "src/qemu/argv.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void snap_seterr(char **err, const char *fmt, ...)
{
	va_list ap;

	if (!err || *err)
		return;
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
}

/* qemu options that take no argument (everything else takes exactly one). */
static const char *const no_arg[] = {
    "-S",	    "-nodefaults",    "-no-user-config", "-no-reboot",
    "-no-shutdown", "-daemonize",     "-snapshot",	 "-enable-kvm",
    "-nographic",   "-no-acpi",	      "-no-hpet",	 "-s",
    "-full-screen", "-no-quit",	      "-preconfig",	 "-only-migratable",
    "-win2k-hack",  "-no-fd-bootchk", "-old-param",	 NULL};

#define STAGE_FSDEV "local,id=" VM_STAGE_TAG ","

/* Not device state, and per VM or per run: dropped with their argument.
 * -blockdev and -add-fd are a disk's backends (src/disk/): a restored VM
 * has its own overlay over the template's disk; its device is kept. */
static const char *const drop_arg[] = {
    "-name",	"-pidfile", "-sandbox", "-runas", "-incoming", "-D",	  "-qmp", "-qmp-pretty",
    "-monitor", "-mon",	    "-chroot",	"-trace", "-blockdev", "-add-fd", NULL};
static const char *const drop_flag[] = {"-S", NULL};

/* Refused: their state is not in the migration stream, or they block it. */
static const struct {
	const char *opt, *why;
} refused[] = {
    {"-drive", "disk contents are not in the snapshot; restored VMs would share one disk"},
    {"-hda", "disk contents are not in the snapshot; restored VMs would share one disk"},
    {"-hdb", "disk contents are not in the snapshot; restored VMs would share one disk"},
    {"-virtfs", "a mounted 9p share blocks migration"},
    {"-fsdev", "a mounted 9p share blocks migration"},
    {"-loadvm", "a VM started from -loadvm cannot be a template"},
    {"-daemonize", "the VM must stay a child of its supervisor"},
};

/* The staging export (src/qemu/stage.h): never mounted before the save. */
static int is_stage_fsdev(const char *opt, const char *val)
{
	return opt && val && !strcmp(opt, "-fsdev") &&
	       !strncmp(val, STAGE_FSDEV, strlen(STAGE_FSDEV));
}

/* Why opt (with its value val, may be NULL) cannot be in a template, or NULL. */
static const char *refused_why(const char *opt, const char *val)
{
	if (is_stage_fsdev(opt, val))
		return NULL;
	for (size_t r = 0; r < sizeof(refused) / sizeof(refused[0]); r++)
		if (!strcmp(opt, refused[r].opt))
			return refused[r].why;
	return NULL;
}

static int in(const char *const *set, const char *s)
{
	for (; *set; set++)
		if (!strcmp(*set, s))
			return 1;
	return 0;
}

/*
 * Rewrite one option value "k=v,k=v" (qemu escapes a comma in a value as
 * ",,"): path=... and hostfwd=... become "*", as do the file of a
 * "-serial file:X" and the host port of a legacy "-qmp unix:X".
 */
static char *normalize_value(const char *opt, const char *val)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;
	const char *p = val;

	if (!strcmp(opt, "-serial") || !strcmp(opt, "-parallel")) {
		const char *c = strchr(val, ':');
		if (c && (!strncmp(val, "file:", 5) || !strncmp(val, "unix:", 5) ||
			  !strncmp(val, "pipe:", 5))) {
			if (asprintf(&out, "%.*s*", (int)(c - val) + 1, val) < 0)
				return NULL;
			return out;
		}
		return strdup(val);
	}
	if (!(f = open_memstream(&out, &len)))
		return NULL;
	while (*p) {
		/* one component, up to an unescaped comma */
		const char *start = p;
		size_t n;
		while (*p) {
			if (*p == ',' && p[1] == ',') {
				p += 2;
				continue;
			}
			if (*p == ',')
				break;
			p++;
		}
		n = (size_t)(p - start);
		if ((n >= 5 && !strncmp(start, "path=", 5)) ||
		    /* the template maps its RAM file shared, restored VMs private */
		    (n >= 9 && !strncmp(start, "mem-path=", 9)) ||
		    (n >= 6 && !strncmp(start, "share=", 6)) ||
		    (n >= 8 && !strncmp(start, "hostfwd=", 8)) ||
		    (n >= 8 && !strncmp(start, "logfile=", 8)))
			fprintf(f, "%.*s*", (int)(strchr(start, '=') - start) + 1, start);
		else
			fwrite(start, 1, n, f);
		if (*p == ',') {
			fputc(',', f);
			p++;
		}
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

struct json_object *snap_devconfig(const char *const *argv, char **err)
{
	struct json_object *a;

	if (!argv || !argv[0]) {
		snap_seterr(err, "empty qemu command line");
		return NULL;
	}
	if (!(a = json_object_new_array()))
		goto oom;
	for (size_t i = 1; argv[i]; i++) {
		const char *opt = argv[i], *val = NULL, *why;
		char *norm;

		/* "--opt" is the same as "-opt" to qemu */
		char o[64];
		if (opt[0] == '-' && opt[1] == '-')
			opt++;
		if (opt[0] != '-') {
			snap_seterr(err, "unexpected argument '%s' in the qemu command line",
				    argv[i]);
			goto fail;
		}
		snprintf(o, sizeof(o), "%s", opt);
		if ((why = refused_why(o, argv[i + 1]))) {
			snap_seterr(err, "cannot make a template of a VM with %s: %s", o, why);
			goto fail;
		}
		if (in(no_arg, o)) {
			if (in(drop_flag, o))
				continue;
			if (json_object_array_add(a, json_object_new_string(o)))
				goto oom;
			continue;
		}
		val = argv[++i];
		if (!val) {
			snap_seterr(err, "option %s has no argument", o);
			goto fail;
		}
		if (in(drop_arg, o))
			continue;
		if (!(norm = normalize_value(o, val)))
			goto oom;
		if (json_object_array_add(a, json_object_new_string(o)) ||
		    json_object_array_add(a, json_object_new_string(norm))) {
			free(norm);
			goto oom;
		}
		free(norm);
	}
	return a;
oom:
	snap_seterr(err, "out of memory");
fail:
	json_object_put(a);
	return NULL;
}

static const char *at(struct json_object *a, size_t i)
{
	struct json_object *v = json_object_array_get_idx(a, i);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* The option starting at i (an option and, unless it is a flag, its value). */
static void describe(struct json_object *a, size_t i, char *buf, size_t len)
{
	const char *o = at(a, i), *v;

	if (!o) {
		snprintf(buf, len, "nothing");
		return;
	}
	v = (o[0] == '-' && !in(no_arg, o)) ? at(a, i + 1) : NULL;
	snprintf(buf, len, "'%s%s%s'", o, v ? " " : "", v ? v : "");
}

/*
 * What a snapshot needs of a virtio-net device: all but mac= (the stream
 * carries the guest's MAC, which a clone on a bridge then changes: see
 * snapshot.h). NULL: compare the value as it is.
 */
static char *nic_key(const char *opt, const char *val)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	if (strcmp(opt, "-device") || strncmp(val, "virtio-net", 10))
		return NULL;
	if (!(f = open_memstream(&out, &len)))
		return NULL;
	/* no comma in a value of these (ids, a MAC, flags) */
	for (const char *p = val; *p;) {
		size_t n = strcspn(p, ",");
		if (strncmp(p, "mac=", 4))
			fprintf(f, "%.*s,", (int)n, p);
		p += n + (p[n] == ',');
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

static bool same_value(const char *opt, const char *a, const char *b)
{
	char *ka, *kb;
	bool same;

	if (!strcmp(a, b))
		return true;
	ka = nic_key(opt, a);
	kb = nic_key(opt, b);
	same = ka && kb && !strcmp(ka, kb);
	free(ka);
	free(kb);
	return same;
}

static size_t optlen(const char *o)
{
	return o && o[0] == '-' && !in(no_arg, o) ? 2 : 1;
}

int snap_devconfig_compare(struct json_object *tmpl, struct json_object *vm, char **err)
{
	size_t nt, nv, i = 0;
	char dt[512], dv[512];

	if (!json_object_is_type(tmpl, json_type_array) ||
	    !json_object_is_type(vm, json_type_array)) {
		snap_seterr(err, "device configuration is not a JSON array");
		return -1;
	}
	nt = json_object_array_length(tmpl);
	nv = json_object_array_length(vm);
	/* option by option: equal prefixes keep both arrays' boundaries aligned */
	for (; i < nt && i < nv; i += optlen(at(tmpl, i))) {
		size_t k = optlen(at(tmpl, i)), j;
		for (j = 0; j < k; j++) {
			const char *a = at(tmpl, i + j), *b = at(vm, i + j);
			if (!a || !b || (j ? !same_value(at(tmpl, i), a, b) : strcmp(a, b) != 0))
				break;
		}
		if (j < k)
			break;
	}
	if (i >= nt && i >= nv)
		return 0;
	describe(tmpl, i, dt, sizeof(dt));
	describe(vm, i, dv, sizeof(dv));
	snap_seterr(err,
		    "device configuration differs from the template's (a snapshot only loads into "
		    "identical devices): template has %s where this VM has %s",
		    dt, dv);
	return -1;
}

const char *snap_devconfig_mac(struct json_object *dc, char *buf, size_t len)
{
	size_t n = json_object_is_type(dc, json_type_array) ? json_object_array_length(dc) : 0;

	for (size_t i = 0; i + 1 < n; i++) {
		const char *o = at(dc, i), *v = at(dc, i + 1), *m;
		if (!o || !v || strcmp(o, "-device") || strncmp(v, "virtio-net", 10))
			continue;
		if ((m = strstr(v, ",mac=")) || (m = strstr(v, "mac="))) {
			m = strchr(m, '=') + 1;
			snprintf(buf, len, "%.*s", (int)strcspn(m, ","), m);
			return buf;
		}
	}
	return NULL;
}

int snap_devconfig_has_device(struct json_object *dc, const char *driver)
{
	size_t n = json_object_is_type(dc, json_type_array) ? json_object_array_length(dc) : 0,
	       len = strlen(driver);

	for (size_t i = 0; i + 1 < n; i++) {
		const char *o = at(dc, i), *v = at(dc, i + 1);
		if (o && v && !strcmp(o, "-device") && !strncmp(v, driver, len) &&
		    (v[len] == '\0' || v[len] == ','))
			return 1;
	}
	return 0;
}

int snap_devconfig_has_stage(struct json_object *dc)
{
	size_t n = json_object_is_type(dc, json_type_array) ? json_object_array_length(dc) : 0;

	for (size_t i = 0; i + 1 < n; i++)
		if (is_stage_fsdev(at(dc, i), at(dc, i + 1)))
			return 1;
	return 0;
}

char *snap_shell_quote(const char *path, char **err)
{
	static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				   "0123456789 /._+,:@%=-";
	char *q;

	if (!path || path[0] != '/') {
		snap_seterr(err, "state file path must be absolute");
		return NULL;
	}
	if (path[strspn(path, safe)]) {
		snap_seterr(
		    err,
		    "state file path '%s' has a character qemu's exec: shell cannot be given "
		    "safely (allowed: letters, digits, space and /._+,:@%%=-)",
		    path);
		return NULL;
	}
	if (asprintf(&q, "'%s'", path) < 0) {
		snap_seterr(err, "out of memory");
		return NULL;
	}
	return q;
}
