/*
 * Boot-once snapshots: save the whole state of a running VM to a file with
 * QEMU's own migration, restore it into a fresh qemu started with the same
 * devices, and refresh what must differ per VM afterwards (guest clock,
 * guest RNG). Asynchronous, on the owner's event_base and libqmp session.
 *
 * Transport. QEMU 7.2 has no file: URI. Saving writes either
 *   fd:NAME       the caller's STATE.tmp, handed to qemu with getfd
 *                 (SCM_RIGHTS): qemu opens and spawns nothing, so it may
 *                 be an unprivileged qemu_user under spawn=deny (the
 *                 template job's way); every byte is in the file once QMP
 *                 says "completed", or
 *   exec:cat > 'STATE.tmp' && mv -f 'STATE.tmp' 'STATE.written'
 * (run by /bin/sh inside qemu, so the qemu being saved must be allowed to
 * spawn: no -sandbox spawn=deny on a template VM). The rename inside the
 * shell is there because QMP reports "completed" before qemu has reaped cat:
 * only once STATE.written exists is every byte in the file; this module then
 * fsyncs it and renames it to STATE. Restoring reads either
 *   fd:N          a descriptor qemu inherited at spawn (works under
 *                 -sandbox spawn=deny, no shell involved: preferred), or
 *   exec:cat 'STATE'  (qemu must be allowed to spawn).
 * Paths are single-quoted for the shell; a path with a character outside
 * [A-Za-z0-9 /._+,:@%=-] is refused rather than quoted.
 *
 * Device configuration. A snapshot only loads into a qemu with exactly the
 * same devices (else "Unknown savevm section or instance ..."). The device
 * configuration is the qemu argv minus what is per VM (binary, -name,
 * -pidfile, socket paths, the hostfwd port, the -serial file, -S,
 * -sandbox, -runas, -daemonize, -incoming): snap_devconfig() makes it, the
 * template stores it, snap_devconfig_compare() checks a new VM's argv
 * against it before qemu is started. The NIC's MAC is part of it: the
 * guest's virtio-net state carries the MAC it booted with, so a restored VM
 * comes up with the template's MAC (snap_devconfig_mac()) whatever its
 * -device says; one that needs its own (on a bridge) has the guest change it
 * (snap_refresh_set_mac). For the same reason a virtio-net device's mac= is
 * not compared. Its -netdev is: user networking has state in the stream
 * (a "slirp" section) that a tap cannot load.
 *
 * Per-VM freshness after restore (snap_refresh): guest-set-time with the
 * host clock, then host random bytes written into the guest's /dev/urandom.
 * Why: every VM restored from one template starts with the same kernel RNG
 * state (crng key, input pool) — two of them would hand out the same
 * "random" numbers (TLS keys, UUIDs, ASLR of new processes) until their
 * pools diverge. Writing to /dev/urandom mixes host entropy into the input
 * pool but does not force a crng reseed on Linux 5.18+; the forced reseed
 * comes from a vmgenid device in the device set (`-device vmgenid`, guid
 * auto): each restoring qemu generates a new generation ID, the guest's
 * vmgenid driver sees it change and calls add_vmfork_randomness(), which
 * reseeds the crng at once and logs "crng reseeded due to virtual machine
 * fork". snap_devconfig_has_device(dc, "vmgenid") lets callers insist on it.
 */
#ifndef VMSUP_SNAPSHOT_H
#define VMSUP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "src/guest/agent.h"

/* ---- device configuration ---- */

/*
 * The device configuration of argv (NULL-terminated; argv[0] is the binary)
 * as a JSON array of strings: the argv with per-VM options dropped and
 * per-VM values replaced by "*". Refuses (NULL, *err) what a snapshot cannot
 * carry: -drive/-hda/-blockdev (disk contents are not in the migration
 * stream; restored VMs would share one disk), -virtfs (9p blocks migration
 * once mounted), -loadvm, -daemonize. *err is malloc'd.
 */
