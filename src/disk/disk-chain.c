/*
 * An image's backing chain, read and opened as the API's caller. A qcow2
 * header may name any host file as its backing file (or data file): qemu
 * running as root would open it for a caller who could not. So the chain
 * is read by qemu-img running with the caller's credentials, every layer
 * is opened by the caller, and qemu is later handed those descriptors
 * with the format and backing of each layer spelled out (disk-argv.c),
 * never a path it resolves itself.
 */
#include "src/disk/disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "src/util/err.h"

/* qemu-img's JSON for a chain of DISK_CHAIN_MAX layers is a few KiB */
#define INFO_MAX (256 * 1024)

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int run_info(const char *qemu_img, const struct vmsup_peer *peer, const char *path,
		    const char *format, char **out, const char **cls, char **err)
{
	char *argv[10], *why = NULL;
	int i = 0, st = 0;

	argv[i++] = (char *)qemu_img;
	argv[i++] = "info";
	argv[i++] = "--output=json";
	argv[i++] = "--backing-chain";
	argv[i++] = "-U"; /* a base another VM runs on is read, not locked */
	if (format) {
		argv[i++] = "-f";
		argv[i++] = (char *)format;
	}
	argv[i++] = (char *)path;
	argv[i] = NULL;
	if (vmsup_peer_run(peer, argv, INFO_MAX, out, &why, &st, err)) {
		*cls = VMSUP_EC_INTERNAL;
		free(why);
		return -1;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		free(why);
		return 0;
	}
	/* qemu-img names the file it could not open, and why */
	*cls = why && strstr(why, "Permission denied") ? VMSUP_EC_FORBIDDEN : VMSUP_EC_INVALID;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		vmsup_err(err, "'disk': %s could not be run", qemu_img);
	else
		vmsup_err(err, "'disk': %s: %s", path, why ? why : "qemu-img info failed");
	free(why);
	free(*out);
	*out = NULL;
	return -1;
}

/* One element of qemu-img's array into l (path and format only). */
static int take_layer(struct json_object *e, size_t i, struct disk_layer *l, char **err)
{
	const char *file = jstr(e, "filename"), *fmt = jstr(e, "format");
	struct json_object *fs, *data, *df, *vs;

	if (!file || !fmt)
		return vmsup_err(err, "'disk': qemu-img info gave no file name or format");
	if (file[0] != '/')
		return vmsup_err(err, "'disk': layer %zu is '%s', not a file by absolute path", i,
				 file);
	if (strcmp(fmt, "raw") && strcmp(fmt, "qcow2"))
		return vmsup_err(err, "'disk': %s is %s; raw and qcow2 are supported", file, fmt);
	/* an external data file is a second host file the header names */
	if (json_object_object_get_ex(e, "format-specific", &fs) &&
	    json_object_object_get_ex(fs, "data", &data) &&
	    json_object_object_get_ex(data, "data-file", &df))
		return vmsup_err(err, "'disk': %s has an external data file; not supported", file);
	if (json_object_object_get_ex(e, "virtual-size", &vs))
		l->virtual_size = (uint64_t)json_object_get_int64(vs);
	if (!(l->path = strdup(file)) || !(l->format = strdup(fmt)))
		return vmsup_err(err, "out of memory");
	l->fd = -1;
	return 0;
}

static int parse_chain(const char *json, struct disk_chain *c, char **err)
{
	struct json_object *a = json_tokener_parse(json);
	size_t n;
	int rc = 0;

	if (!a || !json_object_is_type(a, json_type_array)) {
		json_object_put(a);
		return vmsup_err(err, "'disk': qemu-img info did not answer a JSON array");
	}
	n = json_object_array_length(a);
	if (n == 0 || n > DISK_CHAIN_MAX)
		rc = vmsup_err(err, "'disk': a chain of %zu images; at most %d", n, DISK_CHAIN_MAX);
	for (size_t i = 0; !rc && i < n; i++) {
		rc = take_layer(json_object_array_get_idx(a, i), i, &c->l[i], err);
		c->n = i + 1;
	}
	json_object_put(a);
	return rc;
}

/* Open every layer as the peer; remember which file each one is. */
static int open_layers(const struct vmsup_peer *peer, bool writable, struct disk_chain *c,
		       const char **cls, char **err)
{
	const char *paths[DISK_CHAIN_MAX];
	int flags[DISK_CHAIN_MAX], fds[DISK_CHAIN_MAX], rc;

	for (size_t i = 0; i < c->n; i++) {
		paths[i] = c->l[i].path;
		flags[i] = i == 0 && writable ? O_RDWR : O_RDONLY;
	}
	rc = vmsup_peer_open(peer, paths, flags, c->n, fds, err);
	if (rc) {
		*cls = rc > 0 ? VMSUP_EC_FORBIDDEN : VMSUP_EC_INTERNAL;
		return -1;
	}
	for (size_t i = 0; i < c->n; i++) {
		struct stat st;
		c->l[i].fd = fds[i];
		if (fstat(fds[i], &st) < 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))) {
			*cls = VMSUP_EC_INVALID;
			return vmsup_err(err, "'disk': %s: not a regular file or block device",
					 c->l[i].path);
		}
		c->l[i].dev = st.st_dev;
		c->l[i].ino = st.st_ino;
	}
	return 0;
}

int disk_chain_open(const char *qemu_img, const struct vmsup_peer *peer, const char *path,
		    const char *format, bool writable, struct disk_chain *c, const char **cls,
		    char **err)
{
	char *json = NULL;

	memset(c, 0, sizeof(*c));
	if (run_info(qemu_img, peer, path, format, &json, cls, err))
		return -1;
	if (parse_chain(json, c, err)) {
		*cls = VMSUP_EC_INVALID;
		free(json);
		disk_chain_free(c);
		return -1;
	}
	free(json);
	if (open_layers(peer, writable, c, cls, err)) {
		disk_chain_free(c);
		return -1;
	}
	return 0;
}

int disk_layer_reopen(struct disk_layer *l, bool writable, char **err)
{
	struct stat st;
	int fd;

	if (l->fd >= 0)
		return 0;
	fd = open(l->path, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vmsup_err(err, "disk image %s: %s", l->path, strerror(errno));
	if (fstat(fd, &st) < 0 || st.st_dev != l->dev || st.st_ino != l->ino) {
		close(fd);
		return vmsup_err(
		    err,
		    "disk image %s is no longer the file checked when the VM was "
		    "created (device %lu inode %lu); destroy the VM and create it again",
		    l->path, (unsigned long)l->dev, (unsigned long)l->ino);
	}
	l->fd = fd;
	return 0;
}

void disk_chain_close(struct disk_chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->l[i].fd >= 0) {
			close(c->l[i].fd);
			c->l[i].fd = -1;
		}
}

void disk_chain_free(struct disk_chain *c)
{
	disk_chain_close(c);
	for (size_t i = 0; i < c->n; i++) {
		free(c->l[i].path);
		free(c->l[i].format);
	}
	memset(c, 0, sizeof(*c));
}
