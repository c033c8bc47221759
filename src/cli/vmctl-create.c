/* vmctl create, and the VM-spec options it shares with run. */
#include "config.h"

#include "src/cli/vmctl.h"
#include "src/util/bounds.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The daemon runs elsewhere: paths go to it absolute and checked here,
 * where a mistake can still be reported against the option. */
static int add_path(const char *cmd, struct json_object *spec, const char *key, const char *arg,
		    int want_dir, char **abs_out)
{
	char *abs = realpath(arg, NULL);
	struct stat st;

	if (!abs)
		return vmctl_fail(cmd, "--%s %s: %s", key, arg, strerror(errno));
	if (stat(abs, &st) < 0 || (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))) {
		vmctl_fail(cmd, "--%s %s: not a %s", key, arg, want_dir ? "directory" : "file");
		free(abs);
		return VMCTL_EXIT_ERR;
	}
	if (abs_out)
		*abs_out = abs;
	else {
		json_object_object_add(spec, key, json_object_new_string(abs));
		free(abs);
	}
	return 0;
}

/* The words a --disk may end in (":ro,raw"); other colons are the file's. */
static const char *const disk_words[] = {"ro", "persistent", "raw", "qcow2", NULL};

static bool disk_word(const char *w, size_t n)
{
	for (size_t i = 0; disk_words[i]; i++)
		if (strlen(disk_words[i]) == n && !strncmp(w, disk_words[i], n))
			return true;
	return false;
}

/* Does the text after the last colon consist of disk words only? */
static bool disk_opts(const char *o)
{
	for (;;) {
		size_t n = strcspn(o, ",");
		if (!n || !disk_word(o, n))
			return false;
		if (!o[n])
			return true;
		o += n + 1;
	}
}

/* The first --disk is the root disk, the others data disks ("disks"). */
static int add_disk(const char *cmd, struct json_object *spec, const char *arg)
{
	char *file = strdup(arg), *colon, *abs = NULL, *o;
	struct json_object *disks, *d = NULL;
	bool root = !json_object_object_get_ex(spec, "disk", NULL);
	int rc;

	if (!file)
		return vmctl_fail(cmd, "out of memory");
	colon = strrchr(file, ':');
	o = colon && disk_opts(colon + 1) ? colon + 1 : NULL;
	if (o)
		*colon = '\0';
	if ((rc = add_path(cmd, spec, "disk", file, 0, &abs)))
		goto out;
	d = root ? spec : json_object_new_object();
	json_object_object_add(d, root ? "disk" : "path", json_object_new_string(abs));
	for (char *w = o ? strtok(o, ",") : NULL; w; w = strtok(NULL, ",")) {
		if (!strcmp(w, "ro") && root) {
			rc = vmctl_usage_error(cmd,
					       "--disk %s: the first --disk is the root disk, "
					       "its writes go to an overlay; :ro is for data disks",
					       arg);
			goto out;
		}
		if (!strcmp(w, "ro"))
			json_object_object_add(d, "readonly", json_object_new_boolean(1));
		else if (!strcmp(w, "persistent"))
			json_object_object_add(d, root ? "disk_mode" : "mode",
					       json_object_new_string(w));
		else
			json_object_object_add(d, root ? "disk_format" : "format",
					       json_object_new_string(w));
	}
	if (!root) {
		if (!json_object_object_get_ex(spec, "disks", &disks)) {
			disks = json_object_new_array();
			json_object_object_add(spec, "disks", disks);
		}
		json_object_array_add(disks, d);
		d = NULL;
	}
out:
	if (d && d != spec)
		json_object_put(d);
	free(abs);
	free(file);
	return rc;
}

static int add_share(const char *cmd, struct json_object *spec, const char *arg)
{
	struct json_object *shares, *s;
	size_t n = strlen(arg);
	char *dir = strdup(arg), *abs = NULL;
	int ro = 0, rc;

	if (!dir)
		return vmctl_fail(cmd, "out of memory");
	/* Only a trailing :ro / :rw is an option, so other colons stay part
	 * of the directory name. */
	if (n > 3 && (strcmp(arg + n - 3, ":ro") == 0 || strcmp(arg + n - 3, ":rw") == 0)) {
		ro = arg[n - 1] == 'o';
		dir[n - 3] = '\0';
	}
	rc = add_path(cmd, spec, "share", dir, 1, &abs);
	free(dir);
	if (rc)
		return rc;
	if (!json_object_object_get_ex(spec, "shares", &shares)) {
		shares = json_object_new_array();
		json_object_object_add(spec, "shares", shares);
	}
	s = json_object_new_object();
	json_object_object_add(s, "path", json_object_new_string(abs));
	json_object_object_add(s, "readonly", json_object_new_boolean(ro));
	json_object_array_add(shares, s);
	free(abs);
	return 0;
}

