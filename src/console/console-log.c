#include "src/console/console-log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/util/err.h"

/* Copy fd's first size bytes to a new file at tmp; 0 or -1 with *err. */
static int copy_to(int fd, off_t size, const char *tmp, char **err)
{
	char buf[65536];
	off_t done = 0;
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (out < 0)
		return vmsup_err(err, "%s: %s", tmp, strerror(errno));
	while (done < size) {
		size_t want =
		    size - done < (off_t)sizeof(buf) ? (size_t)(size - done) : sizeof(buf);
		ssize_t n = pread(fd, buf, want, done);
		if (n <= 0)
			break; /* shorter than stat said: keep what was there */
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k < 0) {
				int e = errno;
				close(out);
				unlink(tmp);
				return vmsup_err(err, "%s: %s", tmp, strerror(e));
			}
			w += k;
		}
		done += n;
	}
	if (close(out)) {
		int e = errno;
		unlink(tmp);
		return vmsup_err(err, "%s: %s", tmp, strerror(e));
	}
	return 0;
}

int console_log_rotate(const char *path, off_t threshold, char **err)
{
	struct stat st;
	char *old = NULL, *tmp = NULL;
	int fd, rc = -1;

	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : vmsup_err(err, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		vmsup_err(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size < threshold) {
		rc = 0;
		goto out;
	}
	if (asprintf(&old, "%s.1", path) < 0 || asprintf(&tmp, "%s.1.tmp", path) < 0) {
		old = tmp = NULL;
		vmsup_err(err, "out of memory");
		goto out;
	}
	/* a reader of console.log.1 sees the old or the new file, never half */
	if (copy_to(fd, st.st_size, tmp, err))
		goto out;
	if (rename(tmp, old)) {
		vmsup_err(err, "%s: %s", old, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (ftruncate(fd, 0)) {
		vmsup_err(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = 1;
out:
	free(old);
	free(tmp);
	close(fd);
	return rc;
}
