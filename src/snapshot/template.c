/* The template store (see template.h). */
#include "src/snapshot/template.h"
#include "src/snapshot/tmpl-hash.h"
#include "src/snapshot/snapshot-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int tmpl_name_check(const char *name, char **err)
{
	size_t n;

	if (!name || !*name) {
		snap_seterr(err, "template name is empty");
		return -1;
	}
	n = strlen(name);
	if (n > TMPL_NAME_MAX) {
		snap_seterr(err, "template name is longer than %d characters", TMPL_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		int alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-'))) {
			snap_seterr(err,
				    "invalid template name '%s': use letters, digits and _.- "
				    "(not first)",
				    name);
			return -1;
		}
	}
	return 0;
}

static int mkdir_0700(const char *path, char **err)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		snap_seterr(err, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (chmod(path, 0700) < 0) {
		snap_seterr(err, "cannot chmod %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void tmpl_new_release(struct tmpl_new *t)
{
	free(t->tmp_dir);
	free(t->final_dir);
	free(t->state_path);
	free(t->ram_path);
	free(t->name);
	memset(t, 0, sizeof(*t));
}

int tmpl_begin(const char *state_dir, const char *name, struct tmpl_new *t, char **err)
{
	char *root = NULL;
	struct stat sb;

	memset(t, 0, sizeof(*t));
	if (tmpl_name_check(name, err) < 0)
		return -1;
	if (asprintf(&root, "%s/templates", state_dir) < 0) {
		root = NULL;
		goto oom;
	}
	if (mkdir_0700(root, err) < 0)
		goto fail;
	if (asprintf(&t->final_dir, "%s/%s", root, name) < 0) {
		t->final_dir = NULL;
		goto oom;
	}
	if (stat(t->final_dir, &sb) == 0) {
		snap_seterr(err, "template '%s' already exists", name);
		goto fail;
	}
	if (asprintf(&t->tmp_dir, "%s/.%s.XXXXXX", root, name) < 0) {
		t->tmp_dir = NULL;
		goto oom;
	}
	if (!mkdtemp(t->tmp_dir)) { /* 0700 */
		snap_seterr(err, "cannot create %s: %s", t->tmp_dir, strerror(errno));
		free(t->tmp_dir);
		t->tmp_dir = NULL;
		goto fail;
	}
	if (asprintf(&t->state_path, "%s/state", t->tmp_dir) < 0) {
		t->state_path = NULL;
		goto oom;
	}
	if (asprintf(&t->ram_path, "%s/ram", t->tmp_dir) < 0) {
		t->ram_path = NULL;
		goto oom;
	}
	if (!(t->name = strdup(name)))
		goto oom;
	free(root);
	return 0;
oom:
	snap_seterr(err, "out of memory");
fail:
	free(root);
	tmpl_abort(t);
	return -1;
}

struct json_object *tmpl_meta_new(const char *name, const char *qemu_version,
				  const char *qemu_package, struct json_object *devconfig,
				  struct json_object *spec, const struct snap_stats *st)
{
	struct json_object *m = json_object_new_object();
	char mac[32];

	if (!m)
		return NULL;
	json_object_object_add(m, "format", json_object_new_int(TMPL_FORMAT));
	json_object_object_add(m, "name", json_object_new_string(name));
	json_object_object_add(m, "created", json_object_new_int64((int64_t)time(NULL)));
	json_object_object_add(m, "qemu_version", json_object_new_string(qemu_version));
	if (qemu_package)
		json_object_object_add(m, "qemu_package", json_object_new_string(qemu_package));
	json_object_object_add(m, "devconfig", json_object_get(devconfig));
	if (snap_devconfig_mac(devconfig, mac, sizeof(mac)))
		json_object_object_add(m, "mac", json_object_new_string(mac));
	if (spec)
		json_object_object_add(m, "spec", json_object_get(spec));
	json_object_object_add(m, "state_bytes", json_object_new_int64((int64_t)st->file_bytes));
	json_object_object_add(m, "ram_total", json_object_new_int64((int64_t)st->ram_total));
	json_object_object_add(m, "ram_transferred",
			       json_object_new_int64((int64_t)st->ram_transferred));
	json_object_object_add(m, "ram_zero_pages",
			       json_object_new_int64((int64_t)st->ram_zero_pages));
	json_object_object_add(m, "save_ms", json_object_new_double(st->wall_ms));
	return m;
}

static int write_file_sync(const char *path, const char *data, char **err)
{
	size_t len = strlen(data), off = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		snap_seterr(err, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snap_seterr(err, "cannot write %s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		snap_seterr(err, "cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static void fsync_path(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int tmpl_commit(struct tmpl_new *t, struct json_object *meta, char **err)
{
	char *path = NULL, *root = NULL;
	const char *s = json_object_to_json_string_ext(meta, JSON_C_TO_STRING_PRETTY);
	int r = -1;

	if (!t->tmp_dir || !s) {
		snap_seterr(err, "no template in progress");
		goto out;
	}
	if (asprintf(&path, "%s/meta.json", t->tmp_dir) < 0) {
		path = NULL;
		snap_seterr(err, "out of memory");
		goto out;
	}
	if (write_file_sync(path, s, err) < 0)
		goto out;
	/* the RAM file was written through the template VM's shared mapping */
	if (t->ram_path && access(t->ram_path, F_OK) == 0)
		fsync_path(t->ram_path, 0);
	fsync_path(t->tmp_dir, O_DIRECTORY);
	/* rename(2) would replace an empty directory made meanwhile: refuse that too */
	if (renameat2(AT_FDCWD, t->tmp_dir, AT_FDCWD, t->final_dir, RENAME_NOREPLACE) < 0) {
		snap_seterr(err,
			    errno == EEXIST || errno == ENOTEMPTY
				? "template '%s' already exists"
				: "cannot move the template into place: %s",
			    errno == EEXIST || errno == ENOTEMPTY ? t->name : strerror(errno));
		goto out;
	}
	if ((root = strdup(t->final_dir)))
		fsync_path(dirname(root), O_DIRECTORY);
	free(t->tmp_dir);
	t->tmp_dir = NULL; /* in place: nothing for abort to remove */
	r = 0;
out:
	free(path);
	free(root);
	tmpl_abort(t);
	return r;
}

/* Remove a template directory: only the files this module writes live there. */
static int rm_dir(const char *dir)
{
	static const char *const files[] = {"state", "state.tmp", "state.written", "meta.json",
					    "meta.json.tmp"};
	char p[4200];
	DIR *d;
	struct dirent *e;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
	/* anything else (left by hand) goes too, so rm never half-fails */
	if ((d = opendir(dir))) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
				unlink(p);
			}
		closedir(d);
	}
	return rmdir(dir);
}

void tmpl_abort(struct tmpl_new *t)
{
	if (t->tmp_dir)
		rm_dir(t->tmp_dir);
	tmpl_new_release(t);
}

static const char *str_field(struct json_object *m, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(m, k, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

void tmpl_meta_set_ram(struct json_object *meta, unsigned long long ram_bytes)
{
	json_object_object_add(meta, "ram_file", json_object_new_string("ram"));
	json_object_object_add(meta, "ram_bytes", json_object_new_int64((int64_t)ram_bytes));
}

static int hash_into(struct json_object *meta, const char *key, const char *path, char **err)
{
	char hex[TMPL_SHA256_HEX];

	if (tmpl_hash_path(path, hex, err))
		return -1;
	json_object_object_add(meta, key, json_object_new_string(hex));
	return 0;
}

int tmpl_meta_set_hashes(struct tmpl_new *t, struct json_object *meta, char **err)
{
	if (hash_into(meta, "state_sha256", t->state_path, err))
		return -1;
	return json_object_object_get_ex(meta, "ram_file", NULL)
		   ? hash_into(meta, "ram_sha256", t->ram_path, err)
		   : 0;
}

/* A recorded sha256: absent, or 64 lower-case hex digits. */
static int hash_field(struct tmpl *t, const char *key, const char **out, char **err)
{
	const char *s = str_field(t->meta, key);

	*out = NULL;
	if (!json_object_object_get_ex(t->meta, key, NULL))
		return 0;
	if (!s || strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64) {
		snap_seterr(err, "template '%s': meta.json's %s is not a sha256", t->name, key);
		return -1;
	}
	*out = s;
	return 0;
}

/* The RAM file is there with its size: the state alone would restore garbage. */
static int check_ram(struct tmpl *t, char **err)
{
	struct json_object *v;
	struct stat sb;

	if (!json_object_object_get_ex(t->meta, "ram_bytes", &v) ||
	    !json_object_is_type(v, json_type_int) ||
	    asprintf(&t->ram_path, "%s/ram", t->dir) < 0) {
		t->ram_path = NULL;
		snap_seterr(err, "template '%s': meta.json has ram_file without ram_bytes",
			    t->name);
		return -1;
	}
	if (stat(t->ram_path, &sb) < 0 || !S_ISREG(sb.st_mode) ||
	    (unsigned long long)sb.st_size != (unsigned long long)json_object_get_int64(v)) {
		snap_seterr(err, "template '%s': RAM file %s is missing or not %lld bytes", t->name,
			    t->ram_path, (long long)json_object_get_int64(v));
		return -1;
	}
	t->ram_bytes = (unsigned long long)sb.st_size;
	return 0;
}

struct tmpl *tmpl_open(const char *state_dir, const char *name, char **err)
{
	struct tmpl *t;
	char *mpath = NULL;
	struct json_object *v;
	struct stat sb;

	if (tmpl_name_check(name, err) < 0)
		return NULL;
	if (!(t = calloc(1, sizeof(*t))))
		goto oom;
	if (asprintf(&t->dir, "%s/templates/%s", state_dir, name) < 0) {
		t->dir = NULL;
		goto oom;
	}
	if (asprintf(&t->state_path, "%s/state", t->dir) < 0) {
		t->state_path = NULL;
		goto oom;
	}
	if (asprintf(&mpath, "%s/meta.json", t->dir) < 0) {
		mpath = NULL;
		goto oom;
	}
	if (stat(t->dir, &sb) < 0) {
		snap_seterr(err, "no template '%s'", name);
		goto fail;
	}
	if (!(t->meta = json_object_from_file(mpath))) {
		snap_seterr(err, "template '%s': cannot read %s: %s", name, mpath,
			    json_util_get_last_err());
		goto fail;
	}
	if (!json_object_is_type(t->meta, json_type_object) ||
	    !json_object_object_get_ex(t->meta, "format", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int(v) != TMPL_FORMAT) {
		snap_seterr(err, "template '%s': meta.json is not format %d", name, TMPL_FORMAT);
		goto fail;
	}
	t->name = str_field(t->meta, "name");
	t->qemu_version = str_field(t->meta, "qemu_version");
	t->mac = str_field(t->meta, "mac");
	if (!t->name || strcmp(t->name, name) || !t->qemu_version ||
	    !json_object_object_get_ex(t->meta, "devconfig", &t->devconfig) ||
	    !json_object_is_type(t->devconfig, json_type_array) ||
	    !json_object_object_get_ex(t->meta, "state_bytes", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0) {
		snap_seterr(err,
			    "template '%s': meta.json lacks name, qemu_version, devconfig or "
			    "state_bytes",
			    name);
		goto fail;
	}
	t->state_bytes = (unsigned long long)json_object_get_int64(v);
	if (!json_object_object_get_ex(t->meta, "spec", &t->spec))
		t->spec = NULL;
	if (stat(t->state_path, &sb) < 0) {
		snap_seterr(err, "template '%s': state file %s: %s", name, t->state_path,
			    strerror(errno));
		goto fail;
	}
	if (!S_ISREG(sb.st_mode) || (unsigned long long)sb.st_size != t->state_bytes) {
		snap_seterr(err,
			    "template '%s': state file %s is %lld bytes, %llu were saved "
			    "(truncated or replaced)",
			    name, t->state_path, (long long)sb.st_size, t->state_bytes);
		goto fail;
	}
	if (json_object_object_get_ex(t->meta, "ram_file", &v) && check_ram(t, err) < 0)
		goto fail;
	if (hash_field(t, "state_sha256", &t->state_sha256, err) ||
	    hash_field(t, "ram_sha256", &t->ram_sha256, err))
		goto fail;
	free(mpath);
	return t;
oom:
	snap_seterr(err, "out of memory");
fail:
	free(mpath);
	tmpl_close(t);
	return NULL;
}

void tmpl_close(struct tmpl *t)
{
	if (!t)
		return;
	free(t->ram_path);
	json_object_put(t->meta);
	free(t->dir);
	free(t->state_path);
	free(t);
}

int tmpl_check_vm(const struct tmpl *t, const char *qemu_version, const char *const *argv,
		  char **err)
{
	struct json_object *dc;
	char *why = NULL;
	int r;

	if (!qemu_version || strcmp(qemu_version, t->qemu_version)) {
		snap_seterr(err,
			    "template '%s' was saved by qemu %s; this is qemu %s (a snapshot only "
			    "loads into the same version: make the template again)",
			    t->name, t->qemu_version, qemu_version ? qemu_version : "(unknown)");
		return -1;
	}
	if (!(dc = snap_devconfig(argv, &why))) {
		snap_seterr(err, "%s", why ? why : "out of memory");
		free(why);
		return -1;
	}
	r = snap_devconfig_compare(t->devconfig, dc, &why);
	if (r < 0)
		snap_seterr(err, "template '%s': %s", t->name, why ? why : "out of memory");
	free(why);
	json_object_put(dc);
	return r;
}

static int by_name(const void *a, const void *b)
{
	const char *x = str_field(*(struct json_object *const *)a, "name");
	const char *y = str_field(*(struct json_object *const *)b, "name");

	return strcmp(x ? x : "", y ? y : "");
}

struct json_object *tmpl_list(const char *state_dir, char **err)
{
	struct json_object *res = json_object_new_object(), *arr = json_object_new_array();
	char *root = NULL;
	DIR *d;
	struct dirent *e;

	if (!res || !arr || asprintf(&root, "%s/templates", state_dir) < 0) {
		json_object_put(res);
		json_object_put(arr);
		snap_seterr(err, "out of memory");
		return NULL;
	}
	json_object_object_add(res, "templates", arr);
	if (!(d = opendir(root))) {
		if (errno == ENOENT) { /* no template made yet */
			free(root);
			return res;
		}
		snap_seterr(err, "cannot read %s: %s", root, strerror(errno));
		free(root);
		json_object_put(res);
		return NULL;
	}
	while ((e = readdir(d))) {
		struct json_object *o;
		char *why = NULL;
		struct tmpl *t;
		static const char *const keys[] = {"created",	"qemu_version", "state_bytes",
						   "ram_total", "mac",		"owner"};

		if (e->d_name[0] == '.') /* ., .. and templates still being made */
			continue;
		if (!(o = json_object_new_object()))
			continue;
		json_object_object_add(o, "name", json_object_new_string(e->d_name));
		if ((t = tmpl_open(state_dir, e->d_name, &why))) {
			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
				struct json_object *v;
				if (json_object_object_get_ex(t->meta, keys[i], &v))
					json_object_object_add(o, keys[i], json_object_get(v));
			}
			tmpl_close(t);
		} else {
			json_object_object_add(o, "error",
					       json_object_new_string(why ? why : "unreadable"));
		}
		free(why);
		json_object_array_add(arr, o);
	}
	closedir(d);
	free(root);
	json_object_array_sort(arr, by_name);
	return res;
}

int tmpl_rm(const char *state_dir, const char *name, char **err)
{
	char *dir = NULL;
	struct stat sb;
	int r = -1;

	if (tmpl_name_check(name, err) < 0)
		return -1;
	if (asprintf(&dir, "%s/templates/%s", state_dir, name) < 0) {
		snap_seterr(err, "out of memory");
		return -1;
	}
	if (stat(dir, &sb) < 0 || !S_ISDIR(sb.st_mode))
		snap_seterr(err, "no template '%s'", name);
	else if (rm_dir(dir) < 0)
		snap_seterr(err, "cannot remove %s: %s", dir, strerror(errno));
	else
		r = 0;
	free(dir);
	return r;
}
