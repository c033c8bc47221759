/*
 * The supervisor's private state, shared by the files of src/core/ that
 * make it up (registry, waiters, event bus, state, process, monitor, stop,
 * operations, modules). Nothing outside src/core/ includes this.
 */
#ifndef VMSUP_SUP_INTERNAL_H
#define VMSUP_SUP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "src/core/module.h"
#include "src/core/supervisor.h"
#include "src/core/vm.h"

#define CONNECT_RETRY_MS 2
#define CONNECT_DEADLINE 20.0 /* s: qemu creates its monitor socket early */
#define QUIT_TO_KILL_S	 5
#define OP_TIMEOUT_MS	 30000
#define LOG_TAIL_BYTES	 2048
#define SAVE_DELAY_MS	 10
#define SAVE_RETRY_MS	 1000 /* a failed state file write is tried again */

enum waiter_kind {
	W_START,   /* until running, or the process is gone */
	W_STATE,   /* until a state in mask, or the process is gone */
	W_GONE,	   /* until no process (stop, kill) */
	W_DESTROY, /* until no process, then the VM is removed */
	W_QMP,	   /* a QMP reply */
};

struct waiter {
	struct vmsup *sup;
	struct vm *vm; /* NULL once detached (QMP waiters after destroy) */
	enum waiter_kind kind;
	unsigned mask;
	bool created;	    /* the reply creates the VM (POST /v1/vms) */
	vmsup_done_fn done; /* NULL once cancelled */
	void *arg;
	struct event *timer;
	bool in_list;
	struct waiter *next;
	/* a success reply held until its VM's state file is on disk (lifecycle.c) */
	bool durable; /* on sup->durable, with name, seq and body */
	bool orphan;  /* its owner let go: freed once replied */
	bool pinned;  /* sup_waiter_free only orphans it: op.c looks once more */
	char *name;   /* the VM's (vm may be gone by then) */
	uint64_t seq; /* the state file write it waits for */
	struct json_object *body;
	struct waiter *dnext;
};

struct sub {
	int handle;
	char *vm; /* filter */
	vmsup_event_fn fn;
	void *arg;
	struct sub *next;
};

struct vmsup {
	struct event_base *base;
	struct vmsup_config cfg;
	char *vm_root; /* run_dir/vm */
	bool sandbox;
	bool qemu_user_default; /* cfg.qemu_user is the default, not configured */
	uid_t qemu_uid;		/* cfg.qemu_user's, resolved once at start-up: a */
	gid_t qemu_gid;		/* lookup needs descriptors a busy daemon may lack */
	char *qemu_version;
	struct vm *vms;
	size_t nvms;
	struct event *sigchld;
	struct sub *subs;
	int next_sub;
	int emitting;
	bool shutting_down;
	struct statewriter *writer; /* the state files, off the loop */
	struct waiter *durable;	    /* replies waiting for a state file write */
	struct {
		const struct vm_module *ops;
		void *ctx;
	} modules[VMSUP_MAX_MODULES];
	int nmodules;
	void (*shutdown_done)(void *);
	void *shutdown_arg;
};

static inline double sup_now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double sup_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline struct timeval sup_tv_ms(unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return tv;
}

/* waiter.c: API requests waiting on a VM */
void sup_finish(struct waiter *w, const char *cls, const char *desc, struct json_object *body);
void sup_reply_err(vmsup_done_fn done, void *arg, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The reply may wait for the state file: a waiter to cancel, else NULL. */
struct waiter *sup_reply_vm(vmsup_done_fn done, void *arg, bool created, struct vm *vm);
/* ... with body (taken a reference of) rather than the VM's status. */
struct waiter *sup_reply_body(vmsup_done_fn done, void *arg, bool created, struct vm *vm,
			      struct json_object *body);
struct waiter *sup_waiter_add(struct vm *vm, enum waiter_kind kind, unsigned mask, bool created,
			      unsigned timeout_ms, vmsup_done_fn done, void *arg);
void sup_waiter_unlink(struct waiter *w);
void sup_waiter_free(struct waiter *w);
/* Answer every waiter of vm with an error (VM destroyed, daemon exit). */
void sup_waiters_fail(struct vm *vm, const char *cls, const char *desc);

/* VMSUP_STATUS_CACHE_CHECK: abort if vm's kept list text is stale (vm-status.c). */
void vmsup_status_check(struct vm *vm);
/* Complete the waiters the VM's new situation satisfies; may free vm. */
void sup_check_waiters(struct vm *vm);
/* The answer to a create of VM name that ran out of descriptors (cause: the failure). */
void sup_exhausted_desc(const char *name, const char *cause, char *buf, size_t size);

/* bus.c */
void sup_emit_state(struct vm *vm);
void sup_emit_destroyed(struct vm *vm);
void sup_bus_free(struct vmsup *sup);

/* lifecycle.c: state changes and the state file */
/* Queue the VM's state file for the writer thread now. */
void sup_save_now(struct vm *vm);
/* The writer thread's report (statewriter_done_fn, arg the vmsup). */
void sup_saved(const char *name, uint64_t seq, const char *err, void *arg);
/* Hold a success reply (body) until name's state file is written:
 * true when held, false when it is on disk already. */
bool sup_hold_reply(struct waiter *w, const char *name, struct json_object *body);
/* A deferred write still pending is queued now: before a reply that
 * reports the change, which waits for it (a kill -9 right after the
 * reply must not lose it). */
void sup_save_flush(struct vm *vm);
void sup_save(struct vm *vm);
void sup_set_state(struct vm *vm, enum vm_state to);
void sup_set_error(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* process.c: spawning qemu and its exit */
int sup_paths_init(struct vm *vm, char **err);
int sup_vm_start(struct vm *vm);
void sup_fail_start(struct vm *vm, const char *why);
/* closes vm->ssh_port_hold (qemu has bound the port, or will not) */
void sup_release_ssh_port(struct vm *vm);
void sup_remove_runtime_files(struct vm *vm);
void sup_process_gone(struct vm *vm, int status);
void sup_on_sigchld(evutil_socket_t sig, short what, void *arg);

/* ops-proxy.c: the ops socket, relayed to qemu's second monitor with
 * caller QMP checked by vm_qmp_guard() */
int sup_ops_proxy_start(struct vm *vm, char **err);
void sup_ops_proxy_stop(struct vm *vm);

/* monitor.c: the supervisor's QMP session */
int sup_connect_start(struct vm *vm);
void sup_drop_qmp(struct vm *vm);

/* fatal.c: a QMP event that may end the VM (GUEST_PANICKED, SHUTDOWN
 * with reason guest-panic, STOP into internal-error) */
void sup_fatal_event(struct vm *vm, const char *name, struct json_object *data);

/* stop.c */
bool sup_send_cmd(struct vm *vm, const char *cmd);
void sup_vm_stop(struct vm *vm, unsigned grace);
/* SIGKILL now, no ACPI, no quit, no grace (destroy with force); a stop
 * under way is overtaken. */
void sup_vm_kill_now(struct vm *vm);
void sup_maybe_shutdown_done(struct vmsup *sup);

/* registry.c */
void sup_vm_free(struct vm *vm);
void sup_rm_run_dir(struct vm *vm);
void sup_vm_remove(struct vm *vm);

#endif
