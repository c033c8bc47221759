/* CPU time of a process from /proc (the CPU metric and quota checks of a VM
 * without a cgroup). */
#include "src/util/proc.h"

#include "src/util/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int vmsup_proc_cpu_seconds(pid_t pid, double *seconds, char **err)
{
	char path[64], buf[1024];
	if (pid <= 0) {
		return vmsup_err(err, "invalid pid %ld", (long)pid);
	}
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		vmsup_err(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';

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
