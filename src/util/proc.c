/* Small files read whole, and the CPU time of a process from /proc (the
 * CPU metric and quota checks of a VM without a cgroup). */
#include "src/util/proc.h"

#include "src/util/err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t vmsup_read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

int vmsup_proc_cpu_seconds(pid_t pid, double *seconds, char **err)
{
	char path[64], buf[1024];
	if (pid <= 0) {
		return vmsup_err(err, "invalid pid %ld", (long)pid);
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (vmsup_read_small(path, buf, sizeof(buf)) < 0)
		return vmsup_err(err, "%s: %s", path, strerror(errno));

	/*
	 * comm (field 2) may hold spaces and parentheses: fields are counted
	 * from the last ')'. utime and stime are fields 14 and 15.
	 */
	char *p = strrchr(buf, ')');
	if (!p) {
		vmsup_err(err, "%s: unexpected format", path);
		return -1;
	}
	p++;
	unsigned long long utime = 0, stime = 0;
	int field = 2;
	char *save = NULL;
	for (char *tok = strtok_r(p, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		field++;
		if (field == 14)
			utime = strtoull(tok, NULL, 10);
		else if (field == 15) {
			stime = strtoull(tok, NULL, 10);
			break;
		}
	}
	if (field != 15) {
		vmsup_err(err, "%s: too few fields", path);
		return -1;
	}
	long hz = sysconf(_SC_CLK_TCK);
	if (hz <= 0) {
		vmsup_err(err, "sysconf(_SC_CLK_TCK) failed");
		return -1;
	}
	*seconds = (double)(utime + stime) / (double)hz;
	return 0;
}
