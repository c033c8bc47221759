/* libFuzzer target: a state file's bytes -> the VM reattach rebuilds from
 * it (vm_statefile_read, vm_from_state, the modules' restore), touching no
 * process. Anything is a clean error or a VM; a VM must be written back
 * (vm_statefile_write) into a file that reads back as the same VM. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/core/module.h"
#include "src/core/reattach.h"
#include "src/core/statefile.h"
#include "src/disk/vm-disk.h"
#include "src/files/vm-files.h"
#include "src/limits/vm-limits.h"
#include "src/net/vm-bridge.h"
#include "src/snapshot/vm-template.h"
#include "tests/fuzz/fuzz-sup.h"

#define NAME "fz"

static void vm_free(struct vm *vm)
{
	vmsup_modules_release(vm);
	vm_release_fields(vm);
	free(vm);
}

/* The VM the file at path describes, or NULL. */
static struct vm *load(struct vmsup *sup, const char *path)
{
	struct json_object *j;
	struct vm *vm = NULL;
	char *err = NULL;

	if ((j = vm_statefile_read(path, &err)))
		vm = vm_from_state(sup, NAME, j, &err);
	if (!vm && !err)
		abort(); /* refused without saying why */
	json_object_put(j);
	free(err);
	return vm;
}

static char *status(const struct vm *vm)
{
	struct json_object *o = vm_to_json(vm);
	char *s = strdup(json_object_to_json_string(o));

	json_object_put(o);
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[128], back_dir[128], back[160];
	struct fuzz_sup *fs = fuzz_sup_get();
	struct vm *vm, *again;
	char *err = NULL;
	FILE *f;

	if (!path[0]) {
		/* the modules whose restore, status and release need no context */
		if (vmsup_register(fs->sup, &vm_limits_module, NULL) ||
		    vmsup_register(fs->sup, &vm_files_module, NULL) ||
		    vmsup_register(fs->sup, &vm_disk_module, NULL) ||
		    vmsup_register(fs->sup, &vm_bridge_module, NULL) ||
		    vmsup_register(fs->sup, &vm_template_module, NULL))
			abort();
		snprintf(path, sizeof(path), "%s/in.json", fs->dir);
		snprintf(back_dir, sizeof(back_dir), "%s/back", fs->dir);
		snprintf(back, sizeof(back), "%s/" NAME ".json", back_dir);
		if (mkdir(back_dir, 0700) < 0)
			abort();
	}
	if (!(f = fopen(path, "w")) || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	if (!(vm = load(fs->sup, path)))
		return 0;
	/* what reattach accepted, the daemon writes again at its next change */
	if (vm_statefile_write(back_dir, vm, &err)) {
		fprintf(stderr, "cannot write back: %s\n", err);
		abort();
	}
	if (!(again = load(fs->sup, back))) {
		fprintf(stderr, "a state file written from it does not read back\n");
		abort();
	}
	{
		char *a = status(vm), *b = status(again);
		if (strcmp(a, b)) {
			fprintf(stderr, "read back differs:\n%s\n%s\n", a, b);
			abort();
		}
		free(a);
		free(b);
	}
	vm_free(again);
	vm_free(vm);
	return 0;
}
