/*
 * Integration-test harness: a real vmsupd in a private temp dir, HTTP over
 * its unix socket (libcurl), and cleanup that leaves no qemu behind.
 */
#ifndef TESTS_VMSUPD_HARNESS_H
#define TESTS_VMSUPD_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <json-c/json.h>

struct tdaemon {
	char dir[64];
	char sock[128];
	char log[128];
	pid_t pid;
};

/* Start vmsupd (extra_conf: more config lines, or NULL); waits until it serves.
 * The config says on_exit = stop unless extra_conf says otherwise. */
void td_start(struct tdaemon *d, const char *extra_conf);
/* As root: qemu_user's default user exists (scripts/mkuser-qemu, once a
 * process), since every daemon of the suite runs qemu as it. */
void td_qemu_user_ensure(void);
/* As root: that user's ids (true); else false (qemu runs as the daemon). */
bool td_qemu_user_ids(uid_t *uid, gid_t *gid);
/* The real and effective uid of pid (/proc/PID/status); -1 when gone. */
void td_proc_uids(pid_t pid, long *ruid, long *euid);
/* rm -r, going on past what cannot be removed. */
void td_rmrf(const char *dir);
/* SIGKILL the daemon (its VMs live on) and reap it. */
void td_kill9(struct tdaemon *d);
/* Start vmsupd again on the same config, dirs and socket; waits until it serves. */
void td_restart(struct tdaemon *d);
/* SIGTERM, wait (bounded), SIGKILL leftovers incl. qemu by pidfile, rm -r dir. */
void td_stop(struct tdaemon *d);
/* Kill every qemu whose pidfile lies under the daemon's run dir (VMs and
 * template VMs). */
void td_kill_qemus(struct tdaemon *d);
/* How many such qemus are alive. */
int td_count_qemus(struct tdaemon *d);

/* One request: returns the reply (NULL for an empty/non-JSON body), *status set. */
struct json_object *td_http(struct tdaemon *d, const char *method, const char *path,
			    const char *body, long *status);
/* DELETE ?force=1 of one VM; the HTTP status. */
long td_destroy(struct tdaemon *d, const char *name);
/* Raw body bytes (for oversize bodies). */
struct json_object *td_http_raw(struct tdaemon *d, const char *method, const char *path,
				const char *body, size_t len, long *status);
/* A raw connection to the API socket (the caller closes it). */
int td_connect(struct tdaemon *d);

/* The vmsupd under test ($top_builddir/src/daemon/vmsupd). */
const char *td_vmsupd_bin(void);

/* Field helpers on a reply. */
const char *td_str(struct json_object *o, const char *key);
long long td_int(struct json_object *o, const char *key); /* -1 if null/missing */
const char *td_err_class(struct json_object *o);
const char *td_err_desc(struct json_object *o);
/* A VM's "pid" from GET /v1/vms/NAME (asserts 200; -1 if it has none). */
pid_t td_vm_pid(struct tdaemon *d, const char *name);

/* Is pid alive and a qemu? */
bool td_pid_is_qemu(pid_t pid);
/* Wait (bounded) for pid to be gone. */
bool td_pid_gone(pid_t pid, int timeout_ms);

/* Raw event stream: a connected socket that sent GET /v1/events. */
int td_events_open(struct tdaemon *d, const char *vm);
/* Read until needle appears in the stream, up to timeout_ms; true if seen. */
bool td_events_wait(int fd, const char *needle, int timeout_ms);

double td_now(void);
/* Whether the file at path (a log) contains needle. */
bool td_file_has(const char *path, const char *needle);
/* td_file_has, asked every 100 ms until it is true or timeout_ms passed. */
bool td_file_wait(const char *path, const char *needle, int timeout_ms);
/* Run a shell command (printf-style); the test fails unless it exits 0. */
void td_sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A guest directory's kernel command line (DIR/append, first line) into buf;
 * buf is left as it is when there is no such file. */
void td_guest_append(const char *dir, char *buf, size_t len);
/* The test guest (scripts/mkguest.sh): $VMSUP_GUEST_DIR (else /tmp/guest)
 * if its vmlinuz and initrd.img are readable, else NULL (the caller skips). */
const char *td_guest_dir(void);
/* The test guest's kernel and initrd ($VMSUP_GUEST_DIR, else /tmp/guest)
 * into kernel and initrd (each of size n); false when either is not
 * readable (the caller skips). */
bool td_guest_files(char *kernel, char *initrd, size_t n);
/* The Debian systemd guest (scripts/mkdistro.sh): $VMSUP_DISTRO_DIR if its
 * disk.raw is readable, else NULL (the caller skips). */
const char *td_distro_dir(void);
/* POST /v1/vms booting it as name: the image is never written, the daemon
 * gives the VM a qcow2 overlay of its own (src/disk/). The reply, *status set. */
struct json_object *td_create_distro(struct tdaemon *d, const char *name, int mem_mib,
				     long *status);

/* POST /v1/vms of the test guest's kernel and initrd (td_guest_files) as
 * name, TCG, 256 MiB; asserts 201 running. The reply. */
struct json_object *td_create_guest(struct tdaemon *d, const char *name, const char *kernel,
				    const char *initrd);

/* GET /v1/vms/NAME/ip?wait=..., asked again (each under the client's 180 s
 * timeout) until timeout_s: a Debian boot under TCG on a loaded machine
 * takes minutes. The last reply, *status set (200: it has an address). */
struct json_object *td_wait_ip(struct tdaemon *d, const char *name, int timeout_s, long *status);

/* qemu's own answer through the ops socket: member of cmd's reply as text
 * (malloc'd; a boolean is "true" or "false"), or NULL without it. */
char *td_ops_query(const char *ops_sock, const char *cmd, const char *member);
/* td_ops_query of query-status's "status" */
char *td_ops_status(const char *ops_sock);

/* /proc/PID/cmdline into buf, its NULs as blanks (test fails if unreadable). */
void td_cmdline(pid_t pid, char *buf, size_t size);

#endif
