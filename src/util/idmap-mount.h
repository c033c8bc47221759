/*
 * Idmapped bind mounts (Linux 5.12+): a directory mounted somewhere else
 * with its on-disk owner shown as another user, so an unprivileged
 * process (qemu as qemu_user) can serve a directory it does not own, and
 * what it creates lands on disk as the directory's owner.
 */
#ifndef VMSUP_IDMAP_MOUNT_H
#define VMSUP_IDMAP_MOUNT_H

#include <stdbool.h>
#include <sys/types.h>

/*
 * Mount the directory of descriptor fd (any fd, O_PATH too; not its
 * submounts) on target, nosuid and nodev (and read-only if ro), with
 * on-disk uid from_uid / gid from_gid shown as to_uid / to_gid and no
 * other ids mapped. what names the directory in errors. 0, or -1 with
 * *err; on failure nothing is mounted. Needs CAP_SYS_ADMIN and
 * CAP_SETUID/CAP_SETGID (to write the maps).
 */
int vmsup_idmap_bind(int fd, const char *what, const char *target, uid_t from_uid, gid_t from_gid,
		     uid_t to_uid, gid_t to_gid, bool ro, char **err);

#endif
