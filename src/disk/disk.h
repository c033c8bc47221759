/*
 * A VM's disk image, read and opened as the API's caller: the image's
 * backing chain (qemu-img info), each layer opened by the caller and kept
 * as a descriptor for qemu, and the qcow2 overlay that takes a VM's writes
 * so the image itself is never written. Knows nothing of VMs.
 */
#ifndef VMSUP_DISK_H
#define VMSUP_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "src/util/peer.h"

/* Layers of an image a VM may use: the image and its backing files. */
#define DISK_CHAIN_MAX 8

struct disk_layer {
	char *path;   /* as qemu-img resolved it */
	char *format; /* "raw" or "qcow2" */
	uint64_t virtual_size;
	int fd; /* opened by the caller; -1 once closed (daemon restart) */
	dev_t dev;
	ino_t ino;
};

struct disk_chain {
	struct disk_layer l[DISK_CHAIN_MAX]; /* l[0] the image the user named */
	size_t n;
};

/*
 * Read path's chain with `qemu_img info --output=json --backing-chain`
 * run as peer (format: the caller's word for the top, NULL = read from
 * the file), refuse what qemu should not be handed (other formats, a
 * qcow2 external data file, a protocol name, a chain deeper than
 * DISK_CHAIN_MAX), then open every layer as peer (the top read-write if
 * writable). 0; or -1 with *cls (PermissionDenied: the peer may not read
 * a layer; InvalidParameter otherwise) and *err.
 */
int disk_chain_open(const char *qemu_img, const struct vmsup_peer *peer, const char *path,
		    const char *format, bool writable, struct disk_chain *c, const char **cls,
		    char **err);

/*
 * A layer whose descriptor was lost (the daemon restarted) opened again
 * by its path as the daemon, refused unless it is still the file the
 * caller's check opened (same device and inode).
 */
int disk_layer_reopen(struct disk_layer *l, bool writable, char **err);

void disk_chain_close(struct disk_chain *c);
void disk_chain_free(struct disk_chain *c);

/*
 * A qcow2 overlay at path over base (format fmt, size bytes): made with
 * qemu-img create -u (the base is not opened: qemu gets it as a
 * descriptor, and the name in the header is for people only).
 */
int disk_overlay_create(const char *qemu_img, const char *path, const char *base, const char *fmt,
			uint64_t size, char **err);

/* One disk on qemu's command line. */
struct disk_attach {
	const struct disk_chain *chain;
	const char *overlay; /* a qcow2 over the image; NULL: the image itself */
	bool readonly;	     /* without overlay: the image, read-only */
	unsigned index;	     /* 0: the root disk (bootindex 1); names its nodes */
	int fd_base;	     /* qemu's fd of chain->l[0], the next layers after it */
};

/*
 * qemu's arguments for one disk: a node per layer on its descriptor
 * (-add-fd, fdset numbered as the fd), format and backing spelled out;
 * the overlay's node over the image, or the image written in place (or
 * read-only); a virtio-blk device. Appended to *argv.
 */
int disk_argv(const struct disk_attach *a, char ***argv, char **err);

#endif
