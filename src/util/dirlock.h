/*
 * One daemon per directory: an exclusive flock(2) on DIR/vmsupd.lock,
 * which also holds the holder's pid (for the message a second daemon
 * gives). The descriptor is close-on-exec, so no qemu inherits the lock.
 */
#ifndef VMSUP_DIRLOCK_H
#define VMSUP_DIRLOCK_H

#define VMSUP_LOCK_NAME "vmsupd.lock"

/*
 * Create dir (mode, parents must exist) if missing and lock its lock
 * file without waiting. Returns the descriptor (keep it open while the
 * lock is needed; closing it unlocks), or -1 with *err: "DIR/vmsupd.lock
 * is held by vmsupd pid N" when another process holds it.
 */
int vmsup_dir_lock(const char *dir, unsigned mode, char **err);

#endif
