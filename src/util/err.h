/*
 * The one error convention of src/: a function that fails returns -1 (or
 * NULL) and hands back a malloc'd message through a char **err the caller
 * frees. Where the caller must tell kinds of failure apart (the API does,
 * to pick a status), the function also sets a const char **cls to one of
 * the class names below (static strings, QMP's names where they fit).
 * The first error wins: a set *err or *cls is never overwritten, so a
 * cleanup path cannot hide the failure that caused it.
 *
 * Only src/daemon/ turns a class into an HTTP status (one table there).
 */
#ifndef VMSUP_ERR_H
#define VMSUP_ERR_H

#define VMSUP_EC_INVALID       "InvalidParameter"  /* the request is wrong */
#define VMSUP_EC_FORBIDDEN     "PermissionDenied"  /* the caller may not */
#define VMSUP_EC_NOT_FOUND     "NotFound"	   /* no such VM, template ... */
#define VMSUP_EC_CONFLICT      "Conflict"	   /* not in this state */
#define VMSUP_EC_POOL_MEMBER   "PoolMember"	   /* the pool owns this VM */
#define VMSUP_EC_POOL_MISMATCH "PoolMismatch"	   /* does not fit the template */
#define VMSUP_EC_POOL_EMPTY    "PoolEmpty"	   /* no pool VM and no template */
#define VMSUP_EC_DAMAGED       "TemplateDamaged"   /* its files are not what was saved */
#define VMSUP_EC_INTERNAL      "InternalError"	   /* our fault or the host's */
#define VMSUP_EC_QEMU	       "QemuError"	   /* qemu refused or failed */
#define VMSUP_EC_AGENT	       "AgentError"	   /* the guest agent failed */
#define VMSUP_EC_SAVE	       "SaveFailed"	   /* a snapshot could not be saved */
#define VMSUP_EC_SHARE	       "ShareFailed"	   /* a share could not be bound */
#define VMSUP_EC_MOUNT	       "GuestMountFailed"  /* the guest could not mount it */
#define VMSUP_EC_TIMEOUT       "Timeout"	   /* no answer in time */
#define VMSUP_EC_DISCONNECTED  "Disconnected"	   /* qemu's monitor went away */
#define VMSUP_EC_SHUTTING_DOWN "ShuttingDown"	   /* the daemon is stopping */
#define VMSUP_EC_NO_CGROUP     "CgroupUnavailable" /* no writable cgroupfs */
#define VMSUP_EC_UNSUPPORTED   "NotImplemented"	   /* not on this host */
#define VMSUP_EC_EXHAUSTED     "ResourceExhausted" /* no file descriptor left: retry later */

/* Set *err (if err is non-NULL and *err is still NULL) and return -1. */
int vmsup_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same, and *cls = class if cls is non-NULL and *cls is still NULL. */
int vmsup_errc(char **err, const char **cls, const char *class, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Does msg report a failure for want of file descriptors (EMFILE, ENFILE)?
 * The errno does not survive the layers a failure passes through (spawn,
 * QMP connect, a module's open), but each one formats it with strerror(),
 * so the message is what reaches the supervisor.
 */
int vmsup_err_is_fd_exhaustion(const char *msg);

#endif
