/*
 * The disk module: a VM's root disk image checked and opened as the
 * caller at create, a qcow2 overlay of the VM's own in
 * STATE_DIR/vm/NAME/ over it (mode "overlay", the default) or the image
 * written in place (mode "persistent", one VM per image), the
 * descriptors handed to qemu at every start, the overlay removed with
 * the VM.
 */
#include "src/disk/vm-disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/core/supervisor.h"
#include "src/disk/disk.h"
#include "src/qemu/spawn.h"
#include "src/util/err.h"
#include "src/util/log.h"

#define QEMU_IMG "qemu-img"

/* the root disk and the data disks */
#define NDISKS (1 + VM_DATA_DISKS_MAX)

struct one_disk {
	struct disk_chain chain;
	bool persistent, readonly;
	char *overlay; /* NULL when persistent or readonly */
};

struct vm_disk {
	char *dir; /* STATE_DIR/vm/NAME, the overlays' */
	struct one_disk d[NDISKS];
	size_t n;
};

/* What the spec asks of a disk: the root ("disk", index 0) or a data disk
 * ("disks[index - 1]"). */
struct want {
	const char *path, *mode, *format;
	bool readonly;
	unsigned index;
};

/* The spec's disks in qemu's order, the root first; how many. */
static size_t wants(const struct vm_spec *s, struct want w[NDISKS])
{
	size_t n = 0;

	if (s->disk)
		w[n++] = (struct want){s->disk, s->disk_mode, s->disk_format, false, 0};
	for (size_t i = 0; i < s->ndisks && n < NDISKS; i++)
		w[n++] = (struct want){s->disks[i].path, s->disks[i].mode, s->disks[i].format,
				       s->disks[i].readonly, (unsigned)i + 1};
	return n;
}

static bool same_file(const struct disk_layer *a, const struct disk_layer *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* Is layer a of disk x (a writable top, or not) in conflict with layer b of y? */
static bool clash(const struct one_disk *x, size_t a, const struct one_disk *y, size_t b)
{
	bool xw = x->persistent && a == 0, yw = y->persistent && b == 0;
	return (xw || yw) && same_file(&x->chain.l[a], &y->chain.l[b]);
}

/* A persistent image is one disk's alone, in this daemon (qemu's own image
 * locks stand guard against other processes): no other disk of any VM,
 * this one's included, may use it. */
static int check_conflicts(struct vm *vm, const struct vm_disk *d, char **err)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct one_disk *x = &d->d[i];
		for (struct vm *o = vmsup_first(vm->sup); o; o = o->next) {
			const struct vm_disk *od = o == vm ? d : o->disk;
			for (size_t k = 0; od && k < od->n; k++) {
				const struct one_disk *y = &od->d[k];
				if (o == vm && k == i)
					continue;
				for (size_t a = 0; a < x->chain.n; a++)
					for (size_t b = 0; b < y->chain.n; b++)
						if (clash(x, a, y, b))
							return vmsup_err(
							    err,
							    "'disk': %s is in use by VM '%s'; a "
							    "persistent disk is one VM's alone",
							    x->chain.l[a].path, o->spec.name);
			}
		}
	}
	return 0;
}

static int make_dir(struct vm *vm, struct vm_disk *d, char **err)
{
	const char *state_dir = vmsup_config(vm->sup)->state_dir;
	char *top = NULL;
	int rc = -1;

	if (asprintf(&top, "%s/vm", state_dir) < 0 ||
	    asprintf(&d->dir, "%s/%s", top, vm->spec.name) < 0) {
		d->dir = NULL;
		vmsup_err(err, "out of memory");
	} else if (!vm_mkdir(top, 0700, err) && !vm_mkdir(d->dir, 0700, err)) {
		rc = 0;
	}
	free(top);
	return rc;
}

static int make_overlay(struct vm_disk *d, size_t i, unsigned index, char **err)
{
	struct one_disk *x = &d->d[i];

	if (!d->dir)
		return vmsup_err(err, "no directory for the overlays");
	if ((index == 0 ? asprintf(&x->overlay, "%s/root.qcow2", d->dir)
			: asprintf(&x->overlay, "%s/data%u.qcow2", d->dir, index)) < 0) {
		x->overlay = NULL;
		return vmsup_err(err, "out of memory");
	}
	return disk_overlay_create(QEMU_IMG, x->overlay, x->chain.l[0].path, x->chain.l[0].format,
				   x->chain.l[0].virtual_size, err);
}

