/*
 * The files module (vm_files_module, registered by the daemon with the
 * context vm_files_new made): the kernel, the initrd and the 9p shares a
 * VM spec names, opened once as the API's caller at create (shares: by
 * the rules of src/util/share.h) and handed to qemu as descriptors
 * (/proc/self/fd/N), so qemu, which runs with more rights than the
 * caller, opens exactly what the caller could; a share of root's VM whose
 * qemu is the default qemu_user goes as a detached idmapped mount of the
 * opened directory (vmsup_vm_share_idmap). The status's "files"
 * object records which files they are, so a VM of an earlier daemon is
 * started again only on the same files.
 */
#ifndef VMSUP_VM_FILES_H
#define VMSUP_VM_FILES_H

#include "src/core/module.h"
#include "src/qemu/config.h"
#include "src/util/share.h"

struct vm_files_ctx;

/* share_roots and the daemon's own directories, resolved; NULL with *err
 * if a share root does not exist. */
struct vm_files_ctx *vm_files_new(const struct vmsup_config *cfg, char **err);
void vm_files_free(struct vm_files_ctx *c);

/* The share rules of c (for a pool take's share, src/daemon/api-pool.c). */
const struct vmsup_share_rules *vm_files_rules(const struct vm_files_ctx *c);

extern const struct vm_module vm_files_module;

#endif
