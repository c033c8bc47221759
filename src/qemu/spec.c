#include "src/qemu/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/util/err.h"
#include "src/util/name.h"

static const char *const known[] = {"name", "mem_mib", "cpus", "accel", "kernel", "initrd",
				    "append", "disk", "shares", "restart", "start", "guest",
				    "autostart", "disk_mode", "disk_format", "disks", "net",
				    /* the limits module's (its create op reads them) */
				    "pin", "pin_mode", "vcpu_pin", "emulator_pin"};

static int get_str(struct json_object *j, const char *key, char **out, char **err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return vmsup_err(err, "'%s' must be a string", key);
	if (memchr(json_object_get_string(v), '\0', json_object_get_string_len(v)))
		return vmsup_err(err, "'%s' contains a NUL byte", key);
	if (!(*out = strdup(json_object_get_string(v))))
		return vmsup_err(err, "out of memory");
	return 0;
}

static int get_uint(struct json_object *j, const char *key, unsigned min, unsigned max,
		    unsigned *out, char **err)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return vmsup_err(err, "'%s' must be an integer", key);
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return vmsup_err(err, "'%s' is %lld, must be in %u..%u", key, (long long)n, min,
				 max);
	*out = (unsigned)n;
	return 0;
}

static int get_bool(struct json_object *j, const char *key, bool *out, char **err)
{
	struct json_object *v;

	if (!json_object_object_get_ex(j, key, &v) || json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return vmsup_err(err, "'%s' must be true or false", key);
	*out = json_object_get_boolean(v);
	return 0;
}

/* A file qemu will open: absolute, a regular file, readable by us. */
static int check_file(const char *key, const char *path, char **err)
{
	struct stat st;

	if (path[0] != '/')
		return vmsup_err(err, "'%s': '%s' is not an absolute path", key, path);
	if (stat(path, &st) < 0)
		return vmsup_err(err, "'%s': %s: %s", key, path, strerror(errno));
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return vmsup_err(err, "'%s': %s: not a regular file", key, path);
	if (access(path, R_OK) < 0)
		return vmsup_err(err, "'%s': %s: %s", key, path, strerror(errno));
	return 0;
}

/* One of words (NULL-terminated), or absent. */
static int check_word(const char *key, const char *v, const char *const *words, char **err)
{
	if (!v)
		return 0;
	for (size_t i = 0; words[i]; i++)
		if (!strcmp(v, words[i]))
			return 0;
	return vmsup_err(err, "'%s': '%s' is not one of %s, %s", key, v, words[0], words[1]);
}

/* The image itself is the disk module's to check, as the caller
 * (src/disk/): here only what the JSON alone can tell. */
static int check_disk(struct vm_spec *s, char **err)
{
	static const char *const modes[] = {"overlay", "persistent", NULL};
	static const char *const formats[] = {"raw", "qcow2", NULL};

	if (!s->disk && (s->disk_mode || s->disk_format))
		return vmsup_err(err, "'disk_mode' and 'disk_format' need a 'disk'");
	if (s->disk && s->disk[0] != '/')
		return vmsup_err(err, "'disk': '%s' is not an absolute path", s->disk);
	if (check_word("disk_mode", s->disk_mode, modes, err) ||
	    check_word("disk_format", s->disk_format, formats, err))
		return -1;
	if (s->disk && !s->disk_mode && !(s->disk_mode = strdup("overlay")))
		return vmsup_err(err, "out of memory");
	return 0;
}

static int get_data_disk(struct json_object *e, struct vm_data_disk *dd, char **err)
{
	static const char *const modes[] = {"overlay", "persistent", NULL};
	static const char *const formats[] = {"raw", "qcow2", NULL};

	if (!json_object_is_type(e, json_type_object))
		return vmsup_err(err, "must be an object");
	json_object_object_foreach(e, k, v)
	{
		(void)v;
		if (strcmp(k, "path") && strcmp(k, "readonly") && strcmp(k, "mode") &&
		    strcmp(k, "format"))
			return vmsup_err(err, "unknown field '%s'", k);
	}
	if (get_str(e, "path", &dd->path, err) || get_str(e, "mode", &dd->mode, err) ||
	    get_str(e, "format", &dd->format, err) || get_bool(e, "readonly", &dd->readonly, err))
		return -1;
	if (!dd->path)
		return vmsup_err(err, "'path' is required");
	if (dd->path[0] != '/')
		return vmsup_err(err, "'%s' is not an absolute path", dd->path);
	if (check_word("mode", dd->mode, modes, err) ||
	    check_word("format", dd->format, formats, err))
		return -1;
	if (dd->readonly && dd->mode && !strcmp(dd->mode, "persistent"))
		return vmsup_err(err, "'readonly' and mode 'persistent' exclude each other");
	if (!dd->mode && !(dd->mode = strdup("overlay")))
		return vmsup_err(err, "out of memory");
	return 0;
}

static int get_data_disks(struct json_object *j, struct vm_spec *s, char **err)
{
	struct json_object *arr;
	size_t n;

	if (!json_object_object_get_ex(j, "disks", &arr) ||
	    json_object_is_type(arr, json_type_null))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return vmsup_err(err, "'disks' must be an array");
	n = json_object_array_length(arr);
	if (n > VM_DATA_DISKS_MAX)
		return vmsup_err(err, "'disks': at most %u data disks", VM_DATA_DISKS_MAX);
	if (n && !(s->disks = calloc(n, sizeof(*s->disks))))
		return vmsup_err(err, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char *why = NULL;
		s->ndisks = i + 1;
		if (get_data_disk(json_object_array_get_idx(arr, i), &s->disks[i], &why)) {
			vmsup_err(err, "'disks[%zu]': %s", i, why);
			free(why);
			return -1;
		}
	}
	return 0;
}

/* A share qemu will export: a directory. */
static int check_share_dir(size_t i, const char *path, char **err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return vmsup_err(err, "'shares[%zu]': %s: %s", i, path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return vmsup_err(err, "'shares[%zu]': %s: not a directory", i, path);
	return 0;
}

static int get_shares(struct json_object *j, struct vm_spec *s, bool files, char **err)
{
	struct json_object *arr;
	size_t n;

	if (!json_object_object_get_ex(j, "shares", &arr) ||
	    json_object_is_type(arr, json_type_null))
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return vmsup_err(err, "'shares' must be an array");
	n = json_object_array_length(arr);
	if (n > 16)
		return vmsup_err(err, "'shares': at most 16 shares");
	if (n && !(s->shares = calloc(n, sizeof(*s->shares))))
		return vmsup_err(err, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);
		struct vm_share *sh = &s->shares[i];
		char *why = NULL;

		s->nshares = i + 1;
		if (!json_object_is_type(e, json_type_object))
			return vmsup_err(err, "'shares[%zu]' must be an object", i);
		json_object_object_foreach(e, k, v)
		{
			(void)v;
			if (strcmp(k, "path") && strcmp(k, "readonly"))
				return vmsup_err(err, "'shares[%zu]': unknown field '%s'", i, k);
		}
		if (get_str(e, "path", &sh->path, &why) ||
		    get_bool(e, "readonly", &sh->readonly, &why)) {
			vmsup_err(err, "'shares[%zu]': %s", i, why);
			free(why);
			return -1;
		}
		if (!sh->path)
			return vmsup_err(err, "'shares[%zu]': 'path' is required", i);
		if (sh->path[0] != '/')
			return vmsup_err(err, "'shares[%zu]': '%s' is not an absolute path", i,
					 sh->path);
		/* the path is also passed on the kernel command line */
		if (strpbrk(sh->path, " \t\n\"'"))
			return vmsup_err(err, "'shares[%zu]': '%s' contains blanks or quotes", i,
					 sh->path);
		if (files && check_share_dir(i, sh->path, err))
			return -1;
	}
	return 0;
}

/* files: check the files the spec names against the filesystem now */
static int spec_parse(struct json_object *j, const struct vmsup_config *cfg, struct vm_spec *s,
		      bool files, char **err)
{
	char *why = NULL;

	memset(s, 0, sizeof(*s));
	s->mem_mib = cfg->mem_mib;
	s->cpus = cfg->cpus;
	s->start = true;
	s->guest = true;
	if (!j || !json_object_is_type(j, json_type_object))
		return vmsup_err(err, "the VM spec must be a JSON object");
	json_object_object_foreach(j, key, val)
	{
		bool ok = false;
		(void)val;
		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			ok |= strcmp(key, known[i]) == 0;
		if (!ok)
			return vmsup_err(err, "unknown field '%s'", key);
	}
	if (get_str(j, "name", &s->name, err) ||
	    get_uint(j, "mem_mib", VM_MEM_MIN, VM_MEM_MAX, &s->mem_mib, err) ||
	    get_uint(j, "cpus", 1, VM_CPUS_MAX, &s->cpus, err) ||
	    get_str(j, "accel", &s->accel, err) || get_str(j, "kernel", &s->kernel, err) ||
	    get_str(j, "initrd", &s->initrd, err) || get_str(j, "append", &s->append, err) ||
	    get_str(j, "disk", &s->disk, err) || get_str(j, "disk_mode", &s->disk_mode, err) ||
	    get_str(j, "disk_format", &s->disk_format, err) ||
	    get_str(j, "restart", &s->restart, err) || get_bool(j, "start", &s->start, err) ||
	    get_bool(j, "guest", &s->guest, err) || get_bool(j, "autostart", &s->autostart, err) ||
	    get_shares(j, s, files, err) || get_data_disks(j, s, err) ||
	    vm_net_from_json(j, cfg, &s->net, err))
		return -1;
	if (!s->name)
		return vmsup_err(err, "'name' is required");
	if (vmsup_name_check(s->name, &why)) {
		vmsup_err(err, "'name': %s", why);
		free(why);
		return -1;
	}
	if (!s->accel && !(s->accel = strdup(cfg->accel)))
		return vmsup_err(err, "out of memory");
	if (!vmsup_accel_valid(s->accel))
		return vmsup_err(err, "'accel': '%s' is not one of kvm, tcg, kvm:tcg", s->accel);
	if (!s->restart && !(s->restart = strdup("never")))
		return vmsup_err(err, "out of memory");
	if (strcmp(s->restart, "never") && strcmp(s->restart, "on-failure") &&
	    strcmp(s->restart, "always"))
		return vmsup_err(err, "'restart': '%s' is not one of never, on-failure, always",
				 s->restart);
	if ((s->initrd || s->append) && !s->kernel &&
	    !(s->guest && !s->disk && cfg->default_kernel))
		return vmsup_err(err, "'initrd' and 'append' need a 'kernel'");
	if (s->ndisks && !s->kernel && !s->disk && !(s->guest && cfg->default_kernel))
		return vmsup_err(err, "'disks' need a guest (a 'kernel' or a 'disk')");
	if (!s->guest && (s->kernel || s->disk))
		return vmsup_err(err, "'guest': false excludes 'kernel' and 'disk'");
	if (s->guest && !s->kernel && !s->disk && cfg->default_kernel) {
		if (!(s->kernel = strdup(cfg->default_kernel)))
			return vmsup_err(err, "out of memory");
		if (!s->initrd && cfg->default_initrd && !(s->initrd = strdup(cfg->default_initrd)))
			return vmsup_err(err, "out of memory");
		if (!s->append && cfg->default_append && !(s->append = strdup(cfg->default_append)))
			return vmsup_err(err, "out of memory");
	}
	if (files && s->kernel && check_file("kernel", s->kernel, err))
		return -1;
	if (files && s->initrd && check_file("initrd", s->initrd, err))
		return -1;
	return check_disk(s, err);
}

int vm_spec_from_json(struct json_object *j, const struct vmsup_config *cfg, struct vm_spec *s,
		      char **err)
{
	return spec_parse(j, cfg, s, true, err);
}

int vm_spec_from_stored(struct json_object *j, const struct vmsup_config *cfg, struct vm_spec *s,
			char **err)
{
	return spec_parse(j, cfg, s, false, err);
}

int vm_spec_check_files(const struct vm_spec *s, char **err)
{
	struct stat st;

	if (s->kernel && check_file("kernel", s->kernel, err))
		return -1;
	if (s->initrd && check_file("initrd", s->initrd, err))
		return -1;
	for (size_t i = 0; i < s->nshares; i++)
		if (check_share_dir(i, s->shares[i].path, err))
			return -1;
	/* the images are opened as the caller by src/disk/: here only
	 * whether they are still there, so a start names what went */
	if (s->disk && stat(s->disk, &st) < 0)
		return vmsup_err(err, "'disk': %s: %s", s->disk, strerror(errno));
	for (size_t i = 0; i < s->ndisks; i++)
		if (stat(s->disks[i].path, &st) < 0)
			return vmsup_err(err, "'disks[%zu]': %s: %s", i, s->disks[i].path,
					 strerror(errno));
	return 0;
}

static void add_missing(struct json_object *a, const char *what, const char *path)
{
	char *s = NULL;

	if (asprintf(&s, "%s: %s", what, path) >= 0)
		json_object_array_add(a, json_object_new_string(s));
	free(s);
}

struct json_object *vm_spec_missing(const struct vm_spec *s)
{
	struct json_object *a = json_object_new_array();
	struct stat st;
	char what[32];

	if (s->kernel && stat(s->kernel, &st) < 0)
		add_missing(a, "kernel", s->kernel);
	if (s->initrd && stat(s->initrd, &st) < 0)
		add_missing(a, "initrd", s->initrd);
	for (size_t i = 0; i < s->nshares; i++)
		if (stat(s->shares[i].path, &st) < 0 || !S_ISDIR(st.st_mode)) {
			snprintf(what, sizeof(what), "shares[%zu]", i);
			add_missing(a, what, s->shares[i].path);
		}
	if (s->disk && stat(s->disk, &st) < 0)
		add_missing(a, "disk", s->disk);
	for (size_t i = 0; i < s->ndisks; i++)
		if (stat(s->disks[i].path, &st) < 0) {
			snprintf(what, sizeof(what), "disks[%zu]", i);
			add_missing(a, what, s->disks[i].path);
		}
	return a;
}

struct json_object *vm_spec_to_json(const struct vm_spec *s)
{
	struct json_object *o = json_object_new_object(), *sh;

	json_object_object_add(o, "name", json_object_new_string(s->name));
	json_object_object_add(o, "mem_mib", json_object_new_int64(s->mem_mib));
	json_object_object_add(o, "cpus", json_object_new_int64(s->cpus));
	json_object_object_add(o, "accel", json_object_new_string(s->accel));
	if (s->kernel)
		json_object_object_add(o, "kernel", json_object_new_string(s->kernel));
	if (s->initrd)
		json_object_object_add(o, "initrd", json_object_new_string(s->initrd));
	if (s->append)
		json_object_object_add(o, "append", json_object_new_string(s->append));
	if (s->disk) {
		json_object_object_add(o, "disk", json_object_new_string(s->disk));
		json_object_object_add(o, "disk_mode", json_object_new_string(s->disk_mode));
	}
	if (s->disk_format)
		json_object_object_add(o, "disk_format", json_object_new_string(s->disk_format));
	sh = json_object_new_array();
	for (size_t i = 0; i < s->nshares; i++) {
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "path", json_object_new_string(s->shares[i].path));
		json_object_object_add(e, "readonly",
				       json_object_new_boolean(s->shares[i].readonly));
		json_object_array_add(sh, e);
	}
	json_object_object_add(o, "shares", sh);
	if (s->ndisks) {
		struct json_object *ds = json_object_new_array();
		for (size_t i = 0; i < s->ndisks; i++) {
			struct json_object *e = json_object_new_object();
			json_object_object_add(e, "path", json_object_new_string(s->disks[i].path));
			json_object_object_add(e, "mode", json_object_new_string(s->disks[i].mode));
			if (s->disks[i].format)
				json_object_object_add(e, "format",
						       json_object_new_string(s->disks[i].format));
			json_object_object_add(e, "readonly",
					       json_object_new_boolean(s->disks[i].readonly));
			json_object_array_add(ds, e);
		}
		json_object_object_add(o, "disks", ds);
	}
	json_object_object_add(o, "restart", json_object_new_string(s->restart));
	json_object_object_add(o, "start", json_object_new_boolean(s->start));
	json_object_object_add(o, "guest", json_object_new_boolean(s->guest));
	json_object_object_add(o, "autostart", json_object_new_boolean(s->autostart));
	json_object_object_add(o, "net", vm_net_to_json(&s->net));
	return o;
}

void vm_spec_release(struct vm_spec *s)
{
	free(s->name);
	free(s->accel);
	free(s->kernel);
	free(s->initrd);
	free(s->append);
	free(s->disk);
	free(s->disk_format);
	free(s->disk_mode);
	free(s->restart);
	free(s->ram_file);
	free(s->kernel_qemu);
	free(s->initrd_qemu);
	for (size_t i = 0; i < s->nshares; i++) {
		free(s->shares[i].path);
		free(s->shares[i].qemu_path);
	}
	free(s->shares);
	for (size_t i = 0; i < s->ndisks; i++) {
		free(s->disks[i].path);
		free(s->disks[i].mode);
		free(s->disks[i].format);
	}
	free(s->disks);
	vm_net_release(&s->net);
	memset(s, 0, sizeof(*s));
}
