/*
 * vmsupd's configuration: built-in defaults, then a `key = value` file
 * (# comments), then command-line overrides. Unknown keys and bad values
 * are errors naming file:line.
 */
#ifndef VMSUP_CONFIG_H
#define VMSUP_CONFIG_H

/* qemu_user when unset and the daemon is root: a system user that
 * make install and scripts/setup create (scripts/mkuser-qemu) */
#define VMSUP_QEMU_USER_DEFAULT "vmsup-qemu"

/* exec_output_max's bounds and default: the output comes through files in
 * the guest a chunk at a time, but the reply is built whole, so each stream
 * costs vmsupd up to 4/3 of this while it is sent */
#define VMSUP_EXEC_OUTPUT_MIN	  1024
#define VMSUP_EXEC_OUTPUT_MAX	  (256u << 20)
#define VMSUP_EXEC_OUTPUT_DEFAULT (16u << 20)

/* console_log_max's bounds: the rotation checks the size at most
 * VM_CONSOLE_CHECK_MS after a write and rotates at 3/4 of the cap, so the
 * cap must leave room for what a fast serial port writes meanwhile. */
#define VMSUP_CONSOLE_LOG_MIN (1u << 20)
#define VMSUP_CONSOLE_LOG_MAX (1u << 30)

struct vmsup_config {
	char *socket;
	char *state_dir;
	char *run_dir;
	char *qemu;
	char *accel; /* kvm | tcg | kvm:tcg */
	unsigned mem_mib;
	unsigned cpus;
	char *default_kernel; /* NULL = unset */
	char *default_initrd;
	char *default_append;
	unsigned stop_grace_s;
	int on_exit_stop; /* on_exit = stop: SIGTERM stops every VM (default keep: they run on) */
	unsigned max_vms;
	char *qemu_user; /* NULL = the default (VMSUP_QEMU_USER_DEFAULT when root) */
	char *ssh_key;	 /* NULL until finished: <state_dir>/id_ed25519 */
	char *guest_user;
	char *api_group;   /* NULL = root only */
	char *admin_group; /* NULL = root only: acts on every user's VMs */
	unsigned memory_floor_mib;
	unsigned mem_overhead_mib;
	unsigned tcg_tb_size_mib;    /* TCG translation cache, counted in the ceiling */
	unsigned restart_burst;	     /* automatic restarts allowed per interval */
	unsigned restart_interval_s; /* ... this window (StartLimitIntervalSec) */
	int log_level;		     /* enum vmsup_log_level */
	int log_format;		     /* enum vmsup_log_format */
	char *pool_template;	     /* warm pool (src/pool/pool.h): NULL = none */
	unsigned pool_size;
	/* bytes: console.log is rotated to console.log.1 before it grows past this */
	unsigned console_log_max;
	int net_mode;	       /* enum vm_net_mode (src/qemu/net.h): the default mode */
	char *bridge;	       /* bridge = NAME: the default bridge of mode bridge */
	int allow_egress;      /* a VM may ask for "egress": user networking unrestricted */
	char *publish_address; /* host address published ports bind by default */
	/* absolute directories, blank-separated: shares must be in one of them
	 * (src/util/share.h); NULL = anywhere the other rules allow */
	char *share_roots;
	int qemu_sandbox;	  /* enum vmsup_sandbox: qemu's seccomp -sandbox */
	unsigned max_connections; /* API connections at a time; 0: from RLIMIT_NOFILE */
	unsigned read_timeout_s;  /* a request must arrive whole within this */
	unsigned exec_output_max; /* bytes of each of an agent exec's stdout/stderr kept */
};

enum vmsup_sandbox { VMSUP_SANDBOX_AUTO, VMSUP_SANDBOX_ON, VMSUP_SANDBOX_OFF };

/* Built-in defaults. */
int vmsup_config_init(struct vmsup_config *c, char **err);

/* Read a file over the current values; errors name path:line. */
int vmsup_config_load(struct vmsup_config *c, const char *path, char **err);

/* Set one key from its text form (file and command line share this). */
int vmsup_config_set(struct vmsup_config *c, const char *key, const char *value, char **err);

/* Fill values derived from others (ssh_key from state_dir); call last. */
int vmsup_config_finish(struct vmsup_config *c, char **err);

/* Deep copy (for the daemon, which outlives its caller's struct). */
int vmsup_config_copy(struct vmsup_config *dst, const struct vmsup_config *src, char **err);

void vmsup_config_release(struct vmsup_config *c);

/* Valid accelerator spellings: kvm, tcg, kvm:tcg. */
int vmsup_accel_valid(const char *s);
/* The accelerator may turn out to be TCG (tcg, or kvm:tcg's fallback). */
int vmsup_accel_may_tcg(const char *s);

#endif
