/*
 * The state dir: one JSON file per VM (spec + runtime facts), replaced
 * atomically (temp file, fsync, rename) at each change, for reattach.
 */
#ifndef VMSUP_STATEFILE_H
#define VMSUP_STATEFILE_H

#include "src/core/vm.h"

#include <json-c/json.h>

/* The layout written and read back ("version"); reattach refuses others. */
#define VM_STATEFILE_VERSION 1
/* A state file larger than this is not ours. */
#define VM_STATEFILE_MAX (1 << 20)

int vm_statefile_write(const char *state_dir, const struct vm *vm, char **err);
/* One state file as written by vm_statefile_write: a JSON object, or NULL
 * with *err (unreadable, too large, not an object). */
struct json_object *vm_statefile_read(const char *path, char **err);
int vm_statefile_remove(const char *state_dir, const char *name, char **err);

/* Write a whole file atomically (also used by tests). */
int vmsup_write_atomic(const char *path, const char *data, size_t len, char **err);

#endif
