/*
 * A test VM for the snapshot tests and bench/restore: the test guest booted
 * with the daemon's argv layout (src/argv.c), or a qemu waiting for an
 * incoming snapshot, each in a private 0700 directory and its own process
 * group, with an async QMP session feeding a src/agent.h agent. Every qemu
 * started here is killed and reaped at exit, also when a test fails.
 */
#ifndef TESTS_SNAPSHOT_SVM_H
#define TESTS_SNAPSHOT_SVM_H

#include <sys/types.h>
#include <event2/event.h>

#include "src/agent.h"

#define SVM_MAC "52:54:00:5a:50:01"

struct svm {
	char dir[64];
	char qmp_path[128], qga_path[128], console[128], errlog[128], pidfile[128];
	int ssh_port;
	pid_t pid; /* process group leader; 0 once reaped */
	int exit_status;
	char **argv; /* without -incoming */
	struct event_base *base;
	struct qmp_session *qmp;
	struct agent *agent;
	int qmp_ready, agent_ready, qmp_failed;
	double t_spawn, t_agent;
};

struct svm_opts {
	unsigned mem_mib;	  /* 0 = 256 */
	const char *mac;	  /* NULL = SVM_MAC */
	int vmgenid;		  /* add -device vmgenid */
	const char *const *extra; /* more argv (devices), NULL-terminated */
};

double svm_now_ms(void);
/* $VMSUP_GUEST_DIR or /tmp/guest with vmlinuz + initrd.img, else NULL. */
const char *svm_guest_dir(void);
/* Run base until *flag is set or ms passed; returns *flag. */
int svm_run_until(struct event_base *base, int *flag, unsigned ms);

/* Make the run dir and argv. 0 or -1 (message on stderr). */
int svm_prepare(struct svm *v, const struct svm_opts *o);
/*
 * Spawn qemu (stderr to errlog), connect QMP (waits until ready) and make
 * the agent. incoming: add snap_restore_argv(); state_fd >= 0 is inherited
 * as descriptor 3. cont: send `cont` (cold boot; argv has -S).
 */
int svm_spawn(struct svm *v, struct event_base *base, int incoming, int state_fd, int cont);
int svm_wait_agent(struct svm *v, unsigned ms);
/* guest-exec "/bin/sh -c cmd"; *out malloc'd stdout. 0 if it ran. */
int svm_sh(struct svm *v, const char *cmd, char **out, int *status, unsigned ms);
/* Wait up to ms for qemu to exit by itself (reaped): 1 if it did. */
int svm_wait_exit(struct svm *v, unsigned ms);
/* Close sessions, SIGKILL the group, reap, remove the dir. Idempotent. */
void svm_stop(struct svm *v);

#endif
