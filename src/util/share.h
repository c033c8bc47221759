/*
 * Which host directories a VM may share (9p), and opening one as the API's
 * caller, once: qemu then gets that descriptor, so what was checked is
 * what the guest sees, whatever the path points at later.
 */
#ifndef VMSUP_SHARE_H
#define VMSUP_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "src/util/peer.h"

struct vmsup_share_rules {
	char **roots; /* share_roots, resolved; none: any directory the rules allow */
	size_t nroots;
	const char *private_dirs[2]; /* the daemon's state and run dirs (resolved), or NULL */
};

/*
 * NULL if a share of the directory real (a resolved path, no symlinks)
 * is allowed; else the rule it breaks, a sentence: "/", the system
 * directories (/etc, /usr, /proc ... and anything in them), /var, /run,
 * /tmp and /home themselves, the daemon's own directories, a directory
 * that contains any of those, a directory outside share_roots. Written
 * into buf.
 */
const char *vmsup_share_rule(const char *real, const struct vmsup_share_rules *r, char *buf,
			     size_t size);

/*
 * Open path as the peer (p NULL: as the daemon) with no symbolic link
 * followed (openat2 RESOLVE_NO_SYMLINKS, else a walk of O_PATH|O_NOFOLLOW
 * opens), and refuse it unless the peer owns the directory or may write
 * it, may read and search it, and vmsup_share_rule allows where it really
 * is. 0 with *fd (O_PATH, close-on-exec), *dev and *ino; 1 with *err
 * naming the path and the rule; 2 with *err if there is no such directory;
 * -1 with *err if the check failed.
 */
int vmsup_share_open(const struct vmsup_peer *p, const char *path,
		     const struct vmsup_share_rules *r, int *fd, dev_t *dev, ino_t *ino,
		     char **err);

/* The same directory opened again by path as the daemon (its first
 * descriptor was lost with a daemon restart): -1 with *err unless it is
 * still the directory of device dev, inode ino. */
int vmsup_share_reopen(const char *path, dev_t dev, ino_t ino, int *fd, char **err);

#endif
