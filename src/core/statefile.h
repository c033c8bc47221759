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

/* The file's text for vm (malloc'd), NULL out of memory. */
char *vm_statefile_text(const struct vm *vm);
/* state_dir/name.json replaced by text, or removed (text NULL), and the
 * directory synced: on disk when it returns 0. Blocks on the disk: the
 * daemon calls it from its writer thread (statewriter.h). */
int vm_statefile_store(const char *state_dir, const char *name, const char *text, char **err);
/* vm_statefile_text + vm_statefile_store (tests, the fuzzer). */
int vm_statefile_write(const char *state_dir, const struct vm *vm, char **err);
/* One state file as written by vm_statefile_write: a JSON object, or NULL
 * with *err (unreadable, too large, not an object). */
struct json_object *vm_statefile_read(const char *path, char **err);

/* Write a whole file atomically (also used by tests). */
int vmsup_write_atomic(const char *path, const char *data, size_t len, char **err);

#endif
