#include "src/util/dirlock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/util/err.h"

/* The pid the holder wrote, or 0. */
static long holder_pid(int fd)
{
	char buf[32] = {0};
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;
	long pid;

	if (n <= 0)
		return 0;
	pid = strtol(buf, &end, 10);
	return end != buf && pid > 0 ? pid : 0;
}

int vmsup_dir_lock(const char *dir, unsigned mode, char **err)
{
	char *path = NULL, pid[32];
	int fd = -1, n;
	long other;

	if (mkdir(dir, (mode_t)mode) < 0 && errno != EEXIST) {
		vmsup_err(err, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	if (asprintf(&path, "%s/" VMSUP_LOCK_NAME, dir) < 0) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0) {
		vmsup_err(err, "cannot open the lock file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK) {
			vmsup_err(err, "cannot lock %s: %s", path, strerror(errno));
		} else if ((other = holder_pid(fd)) > 0) {
			vmsup_err(err,
				  "%s is held by vmsupd pid %ld: one daemon per state and run "
				  "directory; not starting",
				  path, other);
		} else {
			vmsup_err(err,
				  "%s is held by another vmsupd: one daemon per state and run "
				  "directory; not starting",
				  path);
		}
		goto fail;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		/* the lock holds all the same; only the message of a second
		 * daemon loses the pid */
	}
	free(path);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	free(path);
	return -1;
}
