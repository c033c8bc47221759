/*
 * Helpers of the limits tests on top of tests/lib/daemon-harness.h: reading
 * cgroup files, a process's CPU time, and running a command in the test
 * guest over ssh (argv, never a shell string on this side).
 */
#ifndef TESTS_VMSUPD_LIMITS_UTIL_H
#define TESTS_VMSUPD_LIMITS_UTIL_H

#include <stdbool.h>
#include <sys/types.h>

#include "tests/lib/daemon-harness.h"

/* dir/file as an integer; -2 if unreadable. */
long long lt_read_ll(const char *dir, const char *file);
/* Write text into dir/file; 0 or -1. */
int lt_write(const char *dir, const char *file, const char *text);
/* dirname of path (malloc'd). */
char *lt_parent(const char *path);
bool lt_exists(const char *path);
/* utime + stime of pid in seconds, -1 if gone. */
double lt_proc_cpu(pid_t pid);

/* The test guest dir ($VMSUP_GUEST_DIR or /tmp/guest); NULL = none (skip). */
const char *lt_guest_dir(void);
/* POST /v1/vms body for the test guest (static buffer). */
const char *lt_guest_spec(const char *name, int mem_mib, int cpus);

/*
 * ssh root@127.0.0.1 -p port with the guest's test_key; stdout into out
 * (NUL-terminated, may be NULL). Returns the exit status, or -1 on
 * timeout (the ssh is killed) or failure to run.
 */
int lt_ssh(int port, const char *cmd, char *out, size_t outlen, int timeout_ms);
/* Retry a trivial command until the guest's sshd answers; true if it did. */
bool lt_ssh_wait(int port, int timeout_ms);
/* MemTotal of the guest in kB, -1 on failure. */
long lt_guest_memtotal_kb(int port);

#endif
