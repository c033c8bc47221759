/*
 * The template store: STATE_DIR/templates/NAME/{state,meta.json}, one
 * directory per template, made atomically (built under a hidden temporary
 * name, renamed into place once the state file and meta.json are durable),
 * so a crash never leaves a half-made template that looks complete.
 *
 * meta.json:
 *   {"format":1, "name":"...", "created":UNIX_S,
 *    "qemu_version":"X.Y.Z", "qemu_package":"...",
 *    "devconfig":[...],   the qemu argv minus per-VM parts (snapshot.h)
 *    "mac":"52:54:00:..", the NIC MAC the guest booted with
 *    "spec":{...},        the caller's VM spec, opaque here (vmsupd: POST /v1/vms body)
 *    "state_bytes":N, "ram_total":N, "ram_zero_pages":N, "save_ms":X,
 *    "ram_file":"ram", "ram_bytes":N}  guest RAM in its own file (optional):
 *                  the state then holds device state only (x-ignore-shared)
 *    "state_sha256":"..", "ram_sha256":".."  the files at save (tmpl-hash.h)
 */
#ifndef VMSUP_TEMPLATE_H
#define VMSUP_TEMPLATE_H

#include <json-c/json.h>

#include "src/snapshot/snapshot.h"

#define TMPL_FORMAT   1
#define TMPL_NAME_MAX 63

/* Same rule as VM names: [A-Za-z0-9][A-Za-z0-9_.-]{0,62}. 0, or -1 with *err. */
int tmpl_name_check(const char *name, char **err);

/* A template being made. */
struct tmpl_new {
	char *tmp_dir;	  /* STATE_DIR/templates/.NAME.XXXXXX (0700) */
	char *final_dir;  /* STATE_DIR/templates/NAME */
	char *state_path; /* tmp_dir/state: give it to snap_save */
	char *ram_path;	  /* tmp_dir/ram: the template VM's RAM, mapped shared */
	char *name;
};

/* meta.json fields for a RAM file of ram_bytes (tmpl_open checks them). */
void tmpl_meta_set_ram(struct json_object *meta, unsigned long long ram_bytes);

/*
 * Start a template: creates STATE_DIR/templates (0700) if needed and the
 * temporary directory. Fails if NAME already exists. 0, or -1 with *err.
 */
int tmpl_begin(const char *state_dir, const char *name, struct tmpl_new *t, char **err);

/*
 * The meta object for a finished save: devconfig and spec are borrowed
 * (copied by reference count), qemu_package may be NULL.
 */
struct json_object *tmpl_meta_new(const char *name, const char *qemu_version,
				  const char *qemu_package, struct json_object *devconfig,
				  struct json_object *spec, const struct snap_stats *st);

/* Hash t's state and RAM files into meta (state_sha256, ram_sha256). */
int tmpl_meta_set_hashes(struct tmpl_new *t, struct json_object *meta, char **err);

/* Write meta.json (fsync'd) and move the template into place; t is released. */
int tmpl_commit(struct tmpl_new *t, struct json_object *meta, char **err);
/* Remove the temporary directory; t is released. Safe on a zeroed t. */
void tmpl_abort(struct tmpl_new *t);

/* An existing template, checked. */
struct tmpl {
	char *dir, *state_path;
	struct json_object *meta;	       /* owned */
	const char *name, *qemu_version, *mac; /* borrowed from meta; mac may be NULL */
	struct json_object *devconfig, *spec;  /* borrowed from meta; spec may be NULL */
	unsigned long long state_bytes;
	char *ram_path;		      /* dir/ram when the template has a RAM file, else NULL */
	unsigned long long ram_bytes; /* its recorded size */
	/* sha256 (hex) of the files at save, borrowed from meta; NULL for a
	 * template saved before they were recorded */
	const char *state_sha256, *ram_sha256;
};

/*
 * Open STATE_DIR/templates/NAME and validate it: meta.json parses, has the
 * current format and every field with its type, and the state file exists
 * with the recorded size (a truncated or replaced file is refused here,
 * before any qemu is started). NULL with *err.
 */
struct tmpl *tmpl_open(const char *state_dir, const char *name, char **err);
void tmpl_close(struct tmpl *t);

/*
 * Can a qemu of version qemu_version started with argv (the new VM's own
 * command line, before snap_restore_argv() is added) load this template?
 * 0, or -1 with *err (version differs, device configuration differs).
 */
int tmpl_check_vm(const struct tmpl *t, const char *qemu_version, const char *const *argv,
		  char **err);

/*
 * {"templates":[{"name","created","qemu_version","state_bytes","ram_total",
 * "mac"} or {"name","error"} for a broken one]}, sorted by name. NULL with *err.
 */
struct json_object *tmpl_list(const char *state_dir, char **err);

/*
 * Read every byte of template NAME's files and check them against the
 * sha256 recorded at save (tmpl-verify.c). {"name","ok":true,"verify_ms",
 * "files":[{"file":"state"|"ram","bytes","sha256","recorded"}]} ("recorded"
 * null: saved before hashes were, only the size is checked). NULL with
 * *err naming the first file that differs and *cls: NotFound, or
 * TemplateDamaged (a file or meta.json is not what was saved).
 */
struct json_object *tmpl_verify(const char *state_dir, const char *name, const char **cls,
				char **err);

/* Remove a template (its directory). -1 with *err if unknown. */
int tmpl_rm(const char *state_dir, const char *name, char **err);

#endif
