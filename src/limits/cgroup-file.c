/*
 * libvmcg: the file helpers every backend shares: error strings, cgroup
 * directory and file paths, and single-write/whole-file reads of cgroupfs.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/limits/cgroup-internal.h"

#define CG_READ_MAX (1024 * 1024) /* cgroup.procs of a VM is far smaller */

char *cg_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

char *cg_dir(const struct cg *cg, const char *hier, const char *vm)
{
	if (vm)
		return cg_asprintf("%s/%s/" CG_VM_PREFIX "%s", hier, cg->parent, vm);
	return cg_asprintf("%s/%s", hier, cg->parent);
}

int cg_mkdir_parents(const struct cg *cg, const char *hier,
		     int (*each)(const char *dir, char **err), char **err)
{
	char *dir = cg_dir(cg, hier, NULL);
	int r = -1;

	if (!dir) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	for (char *p = dir + strlen(hier) + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			vmsup_err(err,
				  "cannot create cgroup %s: %s (cgroupfs must be writable: run as "
				  "root, or give a delegated, writable root)",
				  dir, strerror(errno));
			goto out;
		}
		if (each && each(dir, err) < 0)
			goto out;
		*p = c;
		if (c == '\0')
			break;
	}
	r = 0;
out:
	free(dir);
	return r;
}

char *cg_file(const struct cg *cg, const char *hier, const char *vm, const char *file)
{
	return cg_asprintf("%s/%s/" CG_VM_PREFIX "%s/%s", hier, cg->parent, vm, file);
}

int cg_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int cg_write(const char *path, const char *s, char **err)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, e;

	/* O_TRUNC is what a shell's ">" does; cgroupfs ignores it, a plain file needs it. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		vmsup_err(err, "%s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	n = write(fd, s, len);
	e = errno;
	if (close(fd) < 0 && n >= 0) {
		n = -1;
		e = errno;
	}
	if (n < 0) {
		vmsup_err(err, "writing \"%s\" to %s: %s", s, path, strerror(e));
		/* Callers explain some errnos (EBUSY, ESRCH) further. */
		errno = e;
		return -1;
	}
	if ((size_t)n != len) {
		vmsup_err(err, "writing \"%s\" to %s: short write (%zd of %zu bytes)", s, path, n,
			  len);
		return -1;
	}
	return 0;
}

int cg_writef(const char *path, char **err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	r = cg_write(path, s, err);
	free(s);
	return r;
}

int cg_read(const char *path, char **out, char **err)
{
	size_t cap = 4096, len = 0;
	char *buf = NULL, *nb;
	ssize_t n;
	int fd, r = -1;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		vmsup_err(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(cap);
	if (!buf) {
		vmsup_err(err, "out of memory");
		goto out;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= CG_READ_MAX) {
				vmsup_err(err, "%s: larger than %d bytes", path, CG_READ_MAX);
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				vmsup_err(err, "out of memory");
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			vmsup_err(err, "reading %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int cg_parse_i64(const char *s, int64_t *v)
{
	char *end;
	long long x;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!(*s == '-' || isdigit((unsigned char)*s)))
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	while (*end && isspace((unsigned char)*end))
		end++;
	if (*end)
		return -1;
	*v = x;
	return 0;
}

int cg_read_i64(const char *path, int64_t *v, char **err)
{
	char *s;
	int r;

	if (cg_read(path, &s, err) < 0)
		return -1;
	r = cg_parse_i64(s, v);
	if (r < 0)
		vmsup_err(err, "%s: expected a number, got \"%.40s\"", path, s);
	free(s);
	return r;
}

int cg_read_key_i64(const char *path, const char *key, int64_t *v, char **err)
{
	size_t klen = strlen(key);
	char *s, *line, *save = NULL;
	int r = -1;

	if (cg_read(path, &s, err) < 0)
		return -1;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			r = cg_parse_i64(line + klen + 1, v);
			break;
		}
	if (r < 0)
		vmsup_err(err, "%s: no number for \"%s\"", path, key);
	free(s);
	return r;
}