/* "0:2,1:3" (or "0:0,2,1:1": vCPU 0 on 0 and 2) into "vcpu_pin". */
static int add_pin_map(const char *cmd, const char *arg, struct json_object *body)
{
	struct json_object *map = json_object_new_object(), *old;
	char *s = strdup(arg), *save = NULL, *list, vcpu[8] = "";
	int rc = 0;

	if (!s || !map) {
		rc = vmctl_fail(cmd, "out of memory");
		goto out;
	}
	for (char *t = strtok_r(s, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':');

		if (!colon && !vcpu[0]) {
			rc = vmctl_usage_error(cmd, "--pin %s: '%s' comes before any VCPU:CPUS",
					       arg, t);
		} else if (!colon) {
			json_object_object_get_ex(map, vcpu, &old);
			if (asprintf(&list, "%s,%s", json_object_get_string(old), t) < 0) {
				rc = vmctl_fail(cmd, "out of memory");
				break;
			}
			json_object_object_add(map, vcpu, json_object_new_string(list));
			free(list);
		} else if (colon == t || (size_t)(colon - t) >= sizeof(vcpu) || !colon[1] ||
			   strchr(colon + 1, ':') ||
			   strspn(t, "0123456789") != (size_t)(colon - t)) {
			rc = vmctl_usage_error(cmd, "--pin %s: '%s' is not VCPU:CPUS (like 1:3)",
					       arg, t);
		} else {
			*colon = '\0';
			if (json_object_object_get_ex(map, t, NULL)) {
				rc = vmctl_usage_error(cmd, "--pin %s: vCPU %s is named twice", arg,
						       t);
				break;
			}
			strcpy(vcpu, t);
			json_object_object_add(map, vcpu, json_object_new_string(colon + 1));
		}
	}
	if (!rc) {
		json_object_object_add(body, "vcpu_pin", map);
		map = NULL;
	}
out:
	json_object_put(map);
	free(s);
	return rc;
}

int vmctl_pin_opt(const char *cmd, const char *key, const char *arg, struct json_object *body)
{
	bool map_ok = !strcmp(key, "pin");
	size_t n = strlen(arg);

	if (!n || !strcmp(arg, "none")) {
		json_object_object_add(body, key, NULL);
		return 0;
	}
	if (strspn(arg, map_ok ? "0123456789,-:" : "0123456789,-") != n || arg[0] == ',' ||
	    arg[n - 1] == ',' || strstr(arg, ",,"))
		return vmctl_usage_error(cmd, "--%s: '%s' is not a CPU list like 0-1,3%s",
					 map_ok ? "pin" : "emulator-pin", arg,
					 map_ok ? " or a vCPU map like 0:2,1:3" : "");
	if (strchr(arg, ':'))
		return add_pin_map(cmd, arg, body);
	json_object_object_add(body, key, json_object_new_string(arg));
	return 0;
}

