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

/* Layer i on qemu's fd (fd_base + i), in fdset 10 + i. */
static int add_layer(char ***argv, const struct disk_chain *c, size_t i, int fd_base, bool ro)
{
	char buf[64], name[32], fname[40];
	struct json_object *o;

	snprintf(buf, sizeof(buf), "fd=%d,set=%zu", fd_base + (int)i, 10 + i);
	snprintf(name, sizeof(name), "disk-l%zu", i);
	snprintf(fname, sizeof(fname), "disk-l%zu-file", i);
	if (add2(argv, "-add-fd", buf))
		return -1;
	o = node("file", fname, ro);
	snprintf(buf, sizeof(buf), "/dev/fdset/%zu", 10 + i);
	json_object_object_add(o, "filename", json_object_new_string(buf));
	if (add_node(argv, o))
		return -1;
	o = node(c->l[i].format, name, ro);
	json_object_object_add(o, "file", json_object_new_string(fname));
	if (!strcmp(c->l[i].format, "qcow2")) {
		/* the next layer, or none: never the name the header holds */
		snprintf(buf, sizeof(buf), "disk-l%zu", i + 1);
		json_object_object_add(o, "backing",
				       i + 1 < c->n ? json_object_new_string(buf) : NULL);
	}
	return add_node(argv, o);
}

int disk_argv(const struct disk_chain *c, const char *overlay, int fd_base, char ***argv,
	      char **err)
{
	const char *root = "disk-l0";
	struct json_object *o;

	for (size_t i = 0; i < c->n; i++)
		if (add_layer(argv, c, i, fd_base, overlay || i > 0))
			return vmsup_err(err, "out of memory");
	if (overlay) {
		o = node("file", "disk-ovl-file", false);
		json_object_object_add(o, "filename", json_object_new_string(overlay));
		if (add_node(argv, o))
			return vmsup_err(err, "out of memory");
		o = node("qcow2", "disk-root", false);
		json_object_object_add(o, "file", json_object_new_string("disk-ovl-file"));
		json_object_object_add(o, "backing", json_object_new_string("disk-l0"));
		if (add_node(argv, o))
			return vmsup_err(err, "out of memory");
		root = "disk-root";
	}
	{
		char dev[96];
		snprintf(dev, sizeof(dev), "virtio-blk-pci,drive=%s,id=disk0,bootindex=1", root);
		if (add2(argv, "-device", dev))
			return vmsup_err(err, "out of memory");
	}
	return 0;
}
