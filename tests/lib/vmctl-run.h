#ifndef VMSUP_TESTS_VMCTL_RUN_H
#define VMSUP_TESTS_VMCTL_RUN_H
/*
 * The real vmctl (the build's) against the harness's daemon, as a user
 * runs it.
 */
#include <stddef.h>

#include "tests/lib/daemon-harness.h"

/* Run `vmctl --socket d->sock ARGS...` (NULL-terminated); its stdout and
 * stderr into out (size n, NUL-terminated). Returns its exit status
 * (128+N for a signal). */
int td_vmctl(struct tdaemon *d, char *out, size_t n, ...);

#endif
