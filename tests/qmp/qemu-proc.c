#include "config.h"

#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/qmp/qemu.h"
#include "tests/qmp/util.h"

static void nap(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

const char *tq_which(const char *prog, char *buf, size_t len)
{
	const char *path = getenv("PATH");

	if (!prog || !*prog)
		return NULL;
	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0 ? prog : NULL;
	for (const char *p = path ? path : "/usr/bin:/bin"; p && *p;) {
		const char *e = strchr(p, ':');
		int n = e ? (int)(e - p) : (int)strlen(p);
		snprintf(buf, len, "%.*s/%s", n, p, prog);
		if (access(buf, X_OK) == 0)
			return buf;
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

const char *tq_qemu_binary(void)
{
	static char found[4096];
	const char *q = getenv("QEMU");

	return tq_which(q && *q ? q : QEMU_DEFAULT, found, sizeof(found));
}

int tq_qemu_start(struct tq_qemu *q, const char *dir, const char *const *accel)
{
	const char *bin = tq_qemu_binary();
	char qmparg[300];
	const char *argv[32];
	int n = 0;

	memset(q, 0, sizeof(*q));
	q->pid = -1;
	if (!bin)
		return -1;
	snprintf(q->sock, sizeof(q->sock), "%s/qmp.sock", dir);
	snprintf(q->log, sizeof(q->log), "%s/qemu.log", dir);
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", q->sock);
	argv[n++] = bin;
	const char *fixed[] = {"-machine", "q35", "-nodefaults", "-display", "none",
			       "-S",	   "-m",  "64",		 "-qmp",     qmparg};
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		argv[n++] = fixed[i];
	for (; accel && *accel && n < 30; accel++)
		argv[n++] = *accel;
	argv[n] = NULL;

	return tq_spawn(q, argv);
}

int tq_spawn(struct tq_qemu *q, const char *const *argv)
{
	struct stat st;
	pid_t parent = getpid();

	q->pid = fork();
	if (q->pid < 0)
		return -1;
	if (q->pid == 0) {
		/* Own group so teardown can kill everything it spawned; and
		 * die with the test process should criterion kill it. */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		int fd = open(q->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	setpgid(q->pid, q->pid);
	for (int i = 0; i < 600; i++) { /* 60 s: the machine is shared */
		if (stat(q->sock, &st) == 0 && S_ISSOCK(st.st_mode))
			return 0;
		if (waitpid(q->pid, &q->status, WNOHANG) == q->pid) {
			q->reaped = 1;
			return -1;
		}
		nap(100);
	}
	return -1;
}

int tq_qemu_wait(struct tq_qemu *q, unsigned ms)
{
	if (q->pid <= 0 || q->reaped)
		return 0;
	for (unsigned t = 0; t <= ms; t += 20) {
		if (waitpid(q->pid, &q->status, WNOHANG) == q->pid) {
			q->reaped = 1;
			return 0;
		}
		nap(20);
	}
	return -1;
}

void tq_qemu_kill(struct tq_qemu *q)
{
	if (q->pid <= 0 || q->reaped)
		return;
	kill(-q->pid, SIGKILL);
	kill(q->pid, SIGKILL);
	while (waitpid(q->pid, &q->status, 0) < 0 && errno == EINTR)
		;
	q->reaped = 1;
}

void tq_env_init(struct tq_env *e)
{
	memset(e, 0, sizeof(*e));
	e->dir = tu_tmpdir();
	cr_assert(e->dir);
}

void tq_env_fini(struct tq_env *e)
{
	qmp_sync_close(e->c);
	e->c = NULL;
	tq_qemu_kill(&e->q);
	tu_rmdir(e->dir);
	free(e->dir);
	e->dir = NULL;
}

void tq_env_open(struct tq_env *e, enum qmp_kind kind, unsigned ms)
{
	struct qmp_error err;

	e->c = qmp_sync_open(e->q.sock, kind, ms, &err);
	cr_assert(e->c, "%s: %s", err.cls, err.desc);
}
