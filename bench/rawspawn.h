/*
 * The bare-spawn baseline of bench/launch and bench/scale: the very qemu
 * argv vmsupd used for a VM (read back from /proc/PID/cmdline), spawned
 * by a minimal program that polls the monitor socket, reads the greeting,
 * sends qmp_capabilities and cont and waits for the reply.
 */
#ifndef VMSUP_BENCH_RAWSPAWN_H
#define VMSUP_BENCH_RAWSPAWN_H

#include <sys/types.h>

#define RS_MAX_ARGS 256

struct rs_tmpl {
	char *argv[RS_MAX_ARGS];
	int argc;
	char vmdir[256];  /* the run dir vmsupd gave the VM */
	char name[64];	  /* its name */
	char cg_dir[300]; /* "": the spawns stay in our cgroup */
};

/* The argv of qemu pid, which vmsupd started as VM name in run dir vmdir. */
int rs_tmpl_read(pid_t pid, const char *name, const char *vmdir, struct rs_tmpl *t);
void rs_tmpl_free(struct rs_tmpl *t);

/*
 * The template's argv for a VM called name in dir, spawned and driven to
 * running. Returns the time taken in ms, or -1; *pid is the qemu. With
 * keep, qemu is left running (rs_reap ends it); else it is told to quit
 * and reaped before returning.
 */
double rs_launch(const struct rs_tmpl *t, const char *dir, const char *name, int keep, pid_t *pid);
/*
 * vmsupd runs each VM in a cgroup of its own under one group per daemon
 * (as libvirt's machine.slice): all its VMs together have the CPU weight
 * of one process. Like for like, the spawns go in one such group of
 * their own, made beside the one qemu pid is in (removed by
 * rs_cgroup_remove once they are gone). 0, or -1 with why in note.
 */
int rs_cgroup_like(pid_t pid, struct rs_tmpl *t, char *note, size_t len);
void rs_cgroup_remove(struct rs_tmpl *t);

/* SIGTERM, then SIGKILL after 10 s; waits for it. */
void rs_reap(pid_t pid);

#endif
