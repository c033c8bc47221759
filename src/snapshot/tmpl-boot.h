#ifndef VMSUP_SNAPSHOT_TMPL_BOOT_H
#define VMSUP_SNAPSHOT_TMPL_BOOT_H
/*
 * A template's own copies of its kernel and initrd. The maker's files are
 * opened once, as the maker (a path checked and then handed to qemu may
 * point elsewhere by the time qemu opens it), and copied into the
 * template; the template's qemu and every restore read those copies
 * through inherited descriptors, never the maker's paths. A restore also
 * needs them: qemu loads -kernel into fw_cfg again, where the guest can
 * read it, even when RAM comes from the snapshot.
 */
#include "src/qemu/spec.h"
#include "src/util/peer.h"

#define TMPL_KERNEL_FILE "kernel"
#define TMPL_INITRD_FILE "initrd"

/*
 * Copy spec's kernel and initrd, opened as peer (NULL: the daemon, for
 * the configured default guest, whose paths are default_kernel and
 * default_initrd, may be NULL), into dir; put descriptors for the copies
 * in fds[VM_SPAWN_FILE_FD] and the next, and point spec's kernel_qemu and
 * initrd_qemu at them. -1 with *cls and *err.
 */
int tmpl_boot_copy(const struct vmsup_peer *peer, const char *default_kernel,
		   const char *default_initrd, struct vm_spec *spec, const char *dir, int *fds,
		   const char **cls, char **err);

/* For a restore: point spec's kernel_qemu and initrd_qemu at the
 * descriptors tmpl_boot_open will give, if dir has the copies (a template
 * made before it kept them has not: its VM reads the recorded paths). */
int tmpl_boot_paths(struct vm_spec *spec, const char *dir, char **err);

/* Open dir's copies for the paths tmpl_boot_paths set, into fds. */
int tmpl_boot_open(const struct vm_spec *spec, const char *dir, int *fds, char **err);

#endif
