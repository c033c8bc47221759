/*
 * Test harness for integration tests that boot the real test guest
 * (scripts/mkguest.sh) under QEMU: spawn, wait for the guest agent, ssh
 * into it, kill and clean up. Every VM booted here is killed at exit even
 * when a test fails half-way. The one qemu launcher of the tests and
 * benchmarks: tests/lib/agent-harness.h adds an async QMP session and agent.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <sys/types.h>

/* The agent's virtserialport id (as vmsupd's src/qemu/argv.c): QEMU reports
 * VSERPORT_CHANGE only for a port with an id. */
#define TH_AGENT_PORT_ID "qga0"
#define TH_MAC		 "52:54:00:12:34:56"

/*
 * How to start the guest. Zeroed, it is th_boot_guest's default. Pointers
 * are borrowed until th_start returns.
 */
struct th_opts {
	unsigned mem_mib;	       /* 0 = 256 */
	const char *mac;	       /* eth0's MAC; NULL = TH_MAC */
	const char *append_extra;      /* words added to the kernel command line */
	const char *const *extra_args; /* more argv (devices), NULL-terminated */
	int vmgenid;		       /* add -device vmgenid (fresh generation ID per qemu) */
	int paused;		       /* -S: the vCPUs wait for `cont` */
	const char *const *incoming;   /* e.g. snap_restore_argv(): appended, kept out of argv */
	int pass_fd;		       /* hand state_fd to qemu as its descriptor 3 */
	int state_fd;
};

struct th_vm {
	pid_t pid;	      /* qemu (leader of its own process group); 0 when not running */
	char dir[256];	      /* private 0700 directory: sockets, log, pidfile, known_hosts */
	char qmp_path[300];   /* QMP monitor socket */
	char qga_path[300];   /* guest agent chardev socket */
	char serial_log[300]; /* guest console (ttyS0) */
	char qemu_log[300];   /* qemu's stdout and stderr */
	int ssh_port;	      /* 127.0.0.1 port forwarded to the guest's port 22 */
	char mac[18];	      /* MAC address of the guest's eth0 */
	/* qemu's argv without opts.incoming (the device configuration of a
	 * snapshot is made from it); NULL-terminated, owned. */
	char **argv;
	struct th_opts opts; /* as given to th_prepare, defaults filled in */
	char append[4096];   /* kernel command line: the guest's + opts.append_extra */
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
 * Prepare a boot of the test guest without starting it: the private 0700
 * directory, a free ssh port and vm->argv, laid out as vmsupd's
 * src/qemu/argv.c does: qemu-system-x86_64 -name guest=ID -machine q35, -accel
 * tcg (kvm if VMSUP_TEST_ACCEL=kvm), -nodefaults -no-user-config -display
 * none -no-reboot, kernel + initrd + append from th_guest_dir(), QMP and
 * QGA sockets, virtio-serial with the agent port (id TH_AGENT_PORT_ID),
 * virtio-balloon, user networking with restrict=on and an ssh hostfwd on
 * 127.0.0.1, then opts' devices, the console to a log file, a pidfile.
 * o may be NULL. 0, or -1 with a message on stderr (vm is then clean).
 */
int th_prepare(struct th_vm *vm, const struct th_opts *o);

/*
 * Start a prepared VM: qemu (argv, no shell) in its own process group,
 * killed if this process dies and at exit; stdin /dev/null, output to
 * vm->qemu_log, no inherited descriptor but opts.state_fd as 3. Returns
 * once qemu has made its sockets. If the ssh port was taken meanwhile it
 * retries with another one (vm->argv changes). 0, or -1 with a message
 * (qemu reaped; th_vm_kill still needed for the directory).
 */
int th_start(struct th_vm *vm);

/* th_prepare + th_start; on failure everything is cleaned up. */
int th_boot(struct th_vm *vm, const struct th_opts *o);

/* th_boot with only mem_mib (0 = 256) and extra_args (may be NULL) set. */
int th_boot_guest(struct th_vm *vm, unsigned mem_mib, const char *const *extra_args);

/* As th_boot_guest, with extra words appended to the kernel command line. */
int th_boot_guest_append(struct th_vm *vm, unsigned mem_mib, const char *append_extra,
			 const char *const *extra_args);

/* Milliseconds on the monotonic clock. */
double th_now_ms(void);

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
 * (0..255), 128+N if killed by signal N, or -1 on timeout (still running,
 * or never started).
 */
int th_wait_exit(struct th_vm *vm, unsigned timeout_ms);

/* SIGKILL qemu's process group, reap it, remove the directory, free argv.
 * Idempotent; fine on a zeroed or only prepared vm. */
void th_vm_kill(struct th_vm *vm);

/* Print the guest console log to stderr (call it when a test fails). */
void th_dump_serial(struct th_vm *vm);

#endif
