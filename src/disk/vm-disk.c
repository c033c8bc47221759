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

struct vm_disk {
	struct disk_chain chain;
	bool persistent;
	char *dir, *overlay; /* NULL when persistent */
};

static bool same_file(const struct disk_layer *a, const struct disk_layer *b)
{
	return a->dev == b->dev && a->ino == b->ino;
}

/* A persistent image is this daemon's one VM's alone; qemu's own image
 * locks stand guard against other processes. */
static int check_conflicts(struct vm *vm, const struct vm_disk *d, char **err)
{
	for (struct vm *o = vmsup_first(vm->sup); o; o = o->next) {
		const struct vm_disk *od = o->disk;
		if (o == vm || !od)
			continue;
		for (size_t i = 0; i < d->chain.n; i++) {
			bool mine = d->persistent && i == 0, theirs = od->persistent;
			for (size_t k = 0; k < od->chain.n; k++) {
				if (!same_file(&d->chain.l[i], &od->chain.l[k]) ||
				    (!mine && !(theirs && k == 0)))
					continue;
				return vmsup_err(err,
						 "'disk': %s is in use by VM '%s'%s; a persistent "
						 "disk is one VM's alone",
						 d->chain.l[i].path, o->spec.name,
						 theirs && k == 0 ? " (persistent)" : "");
			}
		}
	}
	return 0;
}

static int make_overlay(struct vm *vm, struct vm_disk *d, char **err)
{
	const char *state_dir = vmsup_config(vm->sup)->state_dir;
	char *top = NULL;
	int rc = -1;

	if (asprintf(&top, "%s/vm", state_dir) < 0 ||
	    asprintf(&d->dir, "%s/%s", top, vm->spec.name) < 0 ||
	    asprintf(&d->overlay, "%s/root.qcow2", d->dir) < 0) {
		vmsup_err(err, "out of memory");
		goto out;
	}
	if (vm_mkdir(top, 0700, err) || vm_mkdir(d->dir, 0700, err))
		goto out;
	rc = disk_overlay_create(QEMU_IMG, d->overlay, d->chain.l[0].path, d->chain.l[0].format,
				 d->chain.l[0].virtual_size, err);
out:
	free(top);
	return rc;
}

static void vm_disk_free(struct vm_disk *d)
{
	if (!d)
		return;
	disk_chain_free(&d->chain);
	free(d->dir);
	free(d->overlay);
	free(d);
}

static int mod_prepare(void *ctx, struct vm *vm, const struct vmsup_peer *peer, const char **cls,
		       char **err)
{
	struct vm_disk *d;

	(void)ctx;
	if (!vm->spec.disk)
		return 0;
	if (!(d = calloc(1, sizeof(*d)))) {
		*cls = VMSUP_EC_INTERNAL;
		return vmsup_err(err, "out of memory");
	}
	d->persistent = vm->spec.disk_mode && !strcmp(vm->spec.disk_mode, "persistent");
	if (disk_chain_open(QEMU_IMG, peer, vm->spec.disk, vm->spec.disk_format, d->persistent,
			    &d->chain, cls, err))
		goto fail;
	if (check_conflicts(vm, d, err)) {
		*cls = VMSUP_EC_CONFLICT;
		goto fail;
	}
	if (!d->persistent && make_overlay(vm, d, err)) {
		*cls = VMSUP_EC_INTERNAL;
		if (d->dir)
			rmdir(d->dir);
		goto fail;
	}
	vm->disk = d;
	return 0;
fail:
	vm_disk_free(d);
	return -1;
}

static int mod_argv(void *ctx, struct vm *vm, char ***argv, int *fds, char **err)
{
	struct vm_disk *d = vm->disk;

	(void)ctx;
	if (!d)
		return 0;
	for (size_t i = 0; i < d->chain.n; i++) {
		if (disk_layer_reopen(&d->chain.l[i], d->persistent && i == 0, err))
			return -1;
		if ((fds[VM_SPAWN_DISK_FD + i] = dup(d->chain.l[i].fd)) < 0)
			return vmsup_err(err, "dup: %s", strerror(errno));
	}
	return disk_argv(&d->chain, d->overlay, 3 + VM_SPAWN_DISK_FD, argv, err);
}

