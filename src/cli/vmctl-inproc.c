/* vmctl: the private in-process supervisor of `vmctl run`. */
#include "config.h"

#include "src/cli/vmctl-inproc.h"
#include "src/qemu/config.h"
#include "src/daemon/daemon.h"
#include "src/cli/vmctl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Starting is spawn-free (bind a socket, make dirs): seconds mean trouble. */
#define READY_TIMEOUT_MS 30000

int vmctl_daemon_reachable(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, rc, e;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	close(fd);
	if (rc == 0)
		return 1;
	errno = e;
	if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
		return 0;
	return -1;
}

static char *join(const char *a, const char *b)
{
	char *s;

	return asprintf(&s, "%s/%s", a, b) < 0 ? NULL : s;
}

static int build_config(struct vmsup_config *c, const char *dir, char **err)
{
	const char *file = getenv("VMSUP_CONFIG");
	char *sock = join(dir, "api.sock"), *state = join(dir, "state"), *run = join(dir, "run"),
	     *key = join(dir, "state/id_ed25519");
	int rc = -1;

	if (vmsup_config_init(c, err))
		goto out;
	if (!file || !*file)
		file =
		    access(SYSCONFDIR "/vmsupd.conf", R_OK) == 0 ? SYSCONFDIR "/vmsupd.conf" : NULL;
	if (file && vmsup_config_load(c, file, err))
		goto out;
	if (!sock || !state || !run || !key) {
		*err = strdup("out of memory");
		goto out;
	}
	/* Private paths, whatever the file says: this supervisor must not
	 * meet the system daemon's sockets, state or key. */
	if (vmsup_config_set(c, "socket", sock, err) ||
	    vmsup_config_set(c, "state_dir", state, err) ||
	    vmsup_config_set(c, "run_dir", run, err) || vmsup_config_set(c, "ssh_key", key, err))
		goto out;
	/* Its VMs are disposable: if vmctl dies, the orphaned supervisor's
	 * graceful stop (ACPI, then quit) must not keep qemu around long. */
	if (c->stop_grace_s > 5 && vmsup_config_set(c, "stop_grace_s", "5", err))
		goto out;
	/* ... and no daemon comes after it to reattach them: its SIGTERM
	 * (vmctl's stop, or vmctl gone) takes them down, whatever the file's
	 * on_exit says */
	if (vmsup_config_set(c, "on_exit", "stop", err))
		goto out;
	if (vmsup_config_finish(c, err))
		goto out;
	rc = 0;
out:
	free(sock);
	free(state);
	free(run);
	free(key);
	return rc;
}

/* The child: its own process group, so a terminal's ^C reaches vmctl only
 * and vmctl orders the teardown; SIGTERM if vmctl dies, so nothing it
 * started outlives it. */
static void serve_child(const struct vmsup_config *c, const char *dir, pid_t parent, int ready)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD};
	char *log = join(dir, "vmsupd.log"), *err = NULL;
	sigset_t none;
	size_t i;
	int fd, rc;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(1);
	sigemptyset(&dfl.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Keep no end of the user's pipes open: a reader of vmctl's output
	 * sees EOF when vmctl exits, not when this child does. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		close(fd);
	}
	fd = log ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	rc = vmsup_serve(c, ready, &err);
	if (rc)
		fprintf(stderr, "vmsupd: %s\n", err ? err : "failed");
	/* Orphaned (vmctl was killed): nobody else will tidy up. */
	if (getppid() != parent)
		vmctl_rmrf(dir);
	free(err);
	free(log);
	_exit(rc ? 1 : 0);
}

/* The last line of the child's log, for the error message. */
static void last_log_line(const char *dir, char *buf, size_t n)
{
	char *log = join(dir, "vmsupd.log"), line[512];
	FILE *f = log ? fopen(log, "re") : NULL;

	snprintf(buf, n, "no message");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (*line)
			snprintf(buf, n, "%s", line);
	}
	if (f)
		fclose(f);
	free(log);
}