struct json_object *snap_devconfig(const char *const *argv, char **err);

/* 0 if equal; else -1 with *err naming the first difference. */
int snap_devconfig_compare(struct json_object *tmpl, struct json_object *vm, char **err);

/* The MAC of the first -device virtio-net-pci in a devconfig, or NULL (borrowed). */
const char *snap_devconfig_mac(struct json_object *devconfig, char *buf, size_t len);

/* 1 if the devconfig has a -device of this driver (vmgenid, see above;
 * pvpanic and virtio-rng-pci, which templates made before VMs had them
 * lack, and so must their restores). */
int snap_devconfig_has_device(struct json_object *devconfig, const char *driver);
/* 1 if it has the staging 9p export (src/qemu/stage.h): the only 9p device a template may have. */
int snap_devconfig_has_stage(struct json_object *devconfig);

/*
 * 'path' single-quoted for /bin/sh, or NULL with *err when the path is
 * empty, not absolute or has a character outside the safe set. malloc'd.
 */
char *snap_shell_quote(const char *path, char **err);

/* ---- save / restore ---- */

struct snap_stats {
	double wall_ms;		  /* this operation, start to done */
	double qemu_ms;		  /* query-migrate total-time (save) */
	uint64_t file_bytes;	  /* size of the state file */
	uint64_t ram_total;	  /* guest RAM size */
	uint64_t ram_transferred; /* RAM bytes put in the stream */
	uint64_t ram_zero_pages;  /* "duplicate": zero pages, stored as a flag only */
	uint64_t ram_normal_pages;
};

/* err is NULL on success (st filled), else a message; both borrowed. */
typedef void (*snap_done_fn)(const struct snap_stats *st, const char *err, void *arg);

struct snap_op;

struct snap_save_opts {
	const char *state_path; /* absolute; written as state_path.tmp first */
	unsigned timeout_ms;	/* whole operation; 0 = 300 s */
	bool ignore_shared;	/* x-ignore-shared: skip RAM in a share=on memory backend */
	int state_fd;		/* >= 0: state_path.tmp, opened for writing by the caller (kept
				 * theirs): qemu gets a copy (getfd) and writes through it;
				 * else (-1) qemu runs exec:cat, opening the path itself */
};

/*
 * Pause the VM (`stop`) and save it to opts->state_path (fsync'd, renamed
 * into place). The VM stays paused ("postmigrate") afterwards; the caller
 * usually destroys it. done is called once, never from inside this call.
 * Returns NULL with *err on invalid input.
 */
struct snap_op *snap_save(struct event_base *base, struct qmp_session *qmp,
			  const struct snap_save_opts *opts, snap_done_fn done, void *arg,
			  char **err);

/* Extra argv for a qemu that is to be restored: {"-incoming", "defer", NULL}. */
const char *const *snap_restore_argv(void);

struct snap_restore_opts {
	const char *state_path; /* used when state_fd < 0 (exec:cat) */
	int state_fd;		/* >= 0: the descriptor number qemu inherited (fd:N) */
	unsigned timeout_ms;	/* 0 = 300 s */
	bool resume;		/* `cont` once loaded; else the VM stays paused */
	bool ignore_shared;	/* the template was saved with ignore_shared */
};

/*
 * On a qemu started with snap_restore_argv() and the template's devices:
 * migrate-incoming, wait for completion, optionally `cont`. If loading
 * fails, qemu 7.2 exits by itself: done gets an error and the caller reaps
 * qemu and adds its stderr (snap_stderr_tail) to the message.
 */
struct snap_op *snap_restore(struct event_base *base, struct qmp_session *qmp,
			     const struct snap_restore_opts *opts, snap_done_fn done, void *arg,
			     char **err);

/* Abandon an operation: done is not called. */
void snap_op_cancel(struct snap_op *op);

