/*
 * Idmapped mounts (Linux 5.12+): a directory mounted somewhere else, or
 * held detached by a descriptor, with its on-disk owner shown as another
 * user, so an unprivileged process (qemu as qemu_user) can serve a
 * directory it does not own, and what it creates lands on disk as the
 * directory's owner.
 */
#ifndef VMSUP_IDMAP_MOUNT_H
#define VMSUP_IDMAP_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * A detached, idmapped copy of the mount of the directory of descriptor
 * fd (any fd, O_PATH too; not its submounts): nosuid and nodev (and
 * read-only if ro), with on-disk uid from_uid / gid from_gid shown as
 * to_uid / to_gid and no other ids mapped. It is in no mount table: a
 * process handed the descriptor reaches the directory through it
 * (/proc/self/fd/N) and the mount goes with the last descriptor, so there
 * is nothing to unmount. what names the directory in errors. The
 * descriptor (O_CLOEXEC), or -1 with *err. Needs CAP_SYS_ADMIN and
 * CAP_SETUID/CAP_SETGID (to write the maps).
 */
int vmsup_idmap_clone(int fd, const char *what, uid_t from_uid, gid_t from_gid, uid_t to_uid,
		      gid_t to_gid, bool ro, char **err);

/*
 * vmsup_idmap_clone's mount attached on target. 0, or -1 with *err; on
 * failure nothing is mounted.
 */
int vmsup_idmap_bind(int fd, const char *what, const char *target, uid_t from_uid, gid_t from_gid,
		     uid_t to_uid, gid_t to_gid, bool ro, char **err);

#endif
