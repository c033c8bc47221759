/* libFuzzer target: vmsupd's config file parser (vmsup_config_load), the
 * input being the file; whatever it accepts must also survive a copy. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "src/qemu/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	struct vmsup_config c, copy;
	char *err = NULL;

	if (fd < 0) {
		/* one in-memory file, rewritten per input: no disk traffic */
		if ((fd = memfd_create("vmsupd.conf", 0)) < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	if (vmsup_config_init(&c, &err))
		abort();
	if (vmsup_config_load(&c, path, &err) == 0 && vmsup_config_finish(&c, &err) == 0) {
		if (vmsup_config_copy(&copy, &c, &err))
			abort();
		vmsup_config_release(&copy);
	}
	free(err);
	vmsup_config_release(&c);
	return 0;
}
