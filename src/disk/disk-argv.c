/*
 * The disk on qemu's command line, as libvirt spells it since -blockdev:
 * every layer of the image is a node on a descriptor the caller opened
 * (-add-fd), with its format and its backing node named, so qemu never
 * probes a format nor opens a backing file by the name in a header.
 */
#include "src/disk/disk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "src/qemu/argv.h"
#include "src/util/err.h"

static int add2(char ***argv, const char *opt, const char *val)
{
	const char *more[] = {opt, val, NULL};
	return vm_argv_append(argv, more);
}

static int add_node(char ***argv, struct json_object *o)
{
	int rc = add2(argv, "-blockdev",
		      json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return rc;
}

static struct json_object *node(const char *driver, const char *name, bool ro)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "driver", json_object_new_string(driver));
	json_object_object_add(o, "node-name", json_object_new_string(name));
	json_object_object_add(o, "read-only", json_object_new_boolean(ro));
	return o;
}

/* Layer i of a's chain on qemu's fd (a->fd_base + i), in the fdset of that number. */
static int add_layer(char ***argv, const struct disk_attach *a, size_t i, bool ro)
{
	const struct disk_chain *c = a->chain;
	int fd = a->fd_base + (int)i;
	char buf[64], name[32], fname[40];
	struct json_object *o;

	snprintf(buf, sizeof(buf), "fd=%d,set=%d", fd, fd);
	snprintf(name, sizeof(name), "d%u-l%zu", a->index, i);
	snprintf(fname, sizeof(fname), "d%u-l%zu-file", a->index, i);
	if (add2(argv, "-add-fd", buf))
		return -1;
	o = node("file", fname, ro);
	snprintf(buf, sizeof(buf), "/dev/fdset/%d", fd);
	json_object_object_add(o, "filename", json_object_new_string(buf));
	if (add_node(argv, o))
		return -1;
	o = node(c->l[i].format, name, ro);
	json_object_object_add(o, "file", json_object_new_string(fname));
	if (!strcmp(c->l[i].format, "qcow2")) {
		/* the next layer, or none: never the name the header holds */
		snprintf(buf, sizeof(buf), "d%u-l%zu", a->index, i + 1);
		json_object_object_add(o, "backing",
				       i + 1 < c->n ? json_object_new_string(buf) : NULL);
	}
	return add_node(argv, o);
}

static int add_overlay(char ***argv, const struct disk_attach *a, char *root, size_t size)
{
	char fname[32], base[32];
	struct json_object *o;

	snprintf(fname, sizeof(fname), "d%u-ovl-file", a->index);
	snprintf(base, sizeof(base), "d%u-l0", a->index);
	snprintf(root, size, "d%u-ovl", a->index);
	o = node("file", fname, false);
	json_object_object_add(o, "filename", json_object_new_string(a->overlay));
	if (add_node(argv, o))
		return -1;
	o = node("qcow2", root, false);
	json_object_object_add(o, "file", json_object_new_string(fname));
	json_object_object_add(o, "backing", json_object_new_string(base));
	return add_node(argv, o);
}

int disk_argv(const struct disk_attach *a, char ***argv, char **err)
{
	char root[32], dev[128];

	/* deepest first: qemu resolves a backing node by a name defined before */
	for (size_t i = a->chain->n; i-- > 0;)
		if (add_layer(argv, a, i, a->overlay || a->readonly || i > 0))
			return vmsup_err(err, "out of memory");
	snprintf(root, sizeof(root), "d%u-l0", a->index);
	if (a->overlay && add_overlay(argv, a, root, sizeof(root)))
		return vmsup_err(err, "out of memory");
	snprintf(dev, sizeof(dev), "virtio-blk-pci,drive=%s,id=disk%u%s", root, a->index,
		 a->index == 0 ? ",bootindex=1" : "");
	if (add2(argv, "-device", dev))
		return vmsup_err(err, "out of memory");
	return 0;
}
