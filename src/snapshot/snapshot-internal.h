/* Shared by the snapshot module's files; not part of its interface. */
#ifndef VMSUP_SNAPSHOT_INTERNAL_H
#define VMSUP_SNAPSHOT_INTERNAL_H

/* Set *err (if err is non-NULL and *err still NULL) to a malloc'd message. */
void snap_seterr(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
