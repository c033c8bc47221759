#include "src/core/statefile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/util/err.h"
#include "src/util/proc.h"

int vmsup_write_atomic(const char *path, const char *data, size_t len, char **err)
{
	char *tmp = NULL;
	int fd = -1, ret = -1;
	size_t off = 0;

	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		tmp = NULL;
		return vmsup_err(err, "out of memory");
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		vmsup_err(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			vmsup_err(err, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)n;
	}
	/* the data must be on disk before the name points at it */
	if (fsync(fd) < 0) {
		vmsup_err(err, "%s: fsync: %s", tmp, strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		vmsup_err(err, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		vmsup_err(err, "rename %s: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret)
		unlink(tmp);
	free(tmp);
	return ret;
}

char *vm_statefile_text(const struct vm *vm)
{
	struct json_object *o = vm_record_json(vm);
	char *text;

	json_object_object_add(o, "spec", vm_spec_to_json(&vm->spec));
	json_object_object_add(o, "start_time", json_object_new_uint64(vm->start_time));
	json_object_object_add(o, "run_dir",
			       vm->run_dir ? json_object_new_string(vm->run_dir) : NULL);
	json_object_object_add(o, "qmp_socket",
			       vm->qmp_sock ? json_object_new_string(vm->qmp_sock) : NULL);
	json_object_object_add(o, "pidfile",
			       vm->pidfile ? json_object_new_string(vm->pidfile) : NULL);
	json_object_object_add(o, "version", json_object_new_int(VM_STATEFILE_VERSION));
	text = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
							    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return text;
}

/* A rename or unlink is durable only once the directory is on disk too. */
static int sync_dir(const char *dir, char **err)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return vmsup_err(err, "%s: %s", dir, strerror(errno));
	if (fsync(fd) < 0)
		ret = vmsup_err(err, "%s: fsync: %s", dir, strerror(errno));
	close(fd);
	return ret;
}

int vm_statefile_store(const char *state_dir, const char *name, const char *text, char **err)
{
	char *path = NULL;
	int ret = 0;

	if (asprintf(&path, "%s/%s.json", state_dir, name) < 0)
		return vmsup_err(err, "out of memory");
	if (text)
		ret = vmsup_write_atomic(path, text, strlen(text), err);
	else if (unlink(path) < 0 && errno != ENOENT)
		ret = vmsup_err(err, "%s: %s", path, strerror(errno));
	free(path);
	return ret ? ret : sync_dir(state_dir, err);
}

int vm_statefile_write(const char *state_dir, const struct vm *vm, char **err)
{
	char *text = vm_statefile_text(vm);
	int ret;

	if (!text)
		return vmsup_err(err, "out of memory");
	ret = vm_statefile_store(state_dir, vm->spec.name, text, err);
	free(text);
	return ret;
}

struct json_object *vm_statefile_read(const char *path, char **err)
{
	char *buf = malloc(VM_STATEFILE_MAX + 1);
	struct json_object *j = NULL;
	ssize_t n;

	if (!buf) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	n = vmsup_read_small(path, buf, VM_STATEFILE_MAX + 1);
	if (n < 0)
		vmsup_err(err, "%s: %s", path, strerror(errno));
	else if (n >= VM_STATEFILE_MAX)
		vmsup_err(err, "%s: larger than %d bytes", path, VM_STATEFILE_MAX);
	else if (!(j = json_tokener_parse(buf)) || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		j = NULL;
		vmsup_err(err, "%s: not a JSON object", path);
	}
	free(buf);
	return j;
}
