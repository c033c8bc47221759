/* Small files read whole (/proc, pid files, state files), and what /proc
 * says about a process. */
#ifndef VMSUP_PROC_H
#define VMSUP_PROC_H

#include <sys/types.h>

/* Up to size - 1 bytes of path into buf, NUL-terminated: the length, or -1
 * with errno. */
ssize_t vmsup_read_small(const char *path, char *buf, size_t size);

/* CPU time (user + system, seconds) of a process from /proc/PID/stat:
 * 0, or -1 with *err (first error wins). */
int vmsup_proc_cpu_seconds(pid_t pid, double *seconds, char **err);

#endif
