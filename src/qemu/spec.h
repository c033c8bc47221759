/*
 * A VM spec (the body of POST /v1/vms): strictly typed, unknown fields
 * rejected, ranges and files checked, defaults filled from the config.
 */
#ifndef VMSUP_SPEC_H
#define VMSUP_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "src/qemu/config.h"
#include "src/qemu/net.h"
#include "src/util/bounds.h"

#define VM_MEM_MIN  VMSUP_MEM_MIN_MIB
#define VM_MEM_MAX  VMSUP_MEM_MAX_MIB
#define VM_CPUS_MAX VMSUP_CPUS_MAX

struct vm_share {
	char *path;
	bool readonly;
	char *qemu_path; /* not in the JSON: what qemu is given instead (below) */
};

/* A data disk: the same rules as the root disk (src/disk/); readonly
 * attaches the image itself read-only, with no overlay. */
struct vm_data_disk {
	char *path, *mode, *format;
	bool readonly;
};

#define VM_DATA_DISKS_MAX 4

struct vm_spec {
	char *name;
	unsigned mem_mib;
	unsigned cpus;
	char *accel;			       /* kvm | tcg | kvm:tcg */
	char *kernel, *initrd, *append, *disk; /* NULL when absent */
	/* the root disk (src/disk/): "overlay" (a qcow2 of the VM's own over
	 * the image, which is never written) or "persistent" (the image
	 * itself); the image's format as the caller named it (NULL: read
	 * from the image by qemu-img, once, at create) */
	char *disk_mode, *disk_format;
	struct vm_data_disk *disks; /* "disks": data disks, after the root */
	size_t ndisks;
	struct vm_share *shares;
	size_t nshares;
	char *restart; /* never | on-failure | always */
	bool start;
	bool guest;
	bool autostart;	   /* started each time vmsupd starts, if it is not running */
	struct vm_net net; /* "net" (src/qemu/net.h) */
	/* not in the JSON: templates and VMs restored from them get an empty
	 * 9p export (tag vmstage, host dir RUN_DIR/.../stage) that the guest
	 * does not mount at boot, so it does not block migration; a pool take
	 * binds a host directory into it (src/pool/pool.h) */
	bool stage;
	/* not in the JSON: no pvpanic device, for a VM restored from a
	 * template saved before VMs had one (the device sets must match) */
	bool no_pvpanic;
	/* likewise: no virtio-rng device (templates saved before VMs had one) */
	bool no_rng;
	/* not in the JSON either: guest RAM in this file (a template's RAM,
	 * src/snapshot/template.h), mapped shared (the template VM, whose RAM the save
	 * then skips: x-ignore-shared) or private (a VM restored from it:
	 * copy-on-write, so the file stays the template's); NULL = anonymous */
	char *ram_file;
	bool ram_shared;
	/* not in the JSON: the disk is a template's own (src/snapshot/tmpl-disk.h),
	 * checked when its maker made it: opened as the daemon */
	bool disk_trusted;
	/* not in the JSON: what qemu is given for kernel, initrd (and each
	 * share's qemu_path): /proc/self/fd/N of the descriptor the caller's
	 * check opened (src/files/), so qemu opens that very file; NULL: the
	 * path itself */
	char *kernel_qemu, *initrd_qemu;
};

/*
 * Validate j into out (zeroed first). Returns 0, or -1 with *err a message
 * fit for a 400 reply. cfg gives the defaults.
 */
int vm_spec_from_json(struct json_object *j, const struct vmsup_config *cfg, struct vm_spec *out,
		      char **err);

/*
 * The same for a spec read back from a state file: nothing is looked up
 * on the filesystem, so a VM whose kernel, initrd, share or image went
 * away while the daemon was down is still adopted (its qemu has them
 * open); the files are checked again when it is started.
 */
int vm_spec_from_stored(struct json_object *j, const struct vmsup_config *cfg, struct vm_spec *s,
			char **err);

/* Before a start: every file the spec names is still there (-1, *err
 * naming the first one that is not). */
int vm_spec_check_files(const struct vm_spec *s, char **err);

/* ["kernel: /path", "shares[0]: /dir", ...]: what a start would miss
 * (an empty array when nothing is). A new object. */
struct json_object *vm_spec_missing(const struct vm_spec *s);

/* The spec as JSON (for the state file; parses back with vm_spec_from_json). */
struct json_object *vm_spec_to_json(const struct vm_spec *s);

void vm_spec_release(struct vm_spec *s);

#endif
