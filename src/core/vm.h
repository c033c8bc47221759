/*
 * A VM: its spec, runtime facts and lifecycle state, with the table of
 * legal state transitions and of which operations each state allows
 * (anything else is a 409 Conflict).
 */
#ifndef VMSUP_VM_H
#define VMSUP_VM_H

#include <stdbool.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "src/qemu/spec.h"

enum vm_state {
	VM_DEFINED,
	VM_STARTING, /* spawned, QMP being negotiated, still -S */
	VM_RUNNING,
	VM_PAUSED,
	VM_STOPPING, /* power-off asked for, or the guest shut down */
	VM_STOPPED,
	VM_CRASHED, /* qemu exited without a SHUTDOWN event */
	VM_FAILED,  /* spawn or QMP handshake failed */
	VM_NSTATES,
};

enum vm_op {
	VM_OP_START,
	VM_OP_PAUSE,
	VM_OP_RESUME,
	VM_OP_STOP,
	VM_OP_KILL,
	VM_OP_RESET,
	VM_OP_DESTROY,
	VM_OP_QMP, /* passthrough and anything else needing a live qemu */
	VM_NOPS,
};

const char *vm_state_name(enum vm_state s);
/* -1 if unknown */
int vm_state_parse(const char *s);
const char *vm_op_name(enum vm_op op);

bool vm_transition_legal(enum vm_state from, enum vm_state to);
bool vm_op_allowed(enum vm_state s, enum vm_op op);
/* A qemu process may exist in this state. */
bool vm_state_has_process(enum vm_state s);

enum vm_agent_state {
	VM_AGENT_ABSENT,
	VM_AGENT_CONNECTING,
	VM_AGENT_READY,
};
const char *vm_agent_state_name(enum vm_agent_state s);

struct qmp_session;
struct event;
struct vmsup;

struct vm {
	struct vm_spec spec;
	enum vm_state state;
	struct vmsup *sup; /* owning registry */

	/* runtime */
	pid_t pid;		       /* 0 when no process */
	unsigned long long start_time; /* /proc/PID/stat field 22, against pid reuse */
	char *run_dir, *qmp_sock, *ops_sock, *qga_sock, *pidfile, *console_log, *qemu_log;
	/* qemu's side of the ops socket; vmsupd serves ops_sock (ops-proxy.c) */
	char *ops_qemu_sock;
	struct ops_proxy *ops_proxy;
	char mac[18];
	int ssh_port;
	int ssh_port_hold; /* keeps ssh_port bound until qemu has (vm_free_port), or -1 */
	char *accel_used;  /* "kvm" or "tcg" from query-kvm, NULL before */
	double created;	   /* wall clock */
	uid_t owner;	   /* who created it (the API peer); only they and admins see it */
	double state_since;
	unsigned restarts;
	void *restart_state; /* opaque, owned by src/core/restart.c */

	/* reattached at start-up (src/core/reattach.c): qemu is not our child, so
	 * SIGCHLD never reports it; its exit comes through a pidfd watch */
	bool adopted;
	void *watch; /* opaque, owned by src/core/reattach.c */

	/* exit facts of the last process */
	int exit_code;		 /* -1 = none */
	int exit_signal;	 /* -1 = none */
	const char *exit_reason; /* static token from a module ("oom"), NULL = none known */
	char *error;		 /* why failed / crashed */
	char *fatal;	/* qemu runs on but the VM cannot (internal-error, panic): its exit is this
			   crash */
	char *log_tail; /* tail of qemu.log at exit */

	/* supervisor QMP connection */
	struct qmp_session *qmp;
	struct event *connect_timer; /* retry until qemu's socket listens */
	double connect_deadline;
	bool qmp_ready_once;
	bool shutdown_seen;	  /* SHUTDOWN event arrived: an exit is a clean stop */
	bool kill_requested;	  /* our SIGKILL: an exit is a stop, not a crash */
	bool start_failed;	  /* we killed it during start-up: an exit is "failed" */
	bool start_exhausted;	  /* ... for want of file descriptors (EMFILE, ENFILE) */
	struct event *stop_timer; /* grace: powerdown -> quit -> SIGKILL */
	struct event *save_timer; /* state file write, slightly deferred */
	char *save_error;	  /* last state file write failed (e.g. disk full), or NULL */
	bool qmp_unresponsive;	  /* the last QMP command timed out; cleared by a reply */
	int stop_stage;

	/* hooks for later modules */
	enum vm_agent_state agent_state; /* the agent module drives this */
	bool agent_seen;		 /* ... and this once it opened its port or answered */
	void *agent;			 /* opaque, owned by the agent module */
	void *cgroup;			 /* opaque, owned by the cgroup module */
	void *disk;			 /* opaque, src/disk/vm-disk.c: the disk image */
	void *files;	  /* opaque, src/files/vm-files.c: kernel, initrd, shares as opened */
	void *tmpl;	  /* opaque, src/snapshot/vm-template.c: restored from a template */
	bool pool_member; /* paused in the warm pool (src/pool/pool.h): only destroy, kill, qmp */
	int balloon_mib;  /* -1 = unknown */

	bool destroying;
	/* the core is still using the VM below a callback (a bus subscriber
	 * may destroy a VM whose qemu just exited): a destroy completes, and
	 * frees it, once this is 0 again (sup_check_waiters) */
	int busy;
	struct waiter *waiters; /* API requests waiting on this VM */
	/* vm_cached_json as GET /v1/vms prints it, without the closing brace;
	 * NULL until the next list after a change (vm_status_changed) */
	char *status_text;
	size_t status_len;
	struct vm *next;
};

/* Free what a struct vm owns by value (spec, paths, messages); not its
 * modules' state or timers (the supervisor's vm_free does those). */
void vm_release_fields(struct vm *vm);

/* The VM as the API shows it (a new object): vm_record_json, then vm_live_json. */
struct json_object *vm_to_json(const struct vm *vm);

/* The same without what only a live read can say (whether the state file
 * is saved, which spec files are missing): what the state file records.
 * vm_cached_json, then the restart countdown. */
struct json_object *vm_record_json(const struct vm *vm);

/* The fields that change only when something happens to the VM (an event,
 * an exit, an API call, a module's news), all but the clock's countdown:
 * what GET /v1/vms keeps as text between changes (vm-status.c). */
struct json_object *vm_cached_json(const struct vm *vm);

/* Adds what only a live read can say: state_file_error, state_unsaved,
 * missing (a stat of each file the spec names). */
void vm_live_json(const struct vm *vm, struct json_object *o);

/*
 * A field vm_cached_json shows changed (or may have): GET /v1/vms builds
 * the VM's text again at its next read. Every writer of such a field calls
 * it, the modules too (vm-status.c; VMSUP_STATUS_CACHE_CHECK finds one
 * that does not).
 */
void vm_status_changed(struct vm *vm);

#endif
