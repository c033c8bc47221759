/* A template's own copies of its kernel and initrd (tmpl-boot.h). */
#include "src/snapshot/tmpl-boot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/qemu/spawn.h"
#include "src/util/err.h"
#include "src/util/fdio.h"

#define KERNEL_SLOT VM_SPAWN_KERNEL_FD
#define INITRD_SLOT VM_SPAWN_INITRD_FD

/* All of in, from its start, into out. */
static int copy_all(int in, int out)
{
	char buf[1 << 16];
	ssize_t n;

	/* copy_file_range shares extents where the filesystem can */
	while ((n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0)) > 0)
		;
	if (n == 0)
		return 0;
	if (errno != EXDEV && errno != EINVAL && errno != EOPNOTSUPP && errno != ENOSYS)
		return -1;
	/* across filesystems some kernels refuse it: plain copy */
	if (lseek(in, 0, SEEK_SET) < 0 || ftruncate(out, 0) < 0 || lseek(out, 0, SEEK_SET) < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (vmsup_write_all(out, buf, (size_t)n) < 0)
			return -1;
	return n < 0 ? -1 : 0;
}

/* One file, opened as who, copied to dir/name; *fd reads the copy. */
static int copy_one(const struct vmsup_peer *who, const char *what, const char *path,
		    const char *dir, const char *name, int *fd, const char **cls, char **err)
{
	int in, out = -1;
	char *dst = NULL;
	struct stat st;

	if (vmsup_peer_open_regular(who, what, path, &in, &st, cls, err))
		return -1;
	*cls = VMSUP_EC_INTERNAL;
	if (asprintf(&dst, "%s/%s", dir, name) < 0) {
		dst = NULL;
		vmsup_err(err, "out of memory");
		goto fail;
	}
	out = open(dst, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0 || copy_all(in, out) < 0 || fsync(out) < 0) {
		vmsup_err(err, "'%s': copying %s into the template: %s", what, path,
			  strerror(errno));
		goto fail;
	}
	close(in);
	free(dst);
	*fd = out;
	return 0;
fail:
	close(in);
	if (out >= 0)
		close(out);
	free(dst);
	return -1;
}

int tmpl_boot_copy(const struct vmsup_peer *peer, const char *default_kernel,
		   const char *default_initrd, struct vm_spec *spec, const char *dir, int *fds,
		   const char **cls, char **err)
{
	const struct vmsup_peer *kp, *ip;

	/* the configured default guest is the daemon's to open */
	kp = default_kernel && spec->kernel && !strcmp(spec->kernel, default_kernel) ? NULL : peer;
	ip = default_initrd && spec->initrd && !strcmp(spec->initrd, default_initrd) ? NULL : peer;
	if (spec->kernel && copy_one(kp, "kernel", spec->kernel, dir, TMPL_KERNEL_FILE,
				     &fds[KERNEL_SLOT], cls, err))
		return -1;
	if (spec->initrd && copy_one(ip, "initrd", spec->initrd, dir, TMPL_INITRD_FILE,
				     &fds[INITRD_SLOT], cls, err))
		return -1;
	*cls = VMSUP_EC_INTERNAL;
	free(spec->kernel_qemu);
	free(spec->initrd_qemu);
	spec->kernel_qemu = spec->initrd_qemu = NULL;
	if ((spec->kernel && !(spec->kernel_qemu = vm_spawn_fd_path(KERNEL_SLOT))) ||
	    (spec->initrd && !(spec->initrd_qemu = vm_spawn_fd_path(INITRD_SLOT))))
		return vmsup_err(err, "out of memory");
	return 0;
}

/* dir/name exists (a regular file): 1; 0 if not; -1 on another error. */
static int has_copy(const char *dir, const char *name, char **err)
{
	char *p;
	struct stat st;
	int r;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return vmsup_err(err, "out of memory");
	r = lstat(p, &st) == 0 && S_ISREG(st.st_mode) ? 1 : errno == ENOENT ? 0 : -1;
	if (r < 0)
		vmsup_err(err, "%s: %s", p, strerror(errno));
	free(p);
	return r;
}

int tmpl_boot_paths(struct vm_spec *spec, const char *dir, char **err)
{
	int k = spec->kernel ? has_copy(dir, TMPL_KERNEL_FILE, err) : 0;
	int i = spec->initrd ? has_copy(dir, TMPL_INITRD_FILE, err) : 0;

	if (k < 0 || i < 0)
		return -1;
	if ((k && !(spec->kernel_qemu = vm_spawn_fd_path(KERNEL_SLOT))) ||
	    (i && !(spec->initrd_qemu = vm_spawn_fd_path(INITRD_SLOT))))
		return vmsup_err(err, "out of memory");
	return 0;
}

static int open_copy(const char *dir, const char *name, int *fd, char **err)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return vmsup_err(err, "out of memory");
	*fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		vmsup_err(err, "%s: %s", p, strerror(errno));
	free(p);
	return *fd < 0 ? -1 : 0;
}

int tmpl_boot_open(const struct vm_spec *spec, const char *dir, int *fds, char **err)
{
	if (spec->kernel_qemu && open_copy(dir, TMPL_KERNEL_FILE, &fds[KERNEL_SLOT], err))
		return -1;
	if (spec->initrd_qemu && open_copy(dir, TMPL_INITRD_FILE, &fds[INITRD_SLOT], err))
		return -1;
	return 0;
}
