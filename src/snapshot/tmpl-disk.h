/*
 * A template's disk (issue 21). The template VM boots its image through a
 * qcow2 overlay made in the template's directory; after the save that
 * overlay is the template's disk: read-only, hashed, and recorded with the
 * identity of every base file under it, since the saved RAM only matches
 * those bytes. Restored VMs get their own overlay over it (the disk
 * module), and a restore is refused (TemplateDamaged) once the disk or a
 * base file is not what the save saw.
 */
#ifndef VMSUP_TMPL_DISK_H
#define VMSUP_TMPL_DISK_H

#include <json-c/json.h>

#include "src/disk/disk.h"
#include "src/qemu/spec.h"
#include "src/snapshot/template.h"
#include "src/util/peer.h"

/* The disk's file in a template's directory. */
#define TMPL_DISK_FILE "disk.qcow2"

struct tmpl_disk {
	struct disk_chain chain; /* the image, opened as the template's maker */
	char *path;		 /* TMP_DIR/disk.qcow2 */
};

/* spec's disk read and opened as peer, the overlay made in tmp_dir. 0 (and
 * nothing to do without a disk), or -1 with *cls and *err. */
int tmpl_disk_begin(const struct vmsup_peer *peer, const struct vm_spec *spec, const char *tmp_dir,
		    struct tmpl_disk *td, const char **cls, char **err);

/* The template VM's disk arguments, its descriptors into fds (qemu's
 * fds 3 + VM_SPAWN_DISK_FD ..), as the disk module gives a VM's. */
int tmpl_disk_argv(struct tmpl_disk *td, char ***argv, int *fds, char **err);

/*
 * After the save, before the commit: the overlay made read-only, its
 * size, ctime and sha256 and each base file's identity into meta's
 * "disk"; spec_json's disk now names the template's own copy in final_dir.
 */
int tmpl_disk_seal(struct tmpl_disk *td, const char *final_dir, struct json_object *meta,
		   struct json_object *spec_json, char **err);

/* At a restore: 0 if t has no disk or its disk and base files are as
 * saved; -1 with *err naming the file that changed. */
int tmpl_disk_check(const struct tmpl *t, char **err);

void tmpl_disk_free(struct tmpl_disk *td);

#endif
