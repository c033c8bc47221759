/*
 * Test harness for integration tests that boot the real test guest
 * (scripts/mkguest.sh) under QEMU: spawn, wait for the guest agent, ssh
 * into it, kill and clean up. Every VM booted here is killed at exit even
 * when a test fails half-way.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <sys/types.h>

struct th_vm {
	pid_t pid;	      /* qemu (leader of its own process group); 0 when not running */
	char dir[256];	      /* private 0700 directory: sockets, log, pidfile, known_hosts */
	char qmp_path[300];   /* QMP monitor socket */
	char qga_path[300];   /* guest agent chardev socket */
	char serial_log[300]; /* guest console (ttyS0) */
	int ssh_port;	      /* 127.0.0.1 port forwarded to the guest's port 22 */
	char mac[18];	      /* MAC address of the guest's eth0 */
};

/* $VMSUP_GUEST_DIR, or NULL unless it holds vmlinuz and initrd.img. */
const char *th_guest_dir(void);

/* Path of the guest's ssh test key (GUEST_DIR/test_key), or NULL. */
const char *th_guest_key(void);

/* 1 if qemu-system-x86_64 is found in $PATH. */
int th_have_qemu(void);

/* A TCP port that is free on 127.0.0.1 right now, or -1. */
int th_free_port(void);

/*
 * Boot the test guest: qemu-system-x86_64 (argv, no shell) in its own
 * process group, q35, -accel tcg (kvm if VMSUP_TEST_ACCEL=kvm), -nodefaults,
 * -display none, -no-reboot, kernel + initrd + append from th_guest_dir(),
 * QMP and QGA sockets in a private 0700 directory, virtio-serial with the
 * agent port org.qemu.guest_agent.0, virtio-balloon, user networking with
 * restrict=on and an ssh hostfwd on 127.0.0.1, the console to a log file.
 * extra_args (NULL-terminated, may be NULL) are appended to qemu's argv.
 * mem_mib 0 means 256. Returns 0, or -1 with a message on stderr.
 */
int th_boot_guest(struct th_vm *vm, unsigned mem_mib, const char *const *extra_args);

/* As th_boot_guest, with extra words appended to the kernel command line. */
int th_boot_guest_append(struct th_vm *vm, unsigned mem_mib, const char *append_extra,
			 const char *const *extra_args);

/* Wait until the guest agent answers guest-ping. 0, or -1 (timeout, qemu died). */
int th_wait_agent(struct th_vm *vm, unsigned timeout_ms);

/*
 * Run remote_cmd in the guest with the host's ssh client (BatchMode, key
 * given, known_hosts in the VM directory). *out (may be NULL) receives the
 * command's stdout (malloc'd, NUL-terminated) and *exit_status its exit
 * status (255 for ssh failures). Returns 0 if ssh ran, -1 otherwise.
 */
int th_ssh(struct th_vm *vm, const char *key, const char *remote_cmd, char **out, int *exit_status);

/*
 * Wait up to timeout_ms for qemu to exit by itself. Returns its exit status
 * (0..255), 128+N if killed by signal N, or -1 on timeout (still running).
 */
int th_wait_exit(struct th_vm *vm, unsigned timeout_ms);

/* SIGKILL qemu's process group, reap it, remove the directory. Idempotent. */
void th_vm_kill(struct th_vm *vm);

/* Print the guest console log to stderr (call it when a test fails). */
void th_dump_serial(struct th_vm *vm);

#endif
