/*
 * The files module (vm-files.h). The daemon's rights are not the
 * caller's: a path checked and then handed to qemu by name may point
 * elsewhere by the time qemu opens it (a symlink swapped in between). So
 * each file is opened once, as the caller, and qemu gets that descriptor
 * as /proc/self/fd/N. Why not /dev/fdset: qemu reads -kernel and -initrd
 * with plain open()/fopen() (hw/i386/x86.c), not qemu_open(), and the 9p
 * local backend open()s its root once at realize (hw/9pfs/9p-local.c), so
 * neither knows fdsets; both accept /proc/self/fd/N, which reopens the
 * very file behind the inherited descriptor. Root's VM runs qemu as the
 * default qemu_user, which may not read root's share: it gets a detached
 * idmapped mount of the share instead (share_fd).
 */
#include "src/files/vm-files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/core/supervisor.h"
#include "src/qemu/spawn.h"
#include "src/util/err.h"
#include "src/util/idmap-mount.h"
#include "src/util/log.h"
#include "src/util/share.h"

#define SHARES_MAX    (VM_SPAWN_TAP_FD - VM_SPAWN_FILE_FD - 2)
#define KERNEL_SLOT   VM_SPAWN_KERNEL_FD
#define INITRD_SLOT   VM_SPAWN_INITRD_FD
#define SHARE_SLOT(i) (VM_SPAWN_FILE_FD + 2 + (int)(i))

struct vm_files_ctx {
	struct vmsup_share_rules rules;
	char *state_dir, *run_dir;
};

/* One file as the caller's check opened it. */
struct held {
	int fd; /* -1: not held (lost with a daemon restart, or never) */
	bool set;
	dev_t dev;
	ino_t ino;
};

struct vm_files {
	struct held kernel, initrd, share[SHARES_MAX];
	size_t nshares;
};

struct vm_files_ctx *vm_files_new(const struct vmsup_config *cfg, char **err)
{
	struct vm_files_ctx *c = calloc(1, sizeof(*c));
	char *list = NULL, *save = NULL;

	if (!c) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	/* both exist by now (vmsup_new made them) */
	c->state_dir = realpath(cfg->state_dir, NULL);
	c->run_dir = realpath(cfg->run_dir, NULL);
	c->rules.private_dirs[0] = c->state_dir;
	c->rules.private_dirs[1] = c->run_dir;
	if (cfg->share_roots && !(list = strdup(cfg->share_roots)))
		goto oom;
	for (char *w = list ? strtok_r(list, " \t", &save) : NULL; w;
	     w = strtok_r(NULL, " \t", &save)) {
		char **r = realloc(c->rules.roots, (c->rules.nroots + 1) * sizeof(*r));
		if (!r)
			goto oom;
		c->rules.roots = r;
		if (!(r[c->rules.nroots] = realpath(w, NULL))) {
			vmsup_err(err, "share_roots: %s: %s", w, strerror(errno));
			goto fail;
		}
		c->rules.nroots++;
	}
	free(list);
	return c;
oom:
	vmsup_err(err, "out of memory");
fail:
	free(list);
	vm_files_free(c);
	return NULL;
}

void vm_files_free(struct vm_files_ctx *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->rules.nroots; i++)
		free(c->rules.roots[i]);
	free(c->rules.roots);
	free(c->state_dir);
	free(c->run_dir);
	free(c);
}

const struct vmsup_share_rules *vm_files_rules(const struct vm_files_ctx *c)
{
	return &c->rules;
}

static void files_free(struct vm_files *f)
{
	if (!f)
		return;
	if (f->kernel.fd >= 0)
		close(f->kernel.fd);
	if (f->initrd.fd >= 0)
		close(f->initrd.fd);
	for (size_t i = 0; i < f->nshares; i++)
		if (f->share[i].fd >= 0)
			close(f->share[i].fd);
	free(f);
}

static struct vm_files *files_new(size_t nshares)
{
	struct vm_files *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->kernel.fd = f->initrd.fd = -1;
	for (size_t i = 0; i < SHARES_MAX; i++)
		f->share[i].fd = -1;
	f->nshares = nshares;
	return f;
}

/* kernel or initrd, as the caller (NULL: the daemon's own default). */
static int open_file(const struct vmsup_peer *peer, const char *what, const char *path,
		     struct held *h, const char **cls, char **err)
{
	struct stat st;

	if (vmsup_peer_open_regular(peer, what, path, &h->fd, &st, cls, err))
		return -1;
	h->set = true;
	h->dev = st.st_dev;
	h->ino = st.st_ino;
	return 0;
}

