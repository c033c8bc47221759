/* Idmapped mounts (see idmap-mount.h). */
#include "src/util/idmap-mount.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/util/err.h"

/* glibc 2.36 has no wrappers for the new mount API */
static int sys_open_tree(int dfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dfd, path, flags);
}

static int sys_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *a)
{
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, a, sizeof(*a));
}

static int sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to,
			  unsigned flags)
{
	return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

static int write_file(pid_t pid, const char *name, const char *text, char **err)
{
	char p[64];
	size_t len = strlen(text);
	int fd;
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/%d/%s", (int)pid, name);
	if ((fd = open(p, O_WRONLY | O_CLOEXEC)) < 0)
		return vmsup_err(err, "open %s: %s", p, strerror(errno));
	n = write(fd, text, len);
	if (n != (ssize_t)len) {
		int e = n < 0 ? errno : EIO;
		close(fd);
		return vmsup_err(err, "write %s (%s): %s", p, text, strerror(e));
	}
	close(fd);
	return 0;
}

/*
 * A user namespace whose maps send from to to (one uid, one gid): its fd,
 * or -1 with *err. A mount is idmapped with a namespace, not with maps, so
 * a child makes one, the maps are written from here, its fd is kept and
 * the child reaped (the namespace lives on as long as the fd, and the
 * mount holds it after that).
 */
static int userns_fd(uid_t from_uid, gid_t from_gid, uid_t to_uid, gid_t to_gid, char **err)
{
	int ready[2], hold[2], fd = -1;
	char c = 0, map[64], p[64];
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return vmsup_err(err, "pipe: %s", strerror(errno));
	if (pipe2(hold, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return vmsup_err(err, "pipe: %s", strerror(errno));
	}
	if ((pid = fork()) < 0) {
		vmsup_err(err, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* async-signal-safe only: unshare, say so (or why not), wait for EOF */
		int e = unshare(CLONE_NEWUSER) < 0 ? errno : 0;
		c = (char)e;
		if (write(ready[1], &c, 1) != 1 || e)
			_exit(1);
		close(hold[1]);
		while (read(hold[0], &c, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(ready[1]);
	ready[1] = -1;
	close(hold[0]);
	hold[0] = -1;
	if (read(ready[0], &c, 1) != 1 || c) {
		vmsup_err(err, "a user namespace for the idmap: unshare: %s",
			  c ? strerror(c) : "the child died");
		goto out;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)from_uid, (unsigned)to_uid);
	if (write_file(pid, "uid_map", map, err) || write_file(pid, "setgroups", "deny", err))
		goto out;
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)from_gid, (unsigned)to_gid);
	if (write_file(pid, "gid_map", map, err))
		goto out;
	snprintf(p, sizeof(p), "/proc/%d/ns/user", (int)pid);
	if ((fd = open(p, O_RDONLY | O_CLOEXEC)) < 0)
		vmsup_err(err, "open %s: %s", p, strerror(errno));
out:
	/* EOF on hold ends the child; the kill covers one stuck elsewhere */
	close(hold[1]);
	if (pid > 0) {
		if (fd < 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	close(ready[0]);
	if (ready[1] >= 0)
		close(ready[1]);
	if (hold[0] >= 0)
		close(hold[0]);
	return fd;
}

int vmsup_idmap_clone(int fd, const char *what, uid_t from_uid, gid_t from_gid, uid_t to_uid,
		      gid_t to_gid, bool ro, char **err)
{
	struct mount_attr a = {0};
	int ns, t, e;

	if ((ns = userns_fd(from_uid, from_gid, to_uid, to_gid, err)) < 0)
		return -1;
	/* a detached copy of the directory's mount: attributes are set on it
	 * before it is attached anywhere, and closing it undoes everything */
	t = sys_open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
	if (t < 0) {
		e = errno;
		close(ns);
		return vmsup_err(err, "open_tree %s: %s", what, strerror(e));
	}
	a.attr_set = MOUNT_ATTR_IDMAP | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
	if (ro)
		a.attr_set |= MOUNT_ATTR_RDONLY;
	a.userns_fd = (unsigned)ns;
	if (sys_mount_setattr(t, "", AT_EMPTY_PATH, &a) < 0) {
		e = errno;
		close(t);
		close(ns);
		return vmsup_err(err,
				 "an idmapped mount of %s (uid %u shown as %u) is refused: %s%s",
				 what, (unsigned)from_uid, (unsigned)to_uid, strerror(e),
				 e == EINVAL || e == EPERM || e == ENOSYS
				     ? " (it needs Linux 5.12 or later and a filesystem that "
				       "supports idmapped mounts)"
				     : "");
	}
	/* the mount holds the namespace from here on */
	close(ns);
	return t;
}

int vmsup_idmap_bind(int fd, const char *what, const char *target, uid_t from_uid, gid_t from_gid,
		     uid_t to_uid, gid_t to_gid, bool ro, char **err)
{
	int t, e;

	if ((t = vmsup_idmap_clone(fd, what, from_uid, from_gid, to_uid, to_gid, ro, err)) < 0)
		return -1;
	if (sys_move_mount(t, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		e = errno;
		close(t);
		return vmsup_err(err, "move_mount %s to %s: %s", what, target, strerror(e));
	}
	close(t);
	return 0;
}
