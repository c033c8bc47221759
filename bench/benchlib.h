/*
 * Shared by the bench programs: clocks and statistics, the result lines
 * bench/run.sh collects, a private vmsupd in a temporary directory (and
 * reaping it and every qemu on every exit path), API helpers.
 *
 * Result line (stdout, tab separated, one per figure; see bench/README.md):
 *   BENCH <bench> <metric> <value> <unit> <baseline> <ratio> <goal> <note>
 * "-" marks an empty field. Context lines: BENCHINFO <key> <value>.
 */
#ifndef VMSUP_BENCHLIB_H
#define VMSUP_BENCHLIB_H

#include <stddef.h>
#include <sys/types.h>
#include <json-c/json.h>

double bl_now_ms(void); /* CLOCK_MONOTONIC */
void bl_sleep_ms(double ms);

struct bl_stats {
	int n;
	double min, p25, median, p75, p99, max;
};
/* v is sorted in place; n may be 0 (all fields 0). */
void bl_stats(double *v, int n, struct bl_stats *st);
/* "p25-p75 a-b, min-max c-d" into buf, for the note column. */
const char *bl_spread(const struct bl_stats *st, char *buf, size_t len);

/* baseline < 0: no baseline (ratio is value / baseline otherwise). goal,
 * note: NULL for none. Tabs and newlines in strings become spaces. */
void bl_result(const char *bench, const char *metric, double value, const char *unit,
	       double baseline, const char *goal, const char *note);
void bl_info(const char *key, const char *value);
/* "1.23 0.98 0.51" from /proc/loadavg */
const char *bl_loadavg(char *buf, size_t len);

/* /proc/PID/status VmRSS in KiB, -1 if unreadable. */
long bl_rss_kib(pid_t pid);
/* utime + stime of pid in ms; -1 if unreadable. */
double bl_cpu_ms(pid_t pid);
/* voluntary + involuntary context switches of every thread of pid. */
long bl_ctxt_switches(pid_t pid);
/* MemAvailable in MiB, -1 if unknown. */
long bl_mem_available_mib(void);
/* A guest directory's kernel command line (DIR/append, first line) into buf,
 * which keeps what it held when there is none: -1 then, else 0. */
int bl_guest_append(const char *dir, char *buf, size_t len);

/*
 * A vmsupd of our own: temp dir (mode 0700) holding its config, socket,
 * state and run dirs. extra_conf (may be NULL) is appended to the config
 * file. The daemon gets SIGTERM if this process dies (PDEATHSIG). Returns
 * once GET /v1/version answers (or -1 with *err).
 */
struct bl_daemon {
	pid_t pid;
	char dir[128];
	char sock[192];
	char run[192];
	char log[192];
};
int bl_daemon_start(struct bl_daemon *d, const char *extra_conf, char **err);
/* Start vmsupd again on d's temp dir and config (after it exited: a
 * restart); returns once GET /v1/version answers, or -1 with *err. */
int bl_daemon_spawn(struct bl_daemon *d, char **err);
/* SIGTERM, bounded wait, SIGKILL; then every qemu left (by pidfile under
 * the run dir, and those registered with bl_track_pid) is killed, and the
 * temp dir removed. Safe to call twice. */
void bl_daemon_stop(struct bl_daemon *d);
/* rm -r, going on past what cannot be removed. */
void bl_rmrf(const char *dir);

/*
 * atexit + SIGINT/SIGTERM/SIGHUP handlers that stop the registered daemon
 * and kill the tracked pids; call once early in main.
 */
void bl_cleanup_install(struct bl_daemon *d);
/* A second daemon stopped by the same handlers (after the first). */
void bl_cleanup_also(struct bl_daemon *d);
/* fn runs first on exit or a signal (before the daemons stop), once; it
 * kills what the tracked pids cannot name (pids not known yet). */
void bl_cleanup_hook(void (*fn)(void));
/* Processes the bench spawned itself (baseline qemus), killed on exit. */
void bl_track_pid(pid_t pid);
void bl_untrack_pid(pid_t pid);

/* vmsupd binary: $VMSUPD, else ./src/daemon/vmsupd, else "vmsupd" on PATH. */
const char *bl_vmsupd_path(void);

/*
 * vmctl binary: $VMCTL, else ./src/cli/.libs/vmctl (in a build tree
 * src/cli/vmctl is libtool's shell wrapper, which would add a shell's start
 * to every vmctl figure), else ./src/cli/vmctl, else "vmctl" on PATH.
 */
const char *bl_vmctl_path(void);
/* In the child about to exec path: what libtool's wrapper would have set. */
void bl_vmctl_child_env(const char *path);

/*
 * One API request; body is a JSON text or NULL. Returns 0 with *status and
 * *reply (may be NULL) or -1 with *err.
 */
int bl_api(const char *sock, const char *method, const char *path, const char *body, long *status,
	   struct json_object **reply, char **err);
/*
 * POST /v1/vms for a guest-less VM of mem_mib; 0 when it is running, with
 * its qemu pid, accel and ops socket (each may be NULL). -1 with *err.
 */
int bl_create_guestless(const char *sock, const char *name, int mem_mib, pid_t *pid, char *accel,
			size_t alen, char *ops, size_t olen, char **err);
/* kill + DELETE; 0 or -1 with *err. */
int bl_destroy(const char *sock, const char *name, char **err);

/* A unix stream socket connected to path, or -1 (errno set). */
int bl_unix_connect(const char *path);

/*
 * Minimal QMP on a blocking socket (the raw baseline): read lines until
 * one holds a "return" or "error" member (events are skipped), with a
 * deadline. 0 on "return", -1 otherwise.
 */
struct bl_raw {
	int fd;
	char buf[8192];
	size_t len;
};
/* Connect, read the greeting, send qmp_capabilities, enabling oob when the
 * greeting offers it (as libqmp and so vmsupd do: QEMU then no longer
 * suspends the monitor around each command). */
int bl_raw_open(struct bl_raw *r, const char *path, double timeout_ms);
int bl_raw_call(struct bl_raw *r, const char *cmd_json, double timeout_ms);
/* The same, with seen(line, arg) called for each event line before the reply. */
int bl_raw_call_seen(struct bl_raw *r, const char *cmd_json, double timeout_ms,
		     void (*seen)(const char *line, void *arg), void *arg);
int bl_raw_read_line(struct bl_raw *r, char *line, size_t len, double timeout_ms);
void bl_raw_close(struct bl_raw *r);

/* Common command line: --quick, -n N and -m MIB (for the programs that say so). Returns 0, -1 after
 * a usage error (exit 2) or -2 after --help (exit 0). */
struct bl_opts {
	int quick;
	int n;	     /* 0 = the program's default */
	int mem_mib; /* -m: guest memory per VM in MiB, 0 = the program's default */
};
int bl_parse_opts(int argc, char **argv, const char *usage, struct bl_opts *o);

#endif