static void mod_destroyed(void *ctx, struct vm *vm)
{
	struct vm_disk *d = vm->disk;

	(void)ctx;
	if (!d || !d->overlay)
		return;
	if (unlink(d->overlay) < 0 && errno != ENOENT)
		LOG_W(vm->spec.name, "overlay %s: %s", d->overlay, strerror(errno));
	if (rmdir(d->dir) < 0 && errno != ENOENT)
		LOG_W(vm->spec.name, "%s: %s", d->dir, strerror(errno));
}

static void mod_release(void *ctx, struct vm *vm)
{
	(void)ctx;
	vm_disk_free(vm->disk);
	vm->disk = NULL;
}

static void mod_status(void *ctx, const struct vm *vm, struct json_object *o)
{
	const struct vm_disk *d = vm->disk;
	struct json_object *j, *chain;

	(void)ctx;
	if (!d) {
		json_object_object_add(o, "disk", NULL);
		return;
	}
	j = json_object_new_object();
	json_object_object_add(j, "image", json_object_new_string(vm->spec.disk));
	json_object_object_add(j, "mode",
			       json_object_new_string(d->persistent ? "persistent" : "overlay"));
	json_object_object_add(j, "format", json_object_new_string(d->chain.l[0].format));
	json_object_object_add(j, "overlay",
			       d->overlay ? json_object_new_string(d->overlay) : NULL);
	chain = json_object_new_array();
	for (size_t i = 0; i < d->chain.n; i++) {
		const struct disk_layer *l = &d->chain.l[i];
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "path", json_object_new_string(l->path));
		json_object_object_add(e, "format", json_object_new_string(l->format));
		json_object_object_add(e, "virtual_size", json_object_new_uint64(l->virtual_size));
		json_object_object_add(e, "dev", json_object_new_uint64(l->dev));
		json_object_object_add(e, "ino", json_object_new_uint64(l->ino));
		json_object_array_add(chain, e);
	}
	json_object_object_add(j, "chain", chain);
	json_object_object_add(o, "disk", j);
}

static char *dup_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

/* The layers back from the state file; their descriptors are opened
 * again, and checked to be the same files, at the next start. */
static void mod_restore(void *ctx, struct vm *vm, struct json_object *state)
{
	struct json_object *j, *chain, *v;
	struct vm_disk *d;
	size_t n;

	(void)ctx;
	if (!vm->spec.disk || !json_object_object_get_ex(state, "disk", &j) ||
	    !json_object_object_get_ex(j, "chain", &chain) ||
	    !json_object_is_type(chain, json_type_array) ||
	    (n = json_object_array_length(chain)) == 0 || n > DISK_CHAIN_MAX ||
	    !(d = calloc(1, sizeof(*d)))) {
		if (vm->spec.disk)
			LOG_W(vm->spec.name, "state file has no disk chain: the disk cannot be "
					     "started again by this daemon");
		return;
	}
	d->persistent = vm->spec.disk_mode && !strcmp(vm->spec.disk_mode, "persistent");
	d->overlay = dup_str(j, "overlay");
	if (d->overlay && strrchr(d->overlay, '/') && (d->dir = strdup(d->overlay)))
		*strrchr(d->dir, '/') = '\0';
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(chain, i);
		struct disk_layer *l = &d->chain.l[i];
		l->fd = -1;
		l->path = dup_str(e, "path");
		l->format = dup_str(e, "format");
		if (json_object_object_get_ex(e, "virtual_size", &v))
			l->virtual_size = json_object_get_uint64(v);
		if (json_object_object_get_ex(e, "dev", &v))
			l->dev = (dev_t)json_object_get_uint64(v);
		if (json_object_object_get_ex(e, "ino", &v))
			l->ino = (ino_t)json_object_get_uint64(v);
		d->chain.n = i + 1;
		if (!l->path || !l->format) {
			LOG_W(vm->spec.name,
			      "state file: disk layer %zu unreadable: the disk "
			      "cannot be started again by this daemon",
			      i);
			vm_disk_free(d);
			return;
		}
	}
	vm->disk = d;
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
