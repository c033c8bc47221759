/*
 * A seccomp filter for qemu that refuses to make setuid/setgid files.
 *
 * qemu's 9p export (security_model=none) does what the guest asks as
 * qemu's own user: behind a take's idmapped share (stage.h) qemu is the
 * owner of root's files, so a guest's chmod u+s would leave a setuid-root
 * file on the host (MOUNT_ATTR_NOSUID only stops it being honoured on that
 * one mount; the bit is on disk for any other path to the file). The
 * filter fails chmod, fchmod, fchmodat(2), mknod(at), mkdir(at) and a
 * creating open(at)/creat whose mode has S_ISUID or S_ISGID with EPERM,
 * and openat2 (whose mode the filter cannot read) with ENOSYS, so callers
 * fall back to openat. qemu itself never makes such files.
 */
#ifndef VMSUP_NOSUID_FILTER_H
#define VMSUP_NOSUID_FILTER_H

/*
 * Build the filter (with libseccomp, once per process; after a failure,
 * again at the next call): before a fork that installs it. 0, or -1 with
 * err (errno kept: EMFILE when out of descriptors).
 */
int vm_nosuid_filter_prepare(char **err);

/*
 * Install the built filter in the calling process (for the spawn child:
 * only async-signal-safe calls). Sets no_new_privs first where the caller
 * lacks CAP_SYS_ADMIN. 0, or -1 with errno (EINVAL: not built).
 */
int vm_nosuid_filter(void);

#endif
