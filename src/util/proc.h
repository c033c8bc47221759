/* What /proc says about a process. */
#ifndef VMSUP_PROC_H
#define VMSUP_PROC_H

#include <sys/types.h>

/* CPU time (user + system, seconds) of a process from /proc/PID/stat:
 * 0, or -1 with *err (first error wins). */
int vmsup_proc_cpu_seconds(pid_t pid, double *seconds, char **err);

#endif
