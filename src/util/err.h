/*
 * Error strings for libvmsup: functions that fail return -1 (or NULL) and
 * hand back a malloc'd message through a char **err the caller frees.
 */
#ifndef VMSUP_ERR_H
#define VMSUP_ERR_H

/* Set *err (if err is non-NULL and *err is still NULL) and return -1. */
int vmsup_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
