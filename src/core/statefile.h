/*
 * The state dir: one JSON file per VM (spec + runtime facts), replaced
 * atomically (temp file, fsync, rename) at each change, for reattach.
 */
#ifndef VMSUP_STATEFILE_H
#define VMSUP_STATEFILE_H

#include "src/core/vm.h"

int vm_statefile_write(const char *state_dir, const struct vm *vm, char **err);
int vm_statefile_remove(const char *state_dir, const char *name, char **err);

/* Write a whole file atomically (also used by tests). */
int vmsup_write_atomic(const char *path, const char *data, size_t len, char **err);

#endif
