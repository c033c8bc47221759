/*
 * The staging share of a VM (vm_spec.stage): RUN_DIR/stage, exported to
 * the guest over 9p (tag vmstage) but not mounted by it at boot, so a
 * template can be saved with it (a mounted 9p share blocks migration).
 * A pool take binds a host directory to RUN_DIR/stage/share: qemu's local
 * 9p backend resolves paths from the export's root directory, so it sees a
 * mount below that root made after it started. Needs CAP_SYS_ADMIN.
 * When qemu does not run as the daemon (qemu_user) the bind is an
 * idmapped mount: the share's owner (on disk) appears as qemu's user, so
 * qemu serves a directory of root's or a caller's without access of its
 * own, and what the guest creates lands on disk as the share's owner.
 */
#ifndef VMSUP_STAGE_H
#define VMSUP_STAGE_H

#include <stdbool.h>

/* mkdir RUN_DIR/stage (0700, owned by user if not NULL). 0, or -1 with *err. */
int vm_stage_create(const char *run_dir, const char *user, char **err);

/* Bind host_dir to RUN_DIR/stage/share (read-only if ro): the directory of
 * descriptor fd when fd >= 0 (the one a check opened; host_dir then only
 * names it in errors), else the path. qemu's user is RUN_DIR/stage's owner:
 * not the daemon's uid, the bind is idmapped (nosuid, nodev) and fails where
 * the kernel or filesystem cannot idmap. 0, or -1 with *err (nothing
 * mounted). */
int vm_stage_bind(const char *run_dir, const char *host_dir, int fd, bool ro, char **err);

/* Undo both (lazy unmount: qemu may still hold files open). Never fails. */
void vm_stage_remove(const char *run_dir);

/*
 * The guest side, for guest-exec: argv that mounts the staging share and
 * binds its "share" directory to guest_path (read-only if ro).
 * A static array valid until the next call; guest_path is borrowed.
 */
const char *const *vm_stage_guest_argv(const char *guest_path, bool ro);

#endif
