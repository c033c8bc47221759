/* The staging share of a VM (see stage.h). */
#include "src/qemu/stage.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/qemu/argv.h"
#include "src/util/err.h"
#include "src/util/idmap-mount.h"
#include "src/util/peer.h"

int vm_stage_create(const char *run_dir, const char *user, char **err)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/" VM_STAGE_DIR, run_dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return vmsup_err(err, "mkdir %s: %s", p, strerror(errno));
	return user ? vmsup_chown_for_user(p, user, err) : 0;
}

/* The share for a qemu that does not run as the daemon: idmapped, the
 * share's owner shown as qemu's user (stage.h). */
static int bind_idmapped(const char *host_dir, int fd, const char *p, const struct stat *q, bool ro,
			 char **err)
{
	struct stat st;
	char *e = NULL;
	int own = -1, rc;

	if (fd < 0 && (fd = own = open(host_dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0)
		return vmsup_err(err, "%s: %s", host_dir, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = vmsup_err(err, "%s: %s", host_dir, strerror(errno));
	} else if ((rc = vmsup_idmap_bind(fd, host_dir, p, st.st_uid, st.st_gid, q->st_uid,
					  q->st_gid, ro, &e))) {
		vmsup_err(err,
			  "the share cannot be served by this VM's qemu (uid %u): %s; "
			  "qemu_user = root in vmsupd.conf serves it with a plain bind",
			  (unsigned)q->st_uid, e);
		free(e);
	}
	if (own >= 0)
		close(own);
	return rc;
}

int vm_stage_bind(const char *run_dir, const char *host_dir, int fd, bool ro, char **err)
{
	char p[4096], src[32];
	struct stat q;

	snprintf(p, sizeof(p), "%s/" VM_STAGE_DIR, run_dir);
	/* the stage directory is qemu's user's (vm_stage_create) */
	if (stat(p, &q) < 0)
		return vmsup_err(err, "%s: %s", p, strerror(errno));
	snprintf(p, sizeof(p), "%s/" VM_STAGE_DIR "/share", run_dir);
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return vmsup_err(err, "mkdir %s: %s", p, strerror(errno));
	if (q.st_uid != geteuid())
		return bind_idmapped(host_dir, fd, p, &q, ro, err);
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
