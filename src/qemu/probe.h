/* What the installed qemu can do, asked once at daemon start-up. */
#ifndef VMSUP_PROBE_H
#define VMSUP_PROBE_H

#include <stdbool.h>

/*
 * Runs `qemu -sandbox VM_SANDBOX_OPTS -version` (and plain `-version` if
 * that fails): *sandbox says whether -sandbox is usable, *version is
 * "X.Y.Z" (malloc'd). -1 with *err if qemu cannot be run at all.
 */
int vm_probe_qemu(const char *qemu, bool *sandbox, char **version, char **err);

#endif