int vmctl_inproc_start(struct vmctl_inproc *p, const char *who,
		       volatile const sig_atomic_t *abort_flag)
{
	struct vmsup_config c;
	const char *tmp = getenv("TMPDIR");
	char tmpl[64], *err = NULL, msg[512], byte;
	int fds[2] = {-1, -1}, rc = VMCTL_EXIT_ERR, waited = 0, inited = 0;
	pid_t parent = getpid();

	memset(p, 0, sizeof(*p));
	memset(&c, 0, sizeof(c));
	/* $TMPDIR only when short: the per-VM socket paths below it
	 * (run/vm/NAME/qga.sock, NAME up to 63) must fit sun_path's 108
	 * bytes. mkdtemp makes it 0700. */
	if (!tmp || tmp[0] != '/' || strlen(tmp) > 24)
		tmp = "/tmp";
	snprintf(tmpl, sizeof(tmpl), "%s/vmctl-XXXXXX", tmp);
	if (!mkdtemp(tmpl)) {
		vmctl_fail(who, "private supervisor directory: %s", strerror(errno));
		return VMCTL_EXIT_ERR;
	}
	p->dir = strdup(tmpl);
	if (!p->dir) {
		vmctl_rmrf(tmpl);
		return vmctl_fail(who, "out of memory");
	}
	inited = 1;
	if (build_config(&c, p->dir, &err)) {
		vmctl_fail(who, "in-process supervisor: %s", err ? err : "bad configuration");
		goto out;
	}
	p->stop_grace_s = c.stop_grace_s;
	p->sock = strdup(c.socket);
	if (!p->sock || pipe2(fds, O_CLOEXEC) < 0) {
		vmctl_fail(who, "in-process supervisor: %s", strerror(errno ? errno : ENOMEM));
		goto out;
	}
	fflush(NULL);
	p->pid = fork();
	if (p->pid < 0) {
		p->pid = 0;
		vmctl_fail(who, "in-process supervisor: fork: %s", strerror(errno));
		goto out;
	}
	if (p->pid == 0) {
		close(fds[0]);
		serve_child(&c, p->dir, parent, fds[1]);
	}
	close(fds[1]);
	fds[1] = -1;
	for (;;) {
		struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
		ssize_t r;

		if (abort_flag && *abort_flag)
			goto out;
		if (waited >= READY_TIMEOUT_MS) {
			vmctl_fail(who, "in-process supervisor: not ready after %d s",
				   READY_TIMEOUT_MS / 1000);
			goto out;
		}
		if (poll(&pfd, 1, 100) == 0) {
			waited += 100;
			continue;
		}
		r = read(fds[0], &byte, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 1)
			break;
		/* EOF: it gave up before listening; its log says why. */
		waitpid(p->pid, NULL, 0);
		p->pid = 0;
		last_log_line(p->dir, msg, sizeof(msg));
		vmctl_fail(who, "in-process supervisor failed: %s", msg);
		goto out;
	}
	rc = 0;
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	if (inited)
		vmsup_config_release(&c);
	free(err);
	if (rc)
		vmctl_inproc_stop(p);
	return rc;
}

/* Poll for the child's exit (signals may interrupt; they are recorded by
 * vmctl's handler and must not cut this wait short). */
static int reap_within(pid_t pid, long ms)
{
	long t;

	for (t = 0; t <= ms; t += 50) {
		pid_t r = waitpid(pid, NULL, WNOHANG);

		if (r == pid || (r < 0 && errno == ECHILD))
			return 0;
		poll(NULL, 0, 50);
	}
	return -1;
}

/* Belt and braces after a child that had to be SIGKILLed: each qemu.pid
 * under RUN/vm/NAME/ whose process still runs with that pidfile on its
 * command line. */
static void kill_leftover_qemu(const char *dir)
{
	char *root = join(dir, "run/vm");
	DIR *d = root ? opendir(root) : NULL;
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[512], proc[64], cmd[4096];
		long pid = 0;
		FILE *f;
		size_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/qemu.pid", root, e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
		if (pid <= 1)
			continue;
		snprintf(proc, sizeof(proc), "/proc/%ld/cmdline", pid);
		f = fopen(proc, "re");
		if (!f)
			continue;
		n = fread(cmd, 1, sizeof(cmd) - 1, f);
		fclose(f);
		/* NULs separate the arguments: search them one by one. */
		for (size_t i = 0; i < n; i += strlen(cmd + i) + 1) {
			cmd[n] = '\0';
			if (strcmp(cmd + i, path) == 0) {
				kill(pid, SIGKILL);
				break;
			}
		}
	}
	if (d)
		closedir(d);
	free(root);
}

void vmctl_inproc_stop(struct vmctl_inproc *p)
{
	if (p->pid > 0) {
		kill(p->pid, SIGTERM);
		/* It stops what VMs remain gracefully, bounded by stop_grace_s,
		 * then `quit`, then SIGKILL 5 s later: beyond that it hangs. */
		if (reap_within(p->pid, (p->stop_grace_s + 15) * 1000L) < 0) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			kill_leftover_qemu(p->dir);
		}
		p->pid = 0;
	}
	if (p->dir) {
		/* Even after a clean exit: a qemu the child lost track of. */
		kill_leftover_qemu(p->dir);
		vmctl_rmrf(p->dir);
	}
	free(p->dir);
	free(p->sock);
	p->dir = NULL;
	p->sock = NULL;
}
