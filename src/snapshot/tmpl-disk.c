/* A template's disk: see tmpl-disk.h. */
#include "src/snapshot/tmpl-disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/qemu/spawn.h"
#include "src/snapshot/tmpl-hash.h"
#include "src/util/err.h"

#define QEMU_IMG "qemu-img"

static long long ns(const struct timespec *t)
{
	return (long long)t->tv_sec * 1000000000LL + t->tv_nsec;
}

int tmpl_disk_begin(const struct vmsup_peer *peer, const struct vm_spec *spec, const char *tmp_dir,
		    struct tmpl_disk *td, const char **cls, char **err)
{
	const struct disk_layer *top;

	memset(td, 0, sizeof(*td));
	if (!spec->disk)
		return 0;
	if (spec->disk_mode && strcmp(spec->disk_mode, "overlay")) {
		*cls = VMSUP_EC_INVALID;
		return vmsup_err(err,
				 "a template's disk is an overlay: 'disk_mode' %s cannot be "
				 "saved",
				 spec->disk_mode);
	}
	if (disk_chain_open(QEMU_IMG, peer, spec->disk, spec->disk_format, false, &td->chain, cls,
			    err))
		return -1;
	top = &td->chain.l[0];
	if (asprintf(&td->path, "%s/" TMPL_DISK_FILE, tmp_dir) < 0) {
		td->path = NULL;
		*cls = VMSUP_EC_INTERNAL;
		return vmsup_err(err, "out of memory");
	}
	if (disk_overlay_create(QEMU_IMG, td->path, top->path, top->format, top->virtual_size,
				err)) {
		*cls = VMSUP_EC_INTERNAL;
		return -1;
	}
	return 0;
}

int tmpl_disk_argv(struct tmpl_disk *td, char ***argv, int *fds, char **err)
{
	struct disk_attach a = {&td->chain, td->path, false, 0, 3 + VM_SPAWN_DISK_FD};

	if (!td->path)
		return 0;
	if (td->chain.n > VM_SPAWN_FILE_FD - VM_SPAWN_DISK_FD)
		return vmsup_err(err, "a chain of %zu image files; at most %d", td->chain.n,
				 VM_SPAWN_FILE_FD - VM_SPAWN_DISK_FD);
	for (size_t i = 0; i < td->chain.n; i++)
		if ((fds[VM_SPAWN_DISK_FD + i] = dup(td->chain.l[i].fd)) < 0)
			return vmsup_err(err, "dup: %s", strerror(errno));
	return disk_argv(&a, argv, err);
}

static struct json_object *base_json(const struct disk_layer *l, char **err)
{
	struct json_object *e;
	struct stat sb;

	if (fstat(l->fd, &sb) < 0) {
		vmsup_err(err, "%s: %s", l->path, strerror(errno));
		return NULL;
	}
	e = json_object_new_object();
	json_object_object_add(e, "path", json_object_new_string(l->path));
	json_object_object_add(e, "dev", json_object_new_uint64(sb.st_dev));
	json_object_object_add(e, "ino", json_object_new_uint64(sb.st_ino));
	json_object_object_add(e, "bytes", json_object_new_int64(sb.st_size));
	json_object_object_add(e, "mtime_ns", json_object_new_int64(ns(&sb.st_mtim)));
	return e;
}

int tmpl_disk_seal(struct tmpl_disk *td, const char *final_dir, struct json_object *meta,
		   struct json_object *spec_json, char **err)
{
	char hex[TMPL_SHA256_HEX], *final = NULL;
	struct json_object *d, *base;
	struct stat sb;

	if (!td->path)
		return 0;
	/* nothing writes it again: every restored VM has its own overlay */
	if (chmod(td->path, 0400) < 0 || stat(td->path, &sb) < 0)
		return vmsup_err(err, "%s: %s", td->path, strerror(errno));
	if (tmpl_hash_path(td->path, hex, err))
		return -1;
	d = json_object_new_object();
	base = json_object_new_array();
	json_object_object_add(d, "file", json_object_new_string(TMPL_DISK_FILE));
	json_object_object_add(d, "bytes", json_object_new_int64(sb.st_size));
	json_object_object_add(d, "ctime_ns", json_object_new_int64(ns(&sb.st_ctim)));
	json_object_object_add(d, "sha256", json_object_new_string(hex));
	json_object_object_add(d, "base", base);
	json_object_object_add(meta, "disk", d);
	for (size_t i = 0; i < td->chain.n; i++) {
		struct json_object *e = base_json(&td->chain.l[i], err);
		if (!e)
			return -1;
		json_object_array_add(base, e);
	}
	if (asprintf(&final, "%s/" TMPL_DISK_FILE, final_dir) < 0)
		return vmsup_err(err, "out of memory");
	json_object_object_add(spec_json, "disk", json_object_new_string(final));
	json_object_object_add(spec_json, "disk_format", json_object_new_string("qcow2"));
	json_object_object_add(spec_json, "disk_mode", json_object_new_string("overlay"));
	free(final);
	return 0;
}

static long long jint(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

/* A base file as the save saw it: same file, size and modification time. */
static int check_base(const struct tmpl *t, struct json_object *e, char **err)
{
	struct json_object *p;
	struct stat sb;
	const char *path;

	if (!json_object_object_get_ex(e, "path", &p) || !(path = json_object_get_string(p)))
		return vmsup_err(err, "template '%s': meta.json's disk base has no path", t->name);
	if (stat(path, &sb) < 0)
		return vmsup_err(err, "template '%s': its base image %s: %s", t->name, path,
				 strerror(errno));
	if ((unsigned long long)sb.st_dev != (unsigned long long)jint(e, "dev") ||
	    (unsigned long long)sb.st_ino != (unsigned long long)jint(e, "ino") ||
	    sb.st_size != jint(e, "bytes") || ns(&sb.st_mtim) != jint(e, "mtime_ns"))
		return vmsup_err(err,
				 "template '%s': its base image %s changed since the save (the "
				 "template's disk and RAM only match the bytes it had then)",
				 t->name, path);
	return 0;
}

int tmpl_disk_check(const struct tmpl *t, char **err)
{
	struct json_object *d, *base;
	struct stat sb;
	char *path = NULL;
	int rc = 0;

	if (!json_object_object_get_ex(t->meta, "disk", &d))
		return 0;
	if (asprintf(&path, "%s/" TMPL_DISK_FILE, t->dir) < 0)
		return vmsup_err(err, "out of memory");
	if (stat(path, &sb) < 0)
		rc = vmsup_err(err, "template '%s': %s: %s", t->name, path, strerror(errno));
	else if (sb.st_size != jint(d, "bytes") || ns(&sb.st_ctim) != jint(d, "ctime_ns"))
		rc = vmsup_err(err, "template '%s': %s changed since the save", t->name, path);
	free(path);
	if (rc || !json_object_object_get_ex(d, "base", &base) ||
	    !json_object_is_type(base, json_type_array))
		return rc ? rc
			  : vmsup_err(err, "template '%s': meta.json's disk has no base", t->name);
	for (size_t i = 0; i < json_object_array_length(base); i++)
		if (check_base(t, json_object_array_get_idx(base, i), err))
			return -1;
	return 0;
}

void tmpl_disk_free(struct tmpl_disk *td)
{
	disk_chain_free(&td->chain);
	free(td->path);
	td->path = NULL;
}
