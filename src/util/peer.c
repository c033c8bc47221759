#include "src/util/peer.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/util/err.h"

int vmsup_peer_get(int fd, struct vmsup_peer *p, char **err)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	memset(p, 0, sizeof(*p));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return vmsup_err(err, "SO_PEERCRED: %s", strerror(errno));
	p->pid = uc.pid;
	p->uid = uc.uid;
	p->gid = uc.gid;
	/* the groups as they were at connect(), not as /proc shows them later */
	len = sizeof(p->groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p->groups, &len) == 0)
		p->ngroups = (int)(len / sizeof(gid_t));
	else if (errno != ENOPROTOOPT) /* before Linux 4.13: no groups, stricter */
		return vmsup_err(err, "SO_PEERGROUPS: %s", strerror(errno));
	return 0;
}

bool vmsup_peer_in_group(const struct vmsup_peer *p, gid_t gid)
{
	if (p->gid == gid)
		return true;
	for (int i = 0; i < p->ngroups; i++)
		if (p->groups[i] == gid)
			return true;
	return false;
}

bool vmsup_peer_api_allowed(const struct vmsup_peer *p, gid_t api_gid)
{
	if (p->uid == 0 || p->uid == geteuid())
		return true;
	return api_gid != (gid_t)-1 && vmsup_peer_in_group(p, api_gid);
}

struct verdict {
	int index; /* -1: all passed */
	int errnum;
	int stage; /* 0 access, 1 becoming the peer */
};

int vmsup_peer_become(const struct vmsup_peer *p)
{
	if (!p || p->uid == 0 || p->uid == geteuid())
		return 0;
	if (setgroups((size_t)p->ngroups, p->groups) < 0 || setresgid(p->gid, p->gid, p->gid) < 0 ||
	    setresuid(p->uid, p->uid, p->uid) < 0)
		return -1;
	return 0;
}

/* Between fork and _exit: async-signal-safe calls only. */
static void check_as_peer(const struct vmsup_peer *p, const char *const *paths, const int *modes,
			  size_t n, int out)
{
	struct verdict v = {-1, 0, 1};

	if (vmsup_peer_become(p) < 0) {
		v.errnum = errno;
		goto out;
	}
	v.stage = 0;
	for (size_t i = 0; i < n; i++) {
		/* real ids == effective ids now: access() judges as the peer */
		if (access(paths[i], modes[i]) == 0 || errno == ENOENT || errno == ENOTDIR)
			continue;
		v.index = (int)i;
		v.errnum = errno;
		break;
	}
out:
	if (write(out, &v, sizeof(v)) != (ssize_t)sizeof(v))
		_exit(2);
	_exit(0);
}

static const char *mode_words(int mode)
{
	static const char *const w[8] = {
	    "exist", "search",		"write",	  "write and search",
	    "read",  "read and search", "read and write", "read, write and search"};
	return w[mode & 7];
}

int vmsup_peer_access(const struct vmsup_peer *p, const char *const *paths, const int *modes,
		      size_t n, char **err)
{
	struct verdict v;
	int fds[2], st;
	ssize_t r;
	pid_t c;

	/* root, or the daemon's own user: qemu gets no more rights than the peer has */
	if (p->uid == 0 || p->uid == geteuid() || n == 0)
		return 0;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return vmsup_err(err, "pipe: %s", strerror(errno));
	c = fork();
	if (c < 0) {
		close(fds[0]);
		close(fds[1]);
		return vmsup_err(err, "fork: %s", strerror(errno));
	}
	if (c == 0) {
		close(fds[0]);
		check_as_peer(p, paths, modes, n, fds[1]);
	}
	close(fds[1]);
	do
		r = read(fds[0], &v, sizeof(v));
	while (r < 0 && errno == EINTR);
	close(fds[0]);
	while (waitpid(c, &st, 0) < 0 && errno == EINTR)
		;
	if (r != (ssize_t)sizeof(v))
		return vmsup_err(err, "file access check: the checking process died");
	if (v.stage == 1)
		return vmsup_err(err, "file access check: cannot take on uid %u: %s",
				 (unsigned)p->uid, strerror(v.errnum));
	if (v.index < 0)
		return 0;
	vmsup_err(err, "%s: uid %u cannot %s it (%s)", paths[v.index], (unsigned)p->uid,
		  mode_words(modes[v.index]), strerror(v.errnum));
	return 1;
}

static const char *str_member(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int vmsup_peer_check_spec(const struct vmsup_peer *p, struct json_object *spec, char **err)
{
	/* kernel, initrd, disk, at most 4 data disks (spec.c's limit; more
	 * are refused there); shares have rules of their own (share.h) */
	const char *paths[3 + 4];
	int modes[3 + 4];
	size_t n = 0;
	struct json_object *arr;
	const char *s;

	if (!spec || !json_object_is_type(spec, json_type_object))
		return 0;
	if ((s = str_member(spec, "kernel"))) {
		paths[n] = s;
		modes[n++] = R_OK;
	}
	if ((s = str_member(spec, "initrd"))) {
		paths[n] = s;
		modes[n++] = R_OK;
	}
	if ((s = str_member(spec, "disk"))) {
		/* an overlay takes the writes; only "persistent" writes the image */
		const char *mode = str_member(spec, "disk_mode");
		paths[n] = s;
		modes[n++] = R_OK | (mode && !strcmp(mode, "persistent") ? W_OK : 0);
	}
	if (json_object_object_get_ex(spec, "disks", &arr) &&
	    json_object_is_type(arr, json_type_array)) {
		size_t len = json_object_array_length(arr);
		for (size_t i = 0; i < len && i < 4; i++) {
			struct json_object *dd = json_object_array_get_idx(arr, i);
			const char *mode;
			if (!json_object_is_type(dd, json_type_object) ||
			    !(s = str_member(dd, "path")))
				continue;
			mode = str_member(dd, "mode");
			paths[n] = s;
			modes[n++] = R_OK | (mode && !strcmp(mode, "persistent") ? W_OK : 0);
		}
	}
	return vmsup_peer_access(p, paths, modes, n, err);
}

int vmsup_user_resolve(const char *user, uid_t *uid, gid_t *gid, char **err)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end;
	unsigned long u, g;
	int rc;

	if (!user || !*user)
		return vmsup_err(err, "qemu_user: empty");
	u = strtoul(user, &end, 10);
	if (end != user && (*end == '\0' || *end == ':')) {
		if (*end == ':') {
			const char *gs = end + 1;
			g = strtoul(gs, &end, 10);
			if (end == gs || *end)
				return vmsup_err(err, "qemu_user '%s': expected uid:gid", user);
		} else {
			if ((rc = getpwuid_r((uid_t)u, &pw, buf, sizeof(buf), &res)) || !res)
				return vmsup_err(err, "qemu_user '%s': no such uid", user);
			g = res->pw_gid;
		}
		*uid = (uid_t)u;
		*gid = (gid_t)g;
		return 0;
	}
	if ((rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res)) || !res)
		return vmsup_err(err, "qemu_user '%s': no such user", user);
	*uid = res->pw_uid;
	*gid = res->pw_gid;
	return 0;
}

int vmsup_chown_for_user(const char *path, const char *user, char **err)
{
	uid_t uid;
	gid_t gid;

	if (vmsup_user_resolve(user, &uid, &gid, err))
		return -1;
	if (chown(path, uid, gid) < 0)
		return vmsup_err(err, "chown %s to %s: %s", path, user, strerror(errno));
	return 0;
}
