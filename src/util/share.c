/* Share directories: the rules, and opening one as the caller (share.h). */
#include "src/util/share.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifdef SYS_openat2
#include <linux/openat2.h>
#endif

#include "src/util/err.h"

/* no share in them, nor of a directory that holds one of them */
static const char *const system_trees[] = {"/boot",  "/dev",   "/etc",	  "/proc", "/root",
					   "/sys",   "/usr",   "/bin",	  "/sbin", "/lib",
					   "/lib32", "/lib64", "/libx32", NULL};
/* these themselves: everyone's scratch and homes, the daemon's socket dir */
static const char *const system_dirs[] = {"/", "/var", "/run", "/tmp", "/var/tmp", "/home", NULL};

/* real is dir or below it */
static bool under(const char *real, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(real, dir, n) && (real[n] == '\0' || real[n] == '/');
}

static const char *tree_rule(const char *real, const char *tree, const char *what, char *buf,
			     size_t size)
{
	if (under(real, tree))
		snprintf(buf, size, "it is in %s %s", what, tree);
	else if (under(tree, real))
		snprintf(buf, size, "it contains %s %s", what, tree);
	else
		return NULL;
	return buf;
}

const char *vmsup_share_rule(const char *real, const struct vmsup_share_rules *r, char *buf,
			     size_t size)
{
	for (size_t i = 0; system_dirs[i]; i++)
		if (!strcmp(real, system_dirs[i])) {
			snprintf(buf, size, "%s is a system directory", system_dirs[i]);
			return buf;
		}
	for (size_t i = 0; system_trees[i]; i++)
		if (tree_rule(real, system_trees[i], "the system directory", buf, size))
			return buf;
	for (size_t i = 0; i < 2; i++)
		if (r->private_dirs[i] &&
		    tree_rule(real, r->private_dirs[i], "vmsupd's own directory", buf, size))
			return buf;
	if (!r->nroots)
		return NULL;
	for (size_t i = 0; i < r->nroots; i++)
		if (under(real, r->roots[i]))
			return NULL;
	snprintf(buf, size, "it is outside share_roots (%s%s)", r->roots[0],
		 r->nroots > 1 ? " ..." : "");
	return buf;
}

/* Without openat2: one O_PATH|O_NOFOLLOW open per component. */
static int walk_nofollow(const char *path)
{
	char buf[PATH_MAX], *p = buf;
	int dir, fd;

	if (strlen(path) >= sizeof(buf) || path[0] != '/') {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, strlen(path) + 1);
	if ((dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	while (*p) {
		char *c, *e;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		e = strchr(c, '/');
		p = e ? e : c + strlen(c);
		if (e)
			*e = '\0', p = e + 1;
		/* a symlink opens as itself with O_NOFOLLOW: O_DIRECTORY then fails */
		fd = openat(dir, c, O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			int e2 = errno;
			struct stat st;
			if (e2 == ENOTDIR && !fstatat(dir, c, &st, AT_SYMLINK_NOFOLLOW) &&
			    S_ISLNK(st.st_mode))
				e2 = ELOOP;
			close(dir);
			errno = e2;
			return -1;
		}
		close(dir);
		dir = fd;
	}
	return dir;
}

static int open_nofollow_dir(const char *path)
{
#ifdef SYS_openat2
	struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
			       .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));

	if (fd >= 0 || errno != ENOSYS)
		return fd;
#endif
	return walk_nofollow(path);
}

static void proc_fd(int fd, char out[32])
{
	snprintf(out, 32, "/proc/self/fd/%d", fd);
}

/* In a child, already the peer. */
static int open_dir(const char *path, int flags)
{
	(void)flags;
	return open_nofollow_dir(path);
}

/*
 * In a child, as the peer, on /proc/self/fd/N of the directory the first
 * child opened (a process may always reach its own descriptors there):
 * the kernel judges that very directory, as the peer. EPERM: neither owner
 * nor writer; EACCES: cannot read or search it.
 */
static int check_dir(const char *proc, int flags)
{
	struct stat st;

	(void)flags;
	if (stat(proc, &st) < 0 || access(proc, R_OK | X_OK) < 0) {
		errno = EACCES;
		return -1;
	}
	if (st.st_uid != getuid() && access(proc, W_OK) < 0) {
		errno = EPERM;
		return -1;
	}
	return open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

static int refused(const char *path, const struct vmsup_peer *p, int e, char **err)
{
	unsigned uid = p ? (unsigned)p->uid : (unsigned)geteuid();

	if (e == ELOOP || e == EXDEV)
		vmsup_err(err,
			  "share %s: the path goes through a symbolic link; name the directory "
			  "itself",
			  path);
	else if (e == EPERM)
		vmsup_err(err,
			  "share %s: uid %u neither owns it nor may write it (a share must be "
			  "the caller's own directory or one it may write)",
			  path, uid);
	else if (e == EACCES)
		vmsup_err(err, "share %s: uid %u may not read and search it", path, uid);
	else
		vmsup_err(err, "share %s: %s", path, strerror(e));
	/* not there is a bad request, not a refusal */
	return e == ENOENT || e == ENOTDIR ? 2 : 1;
}

int vmsup_share_open(const struct vmsup_peer *p, const char *path,
		     const struct vmsup_share_rules *r, int *fd, dev_t *dev, ino_t *ino, char **err)
{
	char proc[32], real[PATH_MAX], rule[PATH_MAX + 128], *why = NULL;
	const char *broken, *procp = proc;
	int flags = 0, e = 0, rc, again = -1;
	struct stat st;
	ssize_t n;

	*fd = -1;
	rc = vmsup_peer_open_with(p, &path, &flags, 1, open_dir, fd, &e, &why);
	if (rc < 0)
		goto check_failed;
	free(why);
	why = NULL;
	if (rc > 0)
		return refused(path, p, e, err);
	/* where the descriptor really is: the rules hold for that, not the name */
	proc_fd(*fd, proc);
	if ((n = readlink(proc, real, sizeof(real) - 1)) < 0 || fstat(*fd, &st) < 0) {
		rc = vmsup_err(err, "share %s: %s", path, strerror(errno));
		goto fail;
	}
	real[n] = '\0';
	if ((broken = vmsup_share_rule(real, r, rule, sizeof(rule)))) {
		if (strcmp(real, path))
			vmsup_err(err, "share %s (%s) refused: %s", path, real, broken);
		else
			vmsup_err(err, "share %s refused: %s", path, broken);
		rc = 1;
		goto fail;
	}
	/* and may the caller use that directory (not whatever the name is now)? */
	rc = vmsup_peer_open_with(p, &procp, &flags, 1, check_dir, &again, &e, &why);
	if (again >= 0)
		close(again);
	if (rc < 0)
		goto check_failed;
	free(why);
	if (rc > 0) {
		rc = refused(path, p, e, err);
		goto fail;
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
check_failed:
	vmsup_err(err, "share %s: %s", path, why ? why : "the check failed");
	free(why);
	rc = -1;
fail:
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return rc;
}

int vmsup_share_reopen(const char *path, dev_t dev, ino_t ino, int *fd, char **err)
{
	struct stat st;

	if ((*fd = open_nofollow_dir(path)) < 0)
		return vmsup_err(err, "share %s: %s", path, strerror(errno));
	if (fstat(*fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
		close(*fd);
		*fd = -1;
		return vmsup_err(err,
				 "share %s is no longer the directory checked when the VM was "
				 "created; destroy the VM and create it again",
				 path);
	}
	return 0;
}
