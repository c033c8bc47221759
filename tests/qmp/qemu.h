/* Start a guest-less QEMU for tests, and make sure it is reaped. */
#ifndef TESTS_QMP_QEMU_H
#define TESTS_QMP_QEMU_H

#include <sys/types.h>

#include "qmp/qmp.h"

struct tq_qemu {
	pid_t pid; /* also the process group */
	char sock[256];
	char log[256];
	int status; /* wait status once reaped */
	int reaped;
};

/* The emulator: $QEMU or the one configure found; NULL if not runnable. */
const char *tq_qemu_binary(void);
/*
 * Start `qemu -machine q35 -nodefaults -display none -S -m 64 <accel>`
 * with a QMP socket in dir, in a process group of its own and killed if
 * the test process dies. Waits until the socket exists. 0 or -1.
 */
int tq_qemu_start(struct tq_qemu *q, const char *dir, const char *const *accel);
/*
 * Run argv (argv[0] a path) the same way; q->sock and q->log must be set:
 * output goes to q->log, and it waits for q->sock to appear.
 */
int tq_spawn(struct tq_qemu *q, const char *const *argv);
/* Find prog: a path as given, else on $PATH; NULL if not executable. */
const char *tq_which(const char *prog, char *buf, size_t len);
/* Wait up to ms for the process to exit on its own; 0 if it did. */
int tq_qemu_wait(struct tq_qemu *q, unsigned ms);
/* SIGKILL the process group and reap it (no-op if already reaped). */
void tq_qemu_kill(struct tq_qemu *q);

/* A test's private directory, the process it started, its sync session. */
struct tq_env {
	char *dir;
	struct tq_qemu q;
	struct qmp_sync *c;
};
/* For .init: a fresh 0700 directory; fails the test without one. */
void tq_env_init(struct tq_env *e);
/* For .fini: close the session, kill and reap the process, remove the directory. */
void tq_env_fini(struct tq_env *e);
/* Skip the test with why; first tq_env_fini, as criterion does not run
 * .fini after a skip in the test's body. */
#define tq_env_skip(e, why)                                                                        \
	do {                                                                                       \
		tq_env_fini(e);                                                                    \
		cr_skip_test(why);                                                                 \
	} while (0)
/* Open e->c on e->q.sock; fails the test if that does not work in ms. */
void tq_env_open(struct tq_env *e, enum qmp_kind kind, unsigned ms);

#endif
