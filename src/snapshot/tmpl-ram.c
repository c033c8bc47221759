/* Sealed in-memory copies of template RAM files (see tmpl-ram.h). */
#include "src/snapshot/tmpl-ram.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/util/err.h"
#include "src/util/log.h"
#include "src/snapshot/tmpl-hash.h"

#define CHUNK (1u << 20)
#define BLOCK 4096u

struct copy {
	struct copy *next;
	char *path;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec ctime; /* any write or utimes() moves it */
	int fd;
};

static struct copy *copies;

static bool same(const struct copy *c, const struct stat *sb)
{
	return c->dev == sb->st_dev && c->ino == sb->st_ino && c->size == sb->st_size &&
	       c->ctime.tv_sec == sb->st_ctim.tv_sec && c->ctime.tv_nsec == sb->st_ctim.tv_nsec;
}

static bool zero(const unsigned char *p, size_t n)
{
	return p[0] == 0 && !memcmp(p, p + 1, n - 1);
}

/* Copy src into dst, leaving all-zero blocks as holes (the guest's
 * untouched RAM costs nothing), and hash every byte on the way. */
static int copy_data(int src, int dst, off_t size, const char *path, struct tmpl_hash *h,
		     char **err)
{
	unsigned char *buf = malloc(CHUNK);
	off_t off = 0;
	int ret = -1;

	if (!buf)
		return vmsup_err(err, "out of memory");
	while (off < size) {
		ssize_t n;
		if ((n = pread(src, buf, CHUNK, off)) <= 0) {
			vmsup_err(err, "reading %s: %s", path,
				  n < 0 ? strerror(errno) : "short file");
			goto out;
		}
		if (tmpl_hash_add(h, buf, (size_t)n) < 0) {
			vmsup_err(err, "hashing %s failed", path);
			goto out;
		}
		for (size_t b = 0; b < (size_t)n; b += BLOCK) {
			size_t len = (size_t)n - b < BLOCK ? (size_t)n - b : BLOCK;
			if (!zero(buf + b, len) &&
			    pwrite(dst, buf + b, len, off + (off_t)b) != (ssize_t)len) {
				vmsup_err(err, "copying %s into memory: %s", path, strerror(errno));
				goto out;
			}
		}
		off += n;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

static int make_copy(int src, const struct stat *sb, const char *path, const char *sha256,
		     char **err)
{
	int fd = memfd_create("vmsup-template-ram", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	struct tmpl_hash *h = tmpl_hash_new();
	char got[TMPL_SHA256_HEX] = "";

	if (fd < 0 || !h) {
		vmsup_err(err, "memfd_create: %s", fd < 0 ? strerror(errno) : "out of memory");
		goto fail;
	}
	if (ftruncate(fd, sb->st_size) < 0) {
		vmsup_err(err, "sizing the copy of %s: %s", path, strerror(errno));
		goto fail;
	}
	if (copy_data(src, fd, sb->st_size, path, h, err))
		goto fail;
	tmpl_hash_end(h, got);
	h = NULL;
	if (sha256 && strcmp(got, sha256)) {
		tmpl_hash_mismatch(path, err);
		goto fail;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		vmsup_err(err, "sealing the copy of %s: %s", path, strerror(errno));
		goto fail;
	}
	/* the file's pages are not needed again: the copy is what clones map */
	posix_fadvise(src, 0, 0, POSIX_FADV_DONTNEED);
	return fd;
fail:
	tmpl_hash_end(h, NULL);
	if (fd >= 0)
		close(fd);
	return -1;
}

static void drop(struct copy **pp)
{
	struct copy *c = *pp;

	*pp = c->next;
	close(c->fd);
	free(c->path);
	free(c);
}

int tmpl_ram_fd(const char *ram_path, uint64_t bytes, const char *sha256, char **err)
{
	struct copy **pp = &copies, *c;
	struct timespec t0, t1;
	struct stat sb;
	int src, fd;

	if ((src = open(ram_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return vmsup_err(err, "%s: %s", ram_path, strerror(errno));
	if (fstat(src, &sb) < 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size != bytes) {
		vmsup_err(err, "%s: not a regular file of %llu bytes (damaged template?)", ram_path,
			  (unsigned long long)bytes);
		close(src);
		return -1;
	}
	while (*pp && strcmp((*pp)->path, ram_path))
		pp = &(*pp)->next;
	if (*pp && same(*pp, &sb)) {
		close(src);
		if ((fd = fcntl((*pp)->fd, F_DUPFD_CLOEXEC, 3)) < 0)
			return vmsup_err(err, "dup: %s", strerror(errno));
		return fd;
	}
	if (*pp) {
		LOG_W(NULL, "%s changed since it was loaded: loading it again", ram_path);
		drop(pp);
	}
	if (!(c = calloc(1, sizeof(*c))) || !(c->path = strdup(ram_path))) {
		free(c);
		close(src);
		return vmsup_err(err, "out of memory");
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	c->fd = make_copy(src, &sb, ram_path, sha256, err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	close(src);
	if (c->fd < 0) {
		free(c->path);
		free(c);
		return -1;
	}
	c->dev = sb.st_dev, c->ino = sb.st_ino, c->size = sb.st_size;
	c->ctime = sb.st_ctim;
	c->next = copies;
	copies = c;
	LOG_I(NULL, "%s: checked (sha256) and copied into sealed memory for restores in %.0f ms",
	      ram_path, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
	if ((fd = fcntl(c->fd, F_DUPFD_CLOEXEC, 3)) < 0)
		return vmsup_err(err, "dup: %s", strerror(errno));
	return fd;
}

void tmpl_ram_forget(const char *ram_path)
{
	for (struct copy **pp = &copies; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->path, ram_path)) {
			drop(pp);
			return;
		}
}