/* The overlays and their directory (a failed create, or a destroy). */
static void remove_files(const char *name, struct vm_disk *d)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->d[i].overlay && unlink(d->d[i].overlay) < 0 && errno != ENOENT)
			LOG_W(name, "overlay %s: %s", d->d[i].overlay, strerror(errno));
	if (d->dir && rmdir(d->dir) < 0 && errno != ENOENT)
		LOG_W(name, "%s: %s", d->dir, strerror(errno));
}

static void vm_disk_free(struct vm_disk *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		disk_chain_free(&d->d[i].chain);
		free(d->d[i].overlay);
	}
	free(d->dir);
	free(d);
}

static size_t layers(const struct vm_disk *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n; i++)
		n += d->d[i].chain.n;
	return n;
}

/* Read and open every disk as the caller. */
static int open_all(struct vm *vm, const struct vmsup_peer *peer, struct vm_disk *d,
		    const char **cls, char **err)
{
	struct want w[NDISKS];
	size_t n = wants(&vm->spec, w);

	for (size_t i = 0; i < n; i++) {
		struct one_disk *x = &d->d[i];
		x->persistent = w[i].mode && !strcmp(w[i].mode, "persistent");
		x->readonly = w[i].readonly;
		d->n = i + 1;
		if (disk_chain_open(QEMU_IMG, peer, w[i].path, w[i].format, x->persistent,
				    &x->chain, cls, err))
			return -1;
	}
	if (layers(d) > VM_SPAWN_FILE_FD - VM_SPAWN_DISK_FD) {
		*cls = VMSUP_EC_INVALID;
		return vmsup_err(err, "'disks': %zu image files in all; at most %d", layers(d),
				 VM_SPAWN_FILE_FD - VM_SPAWN_DISK_FD);
	}
	if (check_conflicts(vm, d, err)) {
		*cls = VMSUP_EC_CONFLICT;
		return -1;
	}
	return 0;
}

static int mod_prepare(void *ctx, struct vm *vm, const struct vmsup_peer *peer, const char **cls,
		       char **err)
{
	struct vm_disk *d;
	struct want w[NDISKS];

	(void)ctx;
	if (!wants(&vm->spec, w))
		return 0;
	if (!(d = calloc(1, sizeof(*d)))) {
		*cls = VMSUP_EC_INTERNAL;
		return vmsup_err(err, "out of memory");
	}
	if (open_all(vm, vm->spec.disk_trusted ? NULL : peer, d, cls, err))
		goto fail;
	for (size_t i = 0; i < d->n; i++) {
		if (d->d[i].persistent || d->d[i].readonly)
			continue;
		if ((!d->dir && make_dir(vm, d, err)) || make_overlay(d, i, w[i].index, err)) {
			*cls = VMSUP_EC_INTERNAL;
			remove_files(vm->spec.name, d);
			goto fail;
		}
	}
	vm->disk = d;
	vm_status_changed(vm);
	return 0;
fail:
	vm_disk_free(d);
	return -1;
}

static int mod_argv(void *ctx, struct vm *vm, char ***argv, int *fds, char **err)
{
	struct vm_disk *d = vm->disk;
	struct want w[NDISKS];
	size_t n = wants(&vm->spec, w);
	int slot = VM_SPAWN_DISK_FD;

	(void)ctx;
	if (n && (!d || d->n != n))
		return vmsup_err(err, "the VM's disk record is missing (a state file without it): "
				      "destroy the VM and create it again");
	for (size_t i = 0; i < n; i++) {
		struct one_disk *x = &d->d[i];
		struct disk_attach a = {&x->chain, x->overlay, x->readonly, w[i].index, 3 + slot};
		for (size_t k = 0; k < x->chain.n; k++, slot++) {
			if (slot >= VM_SPAWN_FILE_FD)
				return vmsup_err(err, "too many disk image files");
			if (disk_layer_reopen(&x->chain.l[k], x->persistent && k == 0, err))
				return -1;
			if ((fds[slot] = dup(x->chain.l[k].fd)) < 0)
				return vmsup_err(err, "dup: %s", strerror(errno));
		}
		if (disk_argv(&a, argv, err))
			return -1;
	}
	return 0;
}

static void mod_destroyed(void *ctx, struct vm *vm)
{
	(void)ctx;
	if (vm->disk)
		remove_files(vm->spec.name, vm->disk);
}

static void mod_release(void *ctx, struct vm *vm)
{
	(void)ctx;
	vm_disk_free(vm->disk);
	vm->disk = NULL;
	vm_status_changed(vm);
}

static struct json_object *disk_json(const struct one_disk *x, const char *image)
{
	struct json_object *j = json_object_new_object(), *chain = json_object_new_array();

