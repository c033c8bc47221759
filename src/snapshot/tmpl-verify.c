/*
 * A template's files against what was saved, byte for byte (see
 * template.h): what `vmctl template verify` runs. A restore checks less
 * (the RAM only when its sealed copy is made, tmpl-ram.h), because a
 * verify of a multi-GiB RAM file costs seconds.
 */
#include "src/snapshot/template.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "src/util/err.h"
#include "src/snapshot/tmpl-hash.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int check_file(struct json_object *files, const char *file, const char *path,
		      unsigned long long bytes, const char *recorded, char **err)
{
	struct json_object *f;
	char hex[TMPL_SHA256_HEX];

	if (tmpl_hash_check(path, recorded, hex, err))
		return -1;
	f = json_object_new_object();
	json_object_object_add(f, "file", json_object_new_string(file));
	json_object_object_add(f, "bytes", json_object_new_int64((int64_t)bytes));
	json_object_object_add(f, "sha256", json_object_new_string(hex));
	/* null: saved before hashes were recorded, only the size was checked */
	json_object_object_add(f, "recorded", recorded ? json_object_new_string(recorded) : NULL);
	json_object_array_add(files, f);
	return 0;
}

/* A template's disk (tmpl-disk.h): meta's "disk" names its file, size and hash. */
static int check_disk(struct json_object *files, const struct tmpl *t, char **err)
{
	struct json_object *d, *f, *b, *h;
	char *path = NULL;
	int rc;

	if (!json_object_object_get_ex(t->meta, "disk", &d))
		return 0;
	if (!json_object_object_get_ex(d, "file", &f) ||
	    !json_object_object_get_ex(d, "bytes", &b) ||
	    !json_object_object_get_ex(d, "sha256", &h) || strchr(json_object_get_string(f), '/'))
		return vmsup_err(err, "template '%s': meta.json's disk is incomplete", t->name);
	if (asprintf(&path, "%s/%s", t->dir, json_object_get_string(f)) < 0)
		return vmsup_err(err, "out of memory");
	rc = check_file(files, "disk", path, (unsigned long long)json_object_get_int64(b),
			json_object_get_string(h), err);
	free(path);
	return rc;
}

struct json_object *tmpl_verify(const char *state_dir, const char *name, const char **cls,
				char **err)
{
	struct json_object *o, *files;
	struct tmpl *t;
	double t0 = now_ms();
	char *dir = NULL;
	struct stat sb;
	int missing;

	if (asprintf(&dir, "%s/templates/%s", state_dir, name) < 0) {
		vmsup_errc(err, cls, VMSUP_EC_INTERNAL, "out of memory");
		return NULL;
	}
	missing = stat(dir, &sb) < 0 && errno == ENOENT;
	free(dir);
	if (missing) {
		vmsup_errc(err, cls, VMSUP_EC_NOT_FOUND, "no template named '%s'", name);
		return NULL;
	}
	/* sizes, meta.json: a template that does not even open is damaged too */
	if (!(t = tmpl_open(state_dir, name, err))) {
		vmsup_errc(err, cls, VMSUP_EC_DAMAGED, "template '%s' cannot be opened", name);
		return NULL;
	}
	o = json_object_new_object();
	files = json_object_new_array();
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "files", files);
	if (check_file(files, "state", t->state_path, t->state_bytes, t->state_sha256, err) ||
	    (t->ram_path &&
	     check_file(files, "ram", t->ram_path, t->ram_bytes, t->ram_sha256, err)) ||
	    check_disk(files, t, err)) {
		vmsup_errc(err, cls, VMSUP_EC_DAMAGED, "template '%s' is damaged", name);
		json_object_put(o);
		tmpl_close(t);
		return NULL;
	}
	json_object_object_add(o, "ok", json_object_new_boolean(1));
	json_object_object_add(o, "verify_ms",
			       json_object_new_double((double)(long long)(now_ms() - t0)));
	tmpl_close(t);
	return o;
}
