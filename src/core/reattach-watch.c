#include "src/core/reattach-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "src/util/err.h"
#include "src/util/log.h"
#include "src/util/proc.h"
#include "src/core/supervisor.h"

#define POLL_MS 50 /* without pidfd: exit seen within this */

double reattach_now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- /proc ---- */

/* The state letter and field 22 of /proc/PID/stat. */
static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (vmsup_read_small(path, buf, sizeof(buf)) <= 0)
		return -1;
	/* comm may hold spaces and ')': fields count from the last ')' */
	if (!(p = strrchr(buf, ')')) || sscanf(p + 1, " %c", state) != 1)
		return -1;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", start) != 1)
		return -1;
	return 0;
}

unsigned long long vm_proc_start_time(pid_t pid)
{
	unsigned long long st = 0;
	char state;

	return proc_stat(pid, &state, &st) == 0 ? st : 0;
}

bool vm_proc_is_our_qemu(pid_t pid, unsigned long long start_time, const char *qmp_sock)
{
	char path[64], buf[8192];
	unsigned long long st;
	char state;
	ssize_t n;

	if (pid <= 1 || !start_time || !qmp_sock || proc_stat(pid, &state, &st) ||
	    st != start_time || state == 'Z' || state == 'X')
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((n = vmsup_read_small(path, buf, sizeof(buf))) <= 0)
		return false;
	/* argv is NUL-separated: make it one searchable string */
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return strstr(buf, qmp_sock) != NULL;
}

/* The pid in a qemu pid file, 0 if none. */
static pid_t pidfile_pid(const char *pidfile)
{
	char buf[32];

	if (!pidfile || vmsup_read_small(pidfile, buf, sizeof(buf)) <= 0)
		return 0;
	return (pid_t)strtol(buf, NULL, 10);
}

pid_t vm_proc_find_qemu(const char *pidfile, const char *qmp_sock, unsigned long long *start)
{
	pid_t pid = pidfile_pid(pidfile);
	struct dirent *e;
	DIR *d;

	if (!qmp_sock)
		return 0;
	if (pid > 1 && vm_proc_is_our_qemu(pid, *start = vm_proc_start_time(pid), qmp_sock))
		return pid;
	/* no pid file (removed, or from another run): any process whose
	 * command line names the socket, which is unique to this VM */
	if (!(d = opendir("/proc")))
		return 0;
	pid = 0;
	while (!pid && (e = readdir(d))) {
		char *end;
		long n = strtol(e->d_name, &end, 10);
		if (*end || n <= 1 || n == getpid())
			continue;
		if (vm_proc_is_our_qemu((pid_t)n, *start = vm_proc_start_time((pid_t)n), qmp_sock))
			pid = (pid_t)n;
	}
	closedir(d);
	return pid;
}

/* ---- exit watch ---- */

void vm_reattach_release(struct vm *vm)
{
	struct watch *w = vm->watch;

	if (!w)
		return;
	if (w->ev)
		event_free(w->ev);
	if (w->qmp_retry)
		event_free(w->qmp_retry);
	if (w->pidfd >= 0)
		close(w->pidfd);
	free(w);
	vm->watch = NULL;
}

void reattach_gone(struct vm *vm)
{
	LOG_I(vm->spec.name, "adopted qemu pid %d is gone", (int)vm->pid);
	vm_reattach_release(vm);
	vmsup_vm_exited(vm); /* may free vm */
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
	reattach_gone(arg);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	if (!vm_proc_is_our_qemu(vm->pid, vm->start_time, vm->qmp_sock))
		reattach_gone(vm);
}

static struct watch *watch_get(struct vm *vm)
{
	struct watch *w = vm->watch;

	if (w)
		return w;
	if (!(w = calloc(1, sizeof(*w))))
		return NULL;
	w->vm = vm;
	w->pidfd = -1;
	w->t0 = reattach_now_mono();
	vm->watch = w;
	return w;
}

int vm_reattach_watch(struct vm *vm, char **err)
{
	struct event_base *base = vmsup_base(vm->sup);
	struct watch *w = watch_get(vm);
	int fd = -1;

	if (!w)
		return vmsup_err(err, "out of memory");
	if (w->ev)
		return 0;
#ifdef SYS_pidfd_open
	fd = (int)syscall(SYS_pidfd_open, vm->pid, 0);
#endif
	if (fd >= 0) {
		/* readable once the process has exited */
		w->pidfd = fd;
		w->ev = event_new(base, fd, EV_READ, on_pidfd, vm);
		if (!w->ev || event_add(w->ev, NULL) < 0)
			return vmsup_err(err, "cannot watch pidfd of pid %d", (int)vm->pid);
		return 0;
	}
	if (errno == ESRCH)
		return vmsup_err(err, "pid %d is gone", (int)vm->pid);
	LOG_D(vm->spec.name, "pidfd_open: %s: polling /proc every %d ms", strerror(errno), POLL_MS);
	w->ev = event_new(base, -1, EV_PERSIST, on_poll, vm);
	if (!w->ev)
		return vmsup_err(err, "out of memory");
	{
		struct timeval tv = {0, POLL_MS * 1000};
		event_add(w->ev, &tv);
	}
	return 0;
}