/* qemu's names for what f holds: the descriptors it will inherit. */
static int set_qemu_paths(struct vm_spec *s, const struct vm_files *f)
{
	if (f->kernel.set && !(s->kernel_qemu = vm_spawn_fd_path(KERNEL_SLOT)))
		return -1;
	if (f->initrd.set && !(s->initrd_qemu = vm_spawn_fd_path(INITRD_SLOT)))
		return -1;
	for (size_t i = 0; i < f->nshares && i < s->nshares; i++)
		if (f->share[i].set && !(s->shares[i].qemu_path = vm_spawn_fd_path(SHARE_SLOT(i))))
			return -1;
	return 0;
}

/*
 * What qemu gets for share i, held in h: a copy of the descriptor or, when
 * qemu serves shares through idmapped mounts (vmsup_vm_share_idmap) and
 * this one's owner is not qemu's ids, a detached idmapped mount of it
 * showing the owner as them. That mount is in no mount table: qemu holds
 * it and it goes with qemu. The descriptor, or -1 with *err.
 */
static int share_fd(const struct vm *vm, size_t i, const struct held *h, char **err)
{
	const struct vm_share *sh = &vm->spec.shares[i];
	struct stat st;
	char *e = NULL;
	uid_t qu;
	gid_t qg;
	int fd;

	if (vmsup_vm_share_idmap(vm, &qu, &qg)) {
		if (fstat(h->fd, &st) < 0)
			return vmsup_err(err, "'shares[%zu]': %s: %s", i, sh->path,
					 strerror(errno));
		if (st.st_uid != qu || st.st_gid != qg) {
			fd = vmsup_idmap_clone(h->fd, sh->path, st.st_uid, st.st_gid, qu, qg,
					       sh->readonly, &e);
			if (fd < 0) {
				vmsup_err(err,
					  "'shares[%zu]': qemu runs as qemu_user's default (uid "
					  "%u) and reaches a share of another owner through an "
					  "idmapped mount: %s; qemu_user = root in vmsupd.conf "
					  "serves it as root instead",
					  i, (unsigned)qu, e);
				free(e);
			}
			return fd;
		}
	}
	if ((fd = dup(h->fd)) < 0)
		vmsup_err(err, "dup: %s", strerror(errno));
	return fd;
}

static int mod_prepare(void *ctx, struct vm *vm, const struct vmsup_peer *peer, const char **cls,
		       char **err)
{
	const struct vm_files_ctx *c = ctx;
	const struct vmsup_config *cfg = vmsup_config(vm->sup);
	struct vm_spec *s = &vm->spec;
	struct vm_files *f;

	/* a template's VM and its restores: the template module's files */
	if (s->ram_file || (!s->kernel && !s->nshares))
		return 0;
	if (s->nshares > SHARES_MAX) {
		*cls = VMSUP_EC_INVALID;
		return vmsup_err(err, "'shares': at most %d shares", SHARES_MAX);
	}
	if (!(f = files_new(s->nshares))) {
		*cls = VMSUP_EC_INTERNAL;
		return vmsup_err(err, "out of memory");
	}
	/* the configured default guest is the daemon's to open */
	if (s->kernel &&
	    open_file(cfg->default_kernel && !strcmp(s->kernel, cfg->default_kernel) ? NULL : peer,
		      "kernel", s->kernel, &f->kernel, cls, err))
		goto fail;
	if (s->initrd &&
	    open_file(cfg->default_initrd && !strcmp(s->initrd, cfg->default_initrd) ? NULL : peer,
		      "initrd", s->initrd, &f->initrd, cls, err))
		goto fail;
	for (size_t i = 0; i < s->nshares; i++) {
		struct held *h = &f->share[i];
		int rc = vmsup_share_open(peer, s->shares[i].path, &c->rules, &h->fd, &h->dev,
					  &h->ino, err);
		if (rc) {
			*cls = rc == 1	 ? VMSUP_EC_FORBIDDEN
			       : rc == 2 ? VMSUP_EC_INVALID
					 : VMSUP_EC_INTERNAL;
			goto fail;
		}
		h->set = true;
	}
	/* a share qemu cannot be given (no idmap on its filesystem) refuses
	 * the create, rather than failing its start */
	for (size_t i = 0; i < s->nshares; i++) {
		int t = share_fd(vm, i, &f->share[i], err);
		if (t < 0) {
			*cls = VMSUP_EC_SHARE;
			goto fail;
		}
		close(t);
	}
	if (set_qemu_paths(s, f)) {
		*cls = VMSUP_EC_INTERNAL;
		vmsup_err(err, "out of memory");
		goto fail;
	}
	vm->files = f;
	vm_status_changed(vm);
	return 0;
fail:
	files_free(f);
	return -1;
}

/* A descriptor lost with a daemon restart: the file opened again by path,
 * as the daemon, and only if it is still the one the caller's check opened. */