int vmctl_spec_opt(const char *cmd, int opt, const char *arg, struct json_object *spec)
{
	long v;

	switch (opt) {
	case VMCTL_OPT_MEM:
		if (vmctl_parse_mib(arg, VMSUP_MEM_MIN_MIB, VMSUP_MEM_MAX_MIB, &v) < 0)
			return vmctl_usage_error(cmd,
						 "--mem: '%s' is not a size in %u..%u MiB "
						 "(a number of MiB, or with M or G)",
						 arg, VMSUP_MEM_MIN_MIB, VMSUP_MEM_MAX_MIB);
		json_object_object_add(spec, "mem_mib", json_object_new_int64(v));
		return 0;
	case VMCTL_OPT_CPUS:
		if (vmctl_parse_long(arg, 1, VMSUP_CPUS_MAX, &v) < 0)
			return vmctl_usage_error(cmd, "--cpus: '%s' is not a count (1..%u)", arg,
						 VMSUP_CPUS_MAX);
		json_object_object_add(spec, "cpus", json_object_new_int64(v));
		return 0;
	case VMCTL_OPT_KERNEL:
		return add_path(cmd, spec, "kernel", arg, 0, NULL);
	case VMCTL_OPT_INITRD:
		return add_path(cmd, spec, "initrd", arg, 0, NULL);
	case VMCTL_OPT_DISK:
		return add_disk(cmd, spec, arg);
	case VMCTL_OPT_DISK_MODE:
		if (strcmp(arg, "overlay") && strcmp(arg, "persistent"))
			return vmctl_usage_error(
			    cmd, "--disk-mode: '%s' is not overlay or persistent", arg);
		json_object_object_add(spec, "disk_mode", json_object_new_string(arg));
		return 0;
	case VMCTL_OPT_APPEND:
		json_object_object_add(spec, "append", json_object_new_string(arg));
		return 0;
	case VMCTL_OPT_ACCEL:
		if (strcmp(arg, "kvm") && strcmp(arg, "tcg") && strcmp(arg, "kvm:tcg"))
			return vmctl_usage_error(cmd, "--accel: '%s' is not kvm, tcg or kvm:tcg",
						 arg);
		json_object_object_add(spec, "accel", json_object_new_string(arg));
		return 0;
	case VMCTL_OPT_SHARE:
		return add_share(cmd, spec, arg);
	case VMCTL_OPT_RESTART:
		json_object_object_add(spec, "restart", json_object_new_string(arg));
		return 0;
	case VMCTL_OPT_NO_GUEST:
		json_object_object_add(spec, "guest", json_object_new_boolean(0));
		return 0;
	case VMCTL_OPT_PIN:
		return vmctl_pin_opt(cmd, "pin", arg, spec);
	case VMCTL_OPT_EMULATOR_PIN:
		return vmctl_pin_opt(cmd, "emulator_pin", arg, spec);
	}
	return vmctl_net_opt(cmd, opt, arg, spec);
}

static int create_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	int rc = vmctl_spec_opt(cmd, opt, arg, ctx);

	if (rc >= 0)
		return rc;
	if (opt == VMCTL_OPT_NO_START) {
		json_object_object_add(ctx, "start", json_object_new_boolean(0));
		return 0;
	}
	if (opt == VMCTL_OPT_FIRST_FREE) { /* --autostart */
		json_object_object_add(ctx, "autostart", json_object_new_boolean(1));
		return 0;
	}
	return VMCTL_EXIT_USAGE;
}

int vmctl_cmd_create(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {VMCTL_SPEC_LONGOPTS,
					   VMCTL_PIN_LONGOPTS,
					   {"no-start", no_argument, NULL, VMCTL_OPT_NO_START},
					   {"autostart", no_argument, NULL, VMCTL_OPT_FIRST_FREE},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct json_object *spec = json_object_new_object(), *vm = NULL, *st;
	struct vmctl_args a;
	const char *name;
	int rc;

	if (vmctl_create_has_from(argc, argv)) {
		json_object_put(spec);
		return vmctl_cmd_create_from(g, argc, argv);
	}
	rc = vmctl_parse("create", argc, argv, "h", lo, 1, 0, create_opt, spec, &a);
	if (rc)
		goto out;
	if (a.npos != 1) {
		rc = vmctl_usage_error("create", "missing NAME");
		goto out;
	}
	name = a.pos[0];
	if (!vmctl_valid_name(name)) {
		rc = vmctl_usage_error("create",
				       "'%s' is not a valid VM name "
				       "([A-Za-z0-9][A-Za-z0-9_.-]{0,62})",
				       name);
		goto out;
	}
	json_object_object_add(spec, "name", json_object_new_string(name));
	rc = vmctl_call(g, name, "POST", "/v1/vms", spec, 0, &vm, NULL);
	if (rc)
		goto out;
	if (g->json)
		vmctl_print_json(vm);
	if (vm && json_object_object_get_ex(vm, "state", &st) &&
	    strcmp(json_object_get_string(st), "failed") == 0) {
		char b[256];

		rc = vmctl_fail(name, "failed: %s", vmctl_field(vm, "error", b, sizeof(b)));
		goto out;
	}
	if (!g->json && !g->quiet) {
		char b[64];

		printf("%s: %s\n", name, vmctl_field(vm, "state", b, sizeof(b)));
	}
out:
	json_object_put(vm);
	json_object_put(spec);
	return rc < 0 ? 0 : rc;
}
