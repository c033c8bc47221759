/* The qcow2 overlay that takes a VM's writes over an image never written. */
#include "src/disk/disk.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/util/err.h"

int disk_overlay_create(const char *qemu_img, const char *path, const char *base, const char *fmt,
			uint64_t size, char **err)
{
	char sz[32], *out = NULL, *why = NULL;
	char *argv[] = {(char *)qemu_img, "create", "-q",	  "-f",		"qcow2", "-u", "-F",
			(char *)fmt,	  "-b",	    (char *)base, (char *)path, sz,	 NULL};
	int st = 0;

	snprintf(sz, sizeof(sz), "%llu", (unsigned long long)size);
	if (vmsup_peer_run(NULL, argv, 4096, &out, &why, &st, err)) {
		free(why);
		return -1;
	}
	free(out);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		vmsup_err(err, "qemu-img create %s: %s", path, why ? why : "failed");
		free(why);
		unlink(path);
		return -1;
	}
	free(why);
	return 0;
}
