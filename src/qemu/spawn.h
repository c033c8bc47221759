/*
 * Starting qemu: fork + execvp of an argv array, in its own session so it
 * outlives the daemon (reattach), stdin from /dev/null, stdout and stderr
 * appended to a log file, no other descriptor inherited.
 */
#ifndef VMSUP_SPAWN_H
#define VMSUP_SPAWN_H

#include <sys/types.h>

/*
 * Returns 0 with *pid once the child has exec'd; -1 with *err if the
 * fork, the log file or the exec itself failed (reported back through a
 * close-on-exec pipe, so a missing binary is an error here, not a crash).
 */
int vm_spawn(char *const argv[], const char *log_path, pid_t *pid, char **err);

/* At most this many extra descriptors for qemu: fds[0..1] a template's
 * state and RAM (src/snapshot/), fds[VM_SPAWN_DISK_FD..] the layers of a
 * disk image (src/disk/), fds[VM_SPAWN_FILE_FD..VM_SPAWN_TAP_FD-1] the
 * kernel, the initrd and the shares (src/files/), fds[VM_SPAWN_TAP_FD] the
 * tap of a bridge VM (src/net/). */
#define VM_SPAWN_FDS	 29
#define VM_SPAWN_DISK_FD 2
#define VM_SPAWN_FILE_FD 10
#define VM_SPAWN_TAP_FD	 28
/* the kernel and the initrd, where src/files/ (a VM) and src/snapshot/ (a
 * template and its restores) hand them */
#define VM_SPAWN_KERNEL_FD VM_SPAWN_FILE_FD
#define VM_SPAWN_INITRD_FD (VM_SPAWN_FILE_FD + 1)

/* qemu's name for the descriptor it inherits as fds[slot]
 * ("/proc/self/fd/N", N = 3 + slot; malloc'd, NULL if out of memory). */
char *vm_spawn_fd_path(int slot);

/* As vm_spawn, and qemu also inherits fds[i] as its fd 3 + i (-1: that fd
 * stays closed), i < nfds <= VM_SPAWN_FDS. */
int vm_spawn_fds(char *const argv[], const char *log_path, const int *fds, int nfds, pid_t *pid,
		 char **err);

/* Make a directory with this mode (also when it exists: mode enforced). */
int vm_mkdir(const char *path, mode_t mode, char **err);

/*
 * Remove a VM's run dir: its staging share first (src/qemu/stage.h), then its
 * files, then the directory; never recursing below it (a bind mount there
 * must not be emptied). 0, or -1 with errno from the final rmdir
 * (ENOENT: it was not there).
 */
int vm_rm_run_dir(const char *dir);

/*
 * The files of a run dir: dir/{qmp,ops,qga}.sock, qemu.pid, console.log,
 * qemu.log into the six pointers, and dir/ops-qemu.sock (qemu's own ops
 * monitor behind the daemon's relay) into ops_qemu_sock unless it is NULL
 * (old values freed). -1 with *err if out of memory or a socket path is
 * too long for a unix socket.
 */
int vm_run_files(const char *dir, char **qmp_sock, char **ops_sock, char **ops_qemu_sock,
		 char **qga_sock, char **pidfile, char **console_log, char **qemu_log, char **err);

/*
 * A TCP port free on 127.0.0.1 (for hostfwd), or -1 with *err. With hold,
 * the port stays bound in *hold (SO_REUSEADDR, not listening) until the
 * caller closes it once qemu has bound its forward: qemu's slirp binds
 * with SO_REUSEADDR too, while the kernel keeps the port from being an
 * outgoing connection's ephemeral port meanwhile (a local ssh client took
 * one between the probe and qemu's bind: "Could not set up host
 * forwarding rule"). Without hold, the probe's socket is closed at once.
 */
int vm_free_port(int *hold, char **err);

#endif