	json_object_object_add(j, "image", json_object_new_string(image));
	json_object_object_add(j, "mode",
			       json_object_new_string(x->persistent ? "persistent"
						      : x->readonly ? "readonly"
								    : "overlay"));
	json_object_object_add(j, "format", json_object_new_string(x->chain.l[0].format));
	json_object_object_add(j, "overlay",
			       x->overlay ? json_object_new_string(x->overlay) : NULL);
	for (size_t i = 0; i < x->chain.n; i++) {
		const struct disk_layer *l = &x->chain.l[i];
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "path", json_object_new_string(l->path));
		json_object_object_add(e, "format", json_object_new_string(l->format));
		json_object_object_add(e, "virtual_size", json_object_new_uint64(l->virtual_size));
		json_object_object_add(e, "dev", json_object_new_uint64(l->dev));
		json_object_object_add(e, "ino", json_object_new_uint64(l->ino));
		json_object_array_add(chain, e);
	}
	json_object_object_add(j, "chain", chain);
	return j;
}

static void mod_status(void *ctx, const struct vm *vm, struct json_object *o)
{
	const struct vm_disk *d = vm->disk;
	struct json_object *data = json_object_new_array(), *root = NULL;
	struct want w[NDISKS];
	size_t n = wants(&vm->spec, w);

	(void)ctx;
	for (size_t i = 0; d && i < d->n && i < n; i++) {
		struct json_object *j = disk_json(&d->d[i], w[i].path);
		if (w[i].index == 0)
			root = j;
		else
			json_object_array_add(data, j);
	}
	json_object_object_add(o, "disk", root);
	json_object_object_add(o, "data_disks", data);
}

static char *dup_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

/* One disk's layers back from its status object; 0, or -1 if unreadable. */
static int restore_one(struct json_object *j, struct one_disk *x, const struct want *w)
{
	struct json_object *chain, *v;
	size_t n;

	x->persistent = w->mode && !strcmp(w->mode, "persistent");
	x->readonly = w->readonly;
	if (!j || !json_object_object_get_ex(j, "chain", &chain) ||
	    !json_object_is_type(chain, json_type_array) ||
	    (n = json_object_array_length(chain)) == 0 || n > DISK_CHAIN_MAX)
		return -1;
	x->overlay = dup_str(j, "overlay");
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(chain, i);
		struct disk_layer *l = &x->chain.l[i];
		l->fd = -1;
		l->path = dup_str(e, "path");
		l->format = dup_str(e, "format");
		if (json_object_object_get_ex(e, "virtual_size", &v))
			l->virtual_size = json_object_get_uint64(v);
		if (json_object_object_get_ex(e, "dev", &v))
			l->dev = (dev_t)json_object_get_uint64(v);
		if (json_object_object_get_ex(e, "ino", &v))
			l->ino = (ino_t)json_object_get_uint64(v);
		x->chain.n = i + 1;
		if (!l->path || !l->format)
			return -1;
	}
	return 0;
}

/* The layers back from the state file; their descriptors are opened
 * again, and checked to be the same files, at the next start. */
static void mod_restore(void *ctx, struct vm *vm, struct json_object *state)
{
	struct json_object *root = NULL, *data = NULL;
	struct want w[NDISKS];
	size_t n = wants(&vm->spec, w);
	struct vm_disk *d;

	(void)ctx;
	if (!n || !(d = calloc(1, sizeof(*d))))
		return;
	json_object_object_get_ex(state, "disk", &root);
	if (!json_object_object_get_ex(state, "data_disks", &data) ||
	    !json_object_is_type(data, json_type_array))
		data = NULL;
	for (size_t i = 0; i < n; i++) {
		struct json_object *j =
		    w[i].index == 0
			? root
			: (data ? json_object_array_get_idx(data, w[i].index - 1) : NULL);
		d->n = i + 1;
		if (restore_one(j, &d->d[i], &w[i])) {
			LOG_W(
			    vm->spec.name,
			    "state file: disk %s unreadable: this daemon cannot start the VM again",
			    w[i].path);
			vm_disk_free(d);
			return;
		}
	}
	for (size_t i = 0; i < d->n; i++)
		if (d->d[i].overlay && !d->dir && strrchr(d->d[i].overlay, '/') &&
		    (d->dir = strdup(d->d[i].overlay)))
			*strrchr(d->dir, '/') = '\0';
	vm->disk = d;
	vm_status_changed(vm);
}

const struct vm_module vm_disk_module = {
    .name = "disk",
    .prepare = mod_prepare,
    .argv = mod_argv,
    .restore = mod_restore,
    .destroyed = mod_destroyed,
    .release = mod_release,
    .status = mod_status,
};
