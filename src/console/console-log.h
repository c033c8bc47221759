/*
 * A VM's console log kept under a size cap: qemu appends the serial port
 * to console.log (append=on); once it passes the threshold the log is
 * copied to console.log.1 (the one old file kept) and truncated in place,
 * so qemu's open descriptor keeps writing to the new, empty log.
 */
#ifndef VMSUP_CONSOLE_LOG_H
#define VMSUP_CONSOLE_LOG_H

#include <sys/types.h>

/* Rotate path when it is at least threshold bytes: 1 rotated, 0 not
 * needed (or no log yet), -1 with *err. Bytes qemu writes between the
 * copy and the truncate are lost (a few, at serial speed). */
int console_log_rotate(const char *path, off_t threshold, char **err);

#endif
