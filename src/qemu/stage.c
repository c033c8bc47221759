/* The staging share of a VM (see stage.h). */
#include "src/qemu/stage.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/qemu/argv.h"
#include "src/util/err.h"
#include "src/util/peer.h"

int vm_stage_create(const char *run_dir, const char *user, char **err)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/" VM_STAGE_DIR, run_dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return vmsup_err(err, "mkdir %s: %s", p, strerror(errno));
	return user ? vmsup_chown_for_user(p, user, err) : 0;
}

int vm_stage_bind(const char *run_dir, const char *host_dir, int fd, bool ro, char **err)
{
	char p[4096], src[32];

	snprintf(p, sizeof(p), "%s/" VM_STAGE_DIR "/share", run_dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return vmsup_err(err, "mkdir %s: %s", p, strerror(errno));
	/* the magic link is followed to the very directory fd holds */
	snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
	if (mount(fd >= 0 ? src : host_dir, p, NULL, MS_BIND, NULL) < 0)
		return vmsup_err(err, "bind mount %s on %s: %s", host_dir, p, strerror(errno));
	/* a bind mount takes MS_RDONLY only in a remount */
	if (ro && mount(NULL, p, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0) {
		int e = errno;
		umount2(p, MNT_DETACH);
		return vmsup_err(err, "read-only remount of %s: %s", p, strerror(e));
	}
	return 0;
}

void vm_stage_remove(const char *run_dir)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/" VM_STAGE_DIR "/share", run_dir);
	/* EINVAL (not mounted) or ENOENT: nothing to undo */
	umount2(p, MNT_DETACH);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/" VM_STAGE_DIR, run_dir);
	rmdir(p);
}

const char *const *vm_stage_guest_argv(const char *guest_path, bool ro)
{
	/* $1: where the task sees the directory; /run/vmstage: the export */
	static const char *argv[] = {
	    "/bin/sh",
	    "-c",
	    "set -e; mkdir -p /run/" VM_STAGE_TAG " \"$1\"; "
	    "mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 " VM_STAGE_TAG
	    " /run/" VM_STAGE_TAG "; "
	    "mount --bind /run/" VM_STAGE_TAG "/share \"$1\"; "
	    "if [ \"$2\" = ro ]; then mount -o remount,bind,ro \"$1\"; fi",
	    "vmstage",
	    NULL,
	    NULL,
	    NULL};

	argv[4] = guest_path;
	argv[5] = ro ? "ro" : "rw";
	return argv;
}