static int reopen_file(struct held *h, const char *path, char **err)
{
	struct stat st;

	if ((h->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return vmsup_err(err, "%s: %s", path, strerror(errno));
	if (fstat(h->fd, &st) < 0 || st.st_dev != h->dev || st.st_ino != h->ino) {
		close(h->fd);
		h->fd = -1;
		return vmsup_err(err,
				 "%s is no longer the file checked when the VM was created; "
				 "destroy the VM and create it again",
				 path);
	}
	return 0;
}

static int hand(struct held *h, int slot, int *fds, char **err)
{
	if ((fds[slot] = dup(h->fd)) < 0)
		return vmsup_err(err, "dup: %s", strerror(errno));
	return 0;
}

static int mod_argv(void *ctx, struct vm *vm, char ***argv, int *fds, char **err)
{
	struct vm_files *f = vm->files;
	const struct vm_spec *s = &vm->spec;

	(void)ctx;
	(void)argv;
	if (!f)
		return 0;
	if (f->kernel.set && ((f->kernel.fd < 0 && reopen_file(&f->kernel, s->kernel, err)) ||
			      hand(&f->kernel, KERNEL_SLOT, fds, err)))
		return -1;
	if (f->initrd.set && ((f->initrd.fd < 0 && reopen_file(&f->initrd, s->initrd, err)) ||
			      hand(&f->initrd, INITRD_SLOT, fds, err)))
		return -1;
	for (size_t i = 0; i < f->nshares && i < s->nshares; i++) {
		struct held *h = &f->share[i];
		if (h->set && ((h->fd < 0 && vmsup_share_reopen(s->shares[i].path, h->dev, h->ino,
								&h->fd, err)) ||
			       (fds[SHARE_SLOT(i)] = share_fd(vm, i, h, err)) < 0))
			return -1;
	}
	return 0;
}

static struct json_object *held_json(const struct held *h)
{
	struct json_object *j;

	if (!h->set)
		return NULL;
	j = json_object_new_object();
	json_object_object_add(j, "dev", json_object_new_uint64(h->dev));
	json_object_object_add(j, "ino", json_object_new_uint64(h->ino));
	return j;
}

static void mod_status(void *ctx, const struct vm *vm, struct json_object *o)
{
	const struct vm_files *f = vm->files;
	struct json_object *j, *sh;

	(void)ctx;
	if (!f)
		return;
	j = json_object_new_object();
	sh = json_object_new_array();
	json_object_object_add(j, "kernel", held_json(&f->kernel));
	json_object_object_add(j, "initrd", held_json(&f->initrd));
	for (size_t i = 0; i < f->nshares; i++)
		json_object_array_add(sh, held_json(&f->share[i]));
	json_object_object_add(j, "shares", sh);
	json_object_object_add(o, "files", j);
}

static void held_back(struct json_object *j, struct held *h)
{
	struct json_object *v;

	if (!j || !json_object_is_type(j, json_type_object))
		return;
	if (json_object_object_get_ex(j, "dev", &v))
		h->dev = (dev_t)json_object_get_uint64(v);
	if (json_object_object_get_ex(j, "ino", &v))
		h->ino = (ino_t)json_object_get_uint64(v);
	h->set = true;
}

/* Which files they were, from the state file; their descriptors are
 * opened again, and checked to be the same files, at the next start. */
static void mod_restore(void *ctx, struct vm *vm, struct json_object *state)
{
	struct json_object *j, *v;
	struct vm_files *f;

	(void)ctx;
	if (!json_object_object_get_ex(state, "files", &j) ||
	    !json_object_is_type(j, json_type_object) || vm->spec.nshares > SHARES_MAX ||
	    !(f = files_new(vm->spec.nshares)))
		return;
	if (json_object_object_get_ex(j, "kernel", &v) && vm->spec.kernel)
		held_back(v, &f->kernel);
	if (json_object_object_get_ex(j, "initrd", &v) && vm->spec.initrd)
		held_back(v, &f->initrd);
	if (json_object_object_get_ex(j, "shares", &v) && json_object_is_type(v, json_type_array))
		for (size_t i = 0; i < f->nshares && i < json_object_array_length(v); i++)
			held_back(json_object_array_get_idx(v, i), &f->share[i]);
	if (set_qemu_paths(&vm->spec, f)) {
		LOG_W(vm->spec.name, "out of memory restoring its files");
		files_free(f);
		return;
	}
	vm->files = f;
	vm_status_changed(vm);
}

static void mod_release(void *ctx, struct vm *vm)
{
	(void)ctx;
	files_free(vm->files);
	vm->files = NULL;
	vm_status_changed(vm);
}

const struct vm_module vm_files_module = {
    .name = "files",
    .prepare = mod_prepare,
    .argv = mod_argv,
    .restore = mod_restore,
    .release = mod_release,
    .status = mod_status,
};
