#include "src/qemu/spawn.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/qemu/argv.h"
#include "src/qemu/nosuid-filter.h"
#include "src/qemu/stage.h"
#include "src/util/err.h"

struct child_err {
	int stage; /* 0 log, 1 stdin, 2 setsid, 3 exec, 4 fd 3, 5 seccomp */
	int errnum;
};

static void close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, lowfd, ~0u, 0) == 0)
		return;
#endif
	for (int fd = lowfd; fd < 65536; fd++)
		close(fd);
}

/* Runs between fork and exec: async-signal-safe calls only. */
static void child(char *const argv[], const char *log_path, const int *fds, int nfds, int errfd)
{
	struct child_err ce = {0, 0};
	int hi[VM_SPAWN_FDS];
	sigset_t all;
	int fd;

	/* the daemon's blocked and ignored signals must not leak into qemu */
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);

	if (setsid() < 0) {
		ce.stage = 2;
		goto fail;
	}
	fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) {
		ce.stage = 0;
		goto fail;
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || dup2(fd, 0) < 0) {
		ce.stage = 1;
		goto fail;
	}
	/* errfd is close-on-exec and stays open through close_from */
	if (errfd < 3) {
		ce.stage = 1;
		goto fail;
	}
	/* fds 3.. are the extra fds': errfd and the fds themselves move above
	 * them first, so no dup2 lands on a descriptor still to be moved */
	if (nfds > 0 && errfd < 3 + nfds && (errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 3 + nfds)) < 0) {
		ce.stage = 4;
		goto fail;
	}
	for (int i = 0; i < nfds; i++) {
		hi[i] = fds[i] < 0 ? -1 : fcntl(fds[i], F_DUPFD_CLOEXEC, 3 + nfds);
		if (fds[i] >= 0 && hi[i] < 0) {
			ce.stage = 4;
			goto fail;
		}
	}
	for (int i = 0; i < nfds; i++) {
		/* dup2 clears close-on-exec on the copy: this one is inherited */
		if (hi[i] >= 0 ? dup2(hi[i], 3 + i) < 0 : (close(3 + i), 0)) {
			ce.stage = 4;
			goto fail;
		}
	}
	for (int f = 3 + nfds; f < errfd; f++)
		close(f);
	close_from(errfd + 1);
	/* the guest must not leave setuid files through qemu's 9p exports */
	if (vm_nosuid_filter() < 0) {
		ce.stage = 5;
		goto fail;
	}
	execvp(argv[0], argv);
	ce.stage = 3;
fail:
	ce.errnum = errno;
	if (write(errfd, &ce, sizeof(ce)) < 0) {
		/* nothing left to tell anyone */
	}
	_exit(127);
}

int vm_spawn(char *const argv[], const char *log_path, pid_t *pid, char **err)
{
	return vm_spawn_fds(argv, log_path, NULL, 0, pid, err);
}

int vm_spawn_fds(char *const argv[], const char *log_path, const int *fds, int nfds, pid_t *pid,
		 char **err)
{
	static const char *const stages[] = {"opening the log", "redirecting stdin",
					     "setsid",		"exec",
					     "passing fds 3..", "the setuid/setgid seccomp filter"};
	struct child_err ce;
	int p[2];
	ssize_t n;
	pid_t c;

	if (nfds < 0 || nfds > VM_SPAWN_FDS)
		return vmsup_err(err, "%d descriptors for qemu, at most %d", nfds, VM_SPAWN_FDS);
	if (vm_nosuid_filter_prepare(err) < 0)
		return -1;
	if (pipe2(p, O_CLOEXEC) < 0)
		return vmsup_err(err, "pipe: %s", strerror(errno));
	c = fork();
	if (c < 0) {
		close(p[0]);
		close(p[1]);
		return vmsup_err(err, "fork: %s", strerror(errno));
	}
	if (c == 0) {
		close(p[0]);
		child(argv, log_path, fds, nfds, p[1]);
	}
	close(p[1]);
	do
		n = read(p[0], &ce, sizeof(ce));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == (ssize_t)sizeof(ce)) {
		/* the child is gone already: reap it here, nobody else knows it */
		while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
			;
		return vmsup_err(err, "%s: %s: %s", argv[0], stages[ce.stage], strerror(ce.errnum));
	}
	*pid = c;
	return 0;
}

int vm_mkdir(const char *path, mode_t mode, char **err)
{
	struct stat st;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return vmsup_err(err, "mkdir %s: %s", path, strerror(errno));
	if (lstat(path, &st) < 0)
		return vmsup_err(err, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return vmsup_err(err, "%s: exists and is not a directory", path);
	if ((st.st_mode & 07777) != mode && chmod(path, mode) < 0)
		return vmsup_err(err, "chmod %s: %s", path, strerror(errno));
	return 0;
}

char *vm_spawn_fd_path(int slot)
{
	char *s;

	return asprintf(&s, "/proc/self/fd/%d", 3 + slot) < 0 ? NULL : s;
}

/* What a run dir holds (vm_run_files, the serial socket, the console
 * log's rotation, the agent module's known_hosts): removed by name, so a
 * daemon out of descriptors (EMFILE, when opendir cannot) still cleans up. */
static const char *const run_files[] = {
    "qmp.sock",	   "ops.sock",	    "ops-qemu.sock", "qga.sock",      "qemu.pid",
    "console.log", "console.log.1", "qemu.log",	     VM_CONSOLE_SOCK, "known_hosts",
};

int vm_rm_run_dir(const char *dir)
{
	char p[PATH_MAX];
	DIR *d;
	struct dirent *e;

	vm_stage_remove(dir);
	for (size_t i = 0; i < sizeof(run_files) / sizeof(run_files[0]); i++)
		if (snprintf(p, sizeof(p), "%s/%s", dir, run_files[i]) < (int)sizeof(p))
			unlink(p);
	/* anything else a module left there */
	if ((d = opendir(dir))) {
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	return rmdir(dir);
}

int vm_free_port(int *hold, char **err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port, one = 1;

	if (fd < 0)
		return vmsup_err(err, "socket: %s", strerror(errno));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((hold && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		close(fd);
		return vmsup_err(err, "no free port on 127.0.0.1: %s", strerror(errno));
	}
	port = ntohs(sa.sin_port);
	if (hold)
		*hold = fd;
	else
		close(fd);
	return port;
}

static int set_path(char **dst, const char *dir, const char *file)
{
	free(*dst);
	if (asprintf(dst, "%s/%s", dir, file) < 0) {
		*dst = NULL;
		return -1;
	}
	return 0;
}

int vm_run_files(const char *dir, char **qmp_sock, char **ops_sock, char **ops_qemu_sock,
		 char **qga_sock, char **pidfile, char **console_log, char **qemu_log, char **err)
{
	const char *longest;

	if (set_path(qmp_sock, dir, "qmp.sock") || set_path(ops_sock, dir, "ops.sock") ||
	    (ops_qemu_sock && set_path(ops_qemu_sock, dir, "ops-qemu.sock")) ||
	    set_path(qga_sock, dir, "qga.sock") || set_path(pidfile, dir, "qemu.pid") ||
	    set_path(console_log, dir, "console.log") || set_path(qemu_log, dir, "qemu.log"))
		return vmsup_err(err, "out of memory");
	/* qmp, ops and qga.sock are equally long; ops-qemu.sock is longer */
	longest = ops_qemu_sock ? *ops_qemu_sock : *qmp_sock;
	if (strlen(longest) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return vmsup_err(err,
				 "socket path %s is too long for a unix socket (run_dir too deep)",
				 longest);
	return 0;
}
