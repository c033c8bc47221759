/*
 * Who is on the other end of an API connection (SO_PEERCRED plus the
 * supplementary groups), and whether that peer could open the files a VM
 * spec names by itself: the daemon runs qemu with more rights than its
 * callers, so it must not become a way to read (or write) what they cannot.
 */
#ifndef VMSUP_PEER_H
#define VMSUP_PEER_H

#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <json-c/json.h>

#define VMSUP_PEER_MAX_GROUPS 256

struct vmsup_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	gid_t groups[VMSUP_PEER_MAX_GROUPS]; /* supplementary, at connect time */
	int ngroups;
};

/* Credentials of the process connected on unix socket fd; -1 with *err. */
int vmsup_peer_get(int fd, struct vmsup_peer *p, char **err);

/* gid is the peer's primary or one of its supplementary groups. */
bool vmsup_peer_in_group(const struct vmsup_peer *p, gid_t gid);

/*
 * May the peer use the API: root, the daemon's own uid, or a member of
 * api_gid ((gid_t)-1: no api group) by its primary or a supplementary
 * group. Decided on the credentials vmsup_peer_get read from the socket
 * (the kernel's copy from connect()), never on /proc/PID: the same ones
 * the file checks use, and a pid that is reused cannot lend its groups.
 */
bool vmsup_peer_api_allowed(const struct vmsup_peer *p, gid_t api_gid);

/*
 * Could the peer access each path itself with the given access(2) mode
 * (R_OK, W_OK, X_OK)? Checked by the kernel in a short-lived child that
 * takes on the peer's uid, gid and groups (so directory search rights,
 * ACLs and every other rule apply as they would to the peer). Root peers
 * pass without a check. Paths that do not exist pass: whoever uses them
 * reports that. Returns 0 if all pass, 1 with *err naming the first path
 * refused, -1 with *err if the check itself failed.
 */
int vmsup_peer_access(const struct vmsup_peer *p, const char *const *paths, const int *modes,
		      size_t n, char **err);

/*
 * The files a POST /v1/vms body names: kernel and initrd (read), disk
 * (read, and write with "disk_mode": "persistent"; its backing files are
 * the disk module's, src/disk/). Shares are held to the rules of
 * src/util/share.h when they are opened. Members of the wrong type are skipped here;
 * spec validation rejects them. Same returns as vmsup_peer_access.
 */
int vmsup_peer_check_spec(const struct vmsup_peer *p, struct json_object *spec, char **err);

/*
 * In a forked child: take on the peer's uid, gid and groups for good (no
 * change for NULL, a root peer or the daemon's own uid). Async-signal-safe;
 * -1 with errno.
 */
int vmsup_peer_become(const struct vmsup_peer *p);

/*
 * Run argv (execvp) as the peer and wait for it: its stdout, at most max
 * bytes, into *out (NUL-terminated), its stderr's last line into *why (or
 * NULL), its wait status into *status. -1 with *err if it could not be
 * run or said more than max; else 0, whatever the exit status.
 */
int vmsup_peer_run(const struct vmsup_peer *p, char *const argv[], size_t max, char **out,
		   char **why, int *status, char **err);

/*
 * Open each paths[i] with flags[i] (O_CLOEXEC added) as the peer, in a
 * child that takes on its credentials, and hand the descriptors back
 * (SCM_RIGHTS) into fds[i]: what qemu later gets is what the peer itself
 * opened, whatever the paths point at by then. 0 with all fds open; 1 with
 * *err naming the first path the peer could not open (none left open);
 * -1 with *err if the open could not be tried.
 */
int vmsup_peer_open(const struct vmsup_peer *p, const char *const *paths, const int *flags,
		    size_t n, int *fds, char **err);

/*
 * path opened read-only as the peer (vmsup_peer_open; NULL: the daemon)
 * and a regular file: its descriptor into *fd, its stat into *st. -1 with
 * *cls (VMSUP_EC_FORBIDDEN, _INVALID or _INTERNAL) and *err naming what
 * ("kernel"), nothing left open.
 */
int vmsup_peer_open_regular(const struct vmsup_peer *p, const char *what, const char *path, int *fd,
			    struct stat *st, const char **cls, char **err);

/*
 * How vmsup_peer_open_with opens one path in the child, already the peer:
 * a descriptor, or -1 with errno. Runs between fork and _exit.
 */
typedef int (*vmsup_peer_opener)(const char *path, int flags);

/* As vmsup_peer_open, each path opened by fn (NULL: open(2)); on 1 the
 * refused path's errno also into *errnum (unless NULL). */
int vmsup_peer_open_with(const struct vmsup_peer *p, const char *const *paths, const int *flags,
			 size_t n, vmsup_peer_opener fn, int *fds, int *errnum, char **err);

/* "name", "uid" or "uid:gid" (the forms qemu's -runas takes) to ids. */
int vmsup_user_resolve(const char *user, uid_t *uid, gid_t *gid, char **err);

/* Give path (a VM's 0700 run dir) to that user, so a qemu that dropped to
 * it with -runas can still remove its pidfile and sockets there. */
int vmsup_chown_for_user(const char *path, const char *user, char **err);

#endif