/* The last lines (at most max bytes) of a log file, malloc'd ("" if none). */
char *snap_stderr_tail(const char *path, size_t max);

/* ---- per-VM refresh after a restore ---- */

struct snap_refresh_result {
	double skew_ms;	      /* guest-get-time minus host time, after setting it */
	int time_set;	      /* the clock was set */
	int clock_by_date;    /* by a relative `date -s` (snap_refresh_clock) */
	int date_failed;      /* a relative `date -s` was tried and failed first */
	char time_error[384]; /* why not, "" if it did */
	int reseeded;	      /* host random bytes reached /dev/urandom */
	char seed_error[384]; /* why not */
	size_t seed_bytes;
	int seed_by_exec;	  /* by a guest-exec of cat: the agent refused guest-file-open */
	int identity;		  /* machine-id, hostname, ssh host keys renewed */
	char identity_error[384]; /* why not ("" if it was, or not asked) */
	double wall_ms;
	/* where wall_ms went (bench/restore): setting the clock (its
	 * guest-get-time, date or guest-set-time), the reseed, the identity
	 * script, the closing guest-get-time */
	double clock_ms, seed_ms, identity_ms, check_ms;
};
typedef void (*snap_refresh_fn)(const struct snap_refresh_result *r, void *arg);

/*
 * On a ready agent of a just restored and resumed VM: guest-set-time with
 * the host clock (ns), reseed (seed_bytes of getrandom() into /dev/urandom
 * by guest-file-write, or a guest-exec of cat where the agent refuses
 * guest-file-open; 0 = 64), guest-get-time for the skew. Failures are
 * reported in the result, not fatal (the VM runs either way; the caller
 * decides). done is never called from inside this call. Returns NULL with
 * *err if the agent is not ready. seed_bytes SNAP_REFRESH_NO_SEED: the clock
 * only (a pool VM taken after a pause: reseeded when it was restored).
 * hostname (not NULL): after the reseed, the guest becomes its own machine
 * (snap_identity_script): a new /etc/machine-id, this hostname, new ssh
 * host keys (dropbear or openssh) and its sshd restarted.
 */
#define SNAP_REFRESH_NO_SEED ((size_t)-1)
struct snap_refresh;
struct snap_refresh *snap_refresh(struct event_base *base, struct agent *a, size_t seed_bytes,
				  const char *hostname, snap_refresh_fn done, void *arg,
				  char **err);
/*
 * The clock only, of a VM resumed after a pause (a pool VM taken). by_date:
 * measure the offset and take it out with a relative `date -s` (GNU date; a
 * process, no hwclock) before falling back to guest-set-time, whose
 * `hwclock -w` waits for the RTC's next second on util-linux guests. The
 * result's clock_by_date says which one did it, for the next call.
 */
struct snap_refresh *snap_refresh_clock(struct event_base *base, struct agent *a, int by_date,
					snap_refresh_fn done, void *arg, char **err);
/*
 * Before its first step (right after snap_refresh, which waits for the
 * event loop), with a hostname: the identity step also moves the guest's
 * NIC that has MAC from (the template's) to MAC to, and has the guest's
 * DHCP client ask again with it (snap_identity_script), so two clones on
 * one bridge get leases of their own. Lower-case aa:bb:cc:dd:ee:ff.
 */
void snap_refresh_set_mac(struct snap_refresh *r, const char *from, const char *to);
/*
 * Before its first step: set the clock as snap_refresh_clock's by_date
 * does (a relative `date -s` first, guest-set-time where it fails).
 */
void snap_refresh_set_by_date(struct snap_refresh *r, int by_date);
/* done is not called afterwards. */
void snap_refresh_cancel(struct snap_refresh *r);

/* The script the identity step runs in the guest (/bin/sh -c SCRIPT
 * vmsup-identity HOSTNAME [MAC-FROM MAC-TO]): for the tests that run it on
 * other guests. */
const char *snap_identity_script(void);

#endif
