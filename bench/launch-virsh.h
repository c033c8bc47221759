/*
 * bench/launch's second baseline: libvirt. `virsh create` of a guest-less
 * domain like vmsupd's against `vmctl create --no-guest`, and
 * `virsh qemu-monitor-command` against `vmctl qmp`, each a CLI process per
 * operation as a user runs them, interleaved A B, B A.
 *
 * virsh talks to a qemu:///session daemon of its own: its XDG dirs live in
 * a private temp dir, so that the daemon (and its virtlogd) are this run's,
 * stopped at the end; run as root, virsh runs as "nobody", since libvirt
 * maps a root session URI onto the system daemon.
 */
#ifndef VMSUP_BENCH_LAUNCH_VIRSH_H
#define VMSUP_BENCH_LAUNCH_VIRSH_H

/* What the vmsupd side is: its API socket and the VM shape to copy. */
struct lv_params {
	const char *sock;
	const char *accel; /* "tcg" or "kvm", as vmsupd reported it */
	int mem_mib, cpus;
	int pairs, calls; /* creates and monitor calls, each side */
};

/*
 * Prints BENCH lines for both figures. 1 with a BENCHINFO line when it
 * cannot run here (no virsh, no unprivileged user), 0 when done, -1 with
 * *err. Every domain, the session daemon and its virtlogd are gone on
 * return, and on a signal (their pids are tracked by benchlib).
 */
int lv_run(const struct lv_params *p, char **err);

#endif
