#include "tests/lib/guest-harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "qmp/qmp.h"

#define TH_QEMU	       "qemu-system-x86_64"
#define TH_DEFAULT_MEM 256u
#define TH_MAX_VMS     32
/* qemu creates its sockets before the guest runs; this bounds a stuck start. */
#define TH_SOCKET_WAIT_MS 30000u
#define TH_BOOT_TRIES	  3

/* Copies (not pointers: th_vm often lives on a test's stack) of every VM
 * still running, killed at exit whatever the test did. */
static struct {
	pid_t pid;
	char dir[256];
} registry[TH_MAX_VMS];
static int atexit_done;

static void th_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void th_err(const char *fmt, ...)
{
	va_list ap;

	fputs("harness: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

double th_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Remove a flat directory (the harness never makes subdirectories). */
static void remove_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;
	char path[PATH_MAX];

	if (!dir[0])
		return;
	d = opendir(dir);
	if (d) {
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) <
			    (int)sizeof(path))
				unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

static void kill_group(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void kill_all(void)
{
	for (int i = 0; i < TH_MAX_VMS; i++) {
		if (registry[i].pid > 0 || registry[i].dir[0]) {
			kill_group(registry[i].pid);
			remove_dir(registry[i].dir);
			registry[i].pid = 0;
			registry[i].dir[0] = '\0';
		}
	}
}

static int registry_add(pid_t pid, const char *dir)
{
	if (!atexit_done) {
		if (atexit(kill_all) != 0)
			return -1;
		atexit_done = 1;
	}
	for (int i = 0; i < TH_MAX_VMS; i++) {
		if (registry[i].pid == 0 && !registry[i].dir[0]) {
			registry[i].pid = pid;
			snprintf(registry[i].dir, sizeof(registry[i].dir), "%s", dir);
			return 0;
		}
	}
	return -1;
}

static void registry_forget(pid_t pid, const char *dir)
{
	for (int i = 0; i < TH_MAX_VMS; i++) {
		if ((pid > 0 && registry[i].pid == pid) ||
		    (dir[0] && !strcmp(registry[i].dir, dir))) {
			registry[i].pid = 0;
			registry[i].dir[0] = '\0';
		}
	}
}

static int is_file(const char *dir, const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return 0;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

const char *th_guest_dir(void)
{
	const char *dir = getenv("VMSUP_GUEST_DIR");

	if (!dir || !dir[0])
		return NULL;
	if (!is_file(dir, "vmlinuz") || !is_file(dir, "initrd.img"))
		return NULL;
	return dir;
}

const char *th_guest_key(void)
{
	static char path[PATH_MAX];
	const char *dir = th_guest_dir();

	if (!dir || !is_file(dir, "test_key"))
		return NULL;
	if (snprintf(path, sizeof(path), "%s/test_key", dir) >= (int)sizeof(path))
		return NULL;
	return path;
}

int th_have_qemu(void)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		if (n > 0 &&
		    snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, path, TH_QEMU) <
			(int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return 1;
		path += n;
		if (*path == ':')
			path++;
	}
	return 0;
}

int th_free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* The guest's default kernel command line (GUEST_DIR/append), without the
 * trailing newline, into buf. */
static void read_append(const char *gdir, char *buf, size_t size)
{
	char path[PATH_MAX];
	FILE *f;
	size_t n = 0;

	snprintf(buf, size, "console=ttyS0 panic=-1");
	if (snprintf(path, sizeof(path), "%s/append", gdir) >= (int)sizeof(path))
		return;
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, (int)size, f))
		n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	fclose(f);
	if (!buf[0])
		snprintf(buf, size, "console=ttyS0 panic=-1");
}

/* 1 if the text file contains needle. */
static int file_contains(const char *path, const char *needle)
{
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void dump_file(const char *title, const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	fprintf(stderr, "----- %s (%s) -----\n", title, path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fprintf(stderr, "\n----- end of %s -----\n", title);
	fclose(f);
}

struct argv_buf {
	char **v;
	size_t n, cap;
	int failed;
};

static void argv_add(struct argv_buf *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void argv_add(struct argv_buf *a, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (a->failed)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));

		if (!v) {
			a->failed = 1;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		a->failed = 1;
		return;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void argv_free(struct argv_buf *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

/*
 * fork + exec qemu in its own process group; it dies with this process.
 * Only stdio and, if pass_fd, state_fd (as 3) cross into qemu: a test's
 * other descriptors (sockets, event loops) must not be held open by it.
 */
static pid_t spawn_qemu(char *const *argv, const char *log_path, int pass_fd, int state_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd;

		setpgid(0, 0);
		/* A crashed test must not leave a qemu behind. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		fd = open("/dev/null", O_RDONLY);
		if (fd >= 0) {
			dup2(fd, 0);
			close(fd);
		}
		fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (pass_fd) {
			/* dup2 onto itself would keep O_CLOEXEC */
			if (state_fd == 3)
				fcntl(3, F_SETFD, 0);
			else if (dup2(state_fd, 3) < 0)
				_exit(127);
		}
		close_range(pass_fd ? 4 : 3, ~0u, 0);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	return pid;
}

static void free_argv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* vm->argv for the current ssh port (see th_prepare for the layout). */
static int build_argv(struct th_vm *vm, const char *gdir)
{
	const struct th_opts *o = &vm->opts;
	const char *accel = getenv("VMSUP_TEST_ACCEL");
	struct argv_buf a = {0};

	if (!accel || !accel[0])
		accel = "tcg";
	if (strcmp(accel, "tcg") && strcmp(accel, "kvm")) {
		th_err("VMSUP_TEST_ACCEL must be tcg or kvm, not '%s'", accel);
		return -1;
	}
	argv_add(&a, "%s", TH_QEMU);
	argv_add(&a, "-name");
	argv_add(&a, "guest=%s", strrchr(vm->dir, '/') + 1);
	argv_add(&a, "-machine");
	argv_add(&a, "q35");
	argv_add(&a, "-accel");
	argv_add(&a, "%s", accel);
	argv_add(&a, "-m");
	argv_add(&a, "%u", o->mem_mib);
	argv_add(&a, "-smp");
	argv_add(&a, "1");
	argv_add(&a, "-nodefaults");
	argv_add(&a, "-no-user-config");
	argv_add(&a, "-display");
	argv_add(&a, "none");
	/* panic=-1 reboots on a panic: make that an exit the test sees */
	argv_add(&a, "-no-reboot");
	if (o->paused)
		argv_add(&a, "-S");
	argv_add(&a, "-kernel");
	argv_add(&a, "%s/vmlinuz", gdir);
	argv_add(&a, "-initrd");
	argv_add(&a, "%s/initrd.img", gdir);
	argv_add(&a, "-append");
	argv_add(&a, "%s", vm->append);
	argv_add(&a, "-chardev");
	argv_add(&a, "socket,id=qmp,path=%s,server=on,wait=off", vm->qmp_path);
	argv_add(&a, "-mon");
	argv_add(&a, "chardev=qmp,mode=control");
	argv_add(&a, "-chardev");
	argv_add(&a, "socket,id=qga0,path=%s,server=on,wait=off", vm->qga_path);
	argv_add(&a, "-device");
	argv_add(&a, "virtio-serial-pci");
	argv_add(&a, "-device");
	argv_add(&a, "virtserialport,chardev=qga0,id=%s,name=org.qemu.guest_agent.0",
		 TH_AGENT_PORT_ID);
	argv_add(&a, "-device");
	argv_add(&a, "virtio-balloon-pci,id=balloon0");
	argv_add(&a, "-netdev");
	argv_add(&a, "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22", vm->ssh_port);
	argv_add(&a, "-device");
	argv_add(&a, "virtio-net-pci,netdev=n0,mac=%s", vm->mac);
	if (o->vmgenid) {
		argv_add(&a, "-device");
		argv_add(&a, "vmgenid,id=vmgenid0");
	}
	for (size_t i = 0; o->extra_args && o->extra_args[i]; i++)
		argv_add(&a, "%s", o->extra_args[i]);
	argv_add(&a, "-serial");
	argv_add(&a, "file:%s", vm->serial_log);
	argv_add(&a, "-pidfile");
	argv_add(&a, "%s/qemu.pid", vm->dir);
	if (a.failed) {
		argv_free(&a);
		th_err("out of memory building qemu's argv");
		return -1;
	}
	free_argv(vm->argv);
	vm->argv = a.v;
	return 0;
}

/*
 * Wait until qemu has created its QMP socket (it is then running the
 * guest) or has exited. Returns 0, 1 if it exited, -1 on timeout.
 */
static int wait_started(struct th_vm *vm, int *status)
{
	uint64_t deadline = now_ms() + TH_SOCKET_WAIT_MS;
	struct stat st;

	for (;;) {
		pid_t r = waitpid(vm->pid, status, WNOHANG);

		if (r == vm->pid)
			return 1;
		if (stat(vm->qmp_path, &st) == 0 && stat(vm->qga_path, &st) == 0)
			return 0;
		if (now_ms() > deadline)
			return -1;
		sleep_ms(20);
	}
}

int th_prepare(struct th_vm *vm, const struct th_opts *o)
{
	const char *gdir = th_guest_dir();
	const char *tmp = getenv("TMPDIR");
	const char *extra;

	memset(vm, 0, sizeof(*vm));
	if (o)
		vm->opts = *o;
	if (!gdir) {
		th_err("no test guest: set VMSUP_GUEST_DIR to a directory with vmlinuz and "
		       "initrd.img (scripts/mkguest.sh DIR builds one)");
		return -1;
	}
	if (vm->opts.pass_fd && vm->opts.state_fd < 0) {
		th_err("pass_fd without a state_fd");
		return -1;
	}
	if (vm->opts.mac && strlen(vm->opts.mac) != 17) {
		th_err("bad MAC '%s'", vm->opts.mac);
		return -1;
	}
	if (!tmp || !tmp[0] || strlen(tmp) > 100)
		tmp = "/tmp";
	if (vm->opts.mem_mib == 0)
		vm->opts.mem_mib = TH_DEFAULT_MEM;
	read_append(gdir, vm->append, sizeof(vm->append));
	extra = vm->opts.append_extra;
	if (extra && extra[0]) {
		size_t n = strlen(vm->append);

		if (snprintf(vm->append + n, sizeof(vm->append) - n, " %s", extra) >=
		    (int)(sizeof(vm->append) - n)) {
			th_err("kernel command line too long");
			return -1;
		}
	}
	vm->opts.append_extra = NULL; /* in vm->append now */
	snprintf(vm->dir, sizeof(vm->dir), "%s/th-vm-XXXXXX", tmp);
	/* mkdtemp makes the directory 0700: the sockets are private. */
	if (!mkdtemp(vm->dir)) {
		th_err("mkdtemp %s: %s", vm->dir, strerror(errno));
		vm->dir[0] = '\0';
		return -1;
	}
	snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s/qmp.sock", vm->dir);
	snprintf(vm->qga_path, sizeof(vm->qga_path), "%s/qga.sock", vm->dir);
	snprintf(vm->serial_log, sizeof(vm->serial_log), "%s/serial.log", vm->dir);
	snprintf(vm->qemu_log, sizeof(vm->qemu_log), "%s/qemu.log", vm->dir);
	snprintf(vm->mac, sizeof(vm->mac), "%s", vm->opts.mac ? vm->opts.mac : TH_MAC);
	vm->opts.mac = NULL; /* in vm->mac now */
	if (registry_add(0, vm->dir) < 0) {
		th_err("too many VMs");
		goto fail;
	}
	vm->ssh_port = th_free_port();
	if (vm->ssh_port < 0) {
		th_err("no free TCP port on 127.0.0.1");
		goto fail;
	}
	if (build_argv(vm, gdir) < 0)
		goto fail;
	return 0;
fail:
	th_vm_kill(vm);
	return -1;
}

/* vm->argv + opts.incoming, borrowed strings. */
static char **spawn_argv(const struct th_vm *vm)
{
	size_t n = 0, m = 0;
	char **v;

	while (vm->argv[n])
		n++;
	while (vm->opts.incoming && vm->opts.incoming[m])
		m++;
	v = calloc(n + m + 1, sizeof(*v));
	if (!v)
		return NULL;
	memcpy(v, vm->argv, n * sizeof(*v));
	for (size_t i = 0; i < m; i++)
		v[n + i] = (char *)vm->opts.incoming[i];
	return v;
}

int th_start(struct th_vm *vm)
{
	const char *gdir = th_guest_dir();

	if (!vm->argv || vm->pid > 0 || !gdir) {
		th_err("th_start: not a prepared VM");
		return -1;
	}
	/* The free port can be taken by someone else before qemu binds it:
	 * then qemu exits at once and we try another. */
	for (int attempt = 0; attempt < TH_BOOT_TRIES; attempt++) {
		int status = 0, r;
		char **argv;

		if (attempt > 0) {
			vm->ssh_port = th_free_port();
			if (vm->ssh_port < 0) {
				th_err("no free TCP port on 127.0.0.1");
				return -1;
			}
			if (build_argv(vm, gdir) < 0)
				return -1;
		}
		argv = spawn_argv(vm);
		if (!argv) {
			th_err("out of memory");
			return -1;
		}
		unlink(vm->qmp_path);
		unlink(vm->qga_path);
		vm->pid = spawn_qemu(argv, vm->qemu_log, vm->opts.pass_fd, vm->opts.state_fd);
		free(argv);
		if (vm->pid < 0) {
			th_err("fork: %s", strerror(errno));
			vm->pid = 0;
			return -1;
		}
		registry_forget(0, vm->dir);
		registry_add(vm->pid, vm->dir);
		r = wait_started(vm, &status);
		if (r == 0)
			return 0;
		if (r < 0) {
			th_err("qemu did not create its sockets within %u ms", TH_SOCKET_WAIT_MS);
			dump_file("qemu output", vm->qemu_log);
			kill_group(vm->pid);
			registry_forget(vm->pid, "");
			vm->pid = 0;
			registry_add(0, vm->dir);
			return -1;
		}
		registry_forget(vm->pid, "");
		vm->pid = 0;
		registry_add(0, vm->dir);
		if (!file_contains(vm->qemu_log, "forward")) {
			th_err("qemu exited at start (status 0x%x)", status);
			dump_file("qemu output", vm->qemu_log);
			return -1;
		}
	}
	th_err("qemu could not bind a host forwarding port after %d tries", TH_BOOT_TRIES);
	dump_file("qemu output", vm->qemu_log);
	return -1;
}

int th_boot(struct th_vm *vm, const struct th_opts *o)
{
	if (th_prepare(vm, o) < 0)
		return -1;
	if (th_start(vm) < 0) {
		th_vm_kill(vm);
		return -1;
	}
	return 0;
}

int th_boot_guest_append(struct th_vm *vm, unsigned mem_mib, const char *append_extra,
			 const char *const *extra_args)
{
	struct th_opts o = {
	    .mem_mib = mem_mib, .append_extra = append_extra, .extra_args = extra_args};

	return th_boot(vm, &o);
}

int th_boot_guest(struct th_vm *vm, unsigned mem_mib, const char *const *extra_args)
{
	return th_boot_guest_append(vm, mem_mib, NULL, extra_args);
}

static int vm_alive(struct th_vm *vm)
{
	int status;

	if (vm->pid <= 0)
		return 0;
	if (waitpid(vm->pid, &status, WNOHANG) == vm->pid) {
		registry_forget(vm->pid, "");
		vm->pid = 0;
		return 0;
	}
	return 1;
}

int th_wait_agent(struct th_vm *vm, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	struct qmp_error err;

	memset(&err, 0, sizeof(err));

	/*
	 * The chardev accepts connections before the agent runs; until then
	 * the handshake times out. Each try reconnects (stale requests are
	 * skipped by the guest-sync-delimited handshake).
	 */
	for (;;) {
		uint64_t now = now_ms();
		unsigned slice;
		struct qmp_sync *c;

		if (!vm_alive(vm)) {
			th_err("qemu exited while waiting for the guest agent");
			return -1;
		}
		if (now >= deadline)
			break;
		slice = (unsigned)(deadline - now);
		if (slice > 3000)
			slice = 3000;
		c = qmp_sync_open(vm->qga_path, QMP_KIND_QGA, slice, &err);
		if (c) {
			struct json_object *ret = NULL;
			int r = qmp_sync_call(c, "guest-ping", NULL, slice, &ret, &err);

			json_object_put(ret);
			qmp_sync_close(c);
			if (r == 0)
				return 0;
		}
		sleep_ms(100);
	}
	th_err("guest agent did not answer guest-ping within %u ms (last: %s: %s)", timeout_ms,
	       err.cls, err.desc);
	return -1;
}

int th_ssh(struct th_vm *vm, const char *key, const char *remote_cmd, char **out, int *exit_status)
{
	struct argv_buf a = {0};
	int pfd[2] = {-1, -1};
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int status = 0, ret = -1;
	pid_t pid;

	if (out)
		*out = NULL;
	if (exit_status)
		*exit_status = 255;
	if (!key || !remote_cmd || vm->ssh_port <= 0) {
		th_err("th_ssh: key, command and a booted VM are needed");
		return -1;
	}
	argv_add(&a, "ssh");
	argv_add(&a, "-F");
	argv_add(&a, "/dev/null");
	argv_add(&a, "-i");
	argv_add(&a, "%s", key);
	argv_add(&a, "-o");
	argv_add(&a, "BatchMode=yes");
	argv_add(&a, "-o");
	argv_add(&a, "IdentitiesOnly=yes");
	argv_add(&a, "-o");
	argv_add(&a, "StrictHostKeyChecking=accept-new");
	argv_add(&a, "-o");
	argv_add(&a, "UserKnownHostsFile=%s/known_hosts", vm->dir);
	argv_add(&a, "-o");
	argv_add(&a, "ConnectTimeout=30");
	argv_add(&a, "-o");
	argv_add(&a, "LogLevel=ERROR");
	argv_add(&a, "-p");
	argv_add(&a, "%d", vm->ssh_port);
	argv_add(&a, "root@127.0.0.1");
	argv_add(&a, "--");
	argv_add(&a, "%s", remote_cmd);
	if (a.failed) {
		th_err("out of memory");
		goto out;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		th_err("pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		th_err("fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_RDONLY);

		if (fd >= 0)
			dup2(fd, 0);
		dup2(pfd[1], 1);
		execvp(a.v[0], a.v);
		fprintf(stderr, "exec ssh: %s\n", strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	pfd[1] = -1;
	for (;;) {
		ssize_t n;

		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap + 65536);

			if (!nb) {
				th_err("out of memory");
				break;
			}
			buf = nb;
			cap += 65536;
		}
		n = read(pfd[0], buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			th_err("waitpid ssh: %s", strerror(errno));
			goto out;
		}
	}
	if (!buf) {
		th_err("out of memory");
		goto out;
	}
	buf[len] = '\0';
	if (exit_status)
		*exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (out) {
		*out = buf;
		buf = NULL;
	}
	ret = 0;
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	free(buf);
	argv_free(&a);
	return ret;
}

int th_wait_exit(struct th_vm *vm, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms;
	int status;

	if (vm->pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid(vm->pid, &status, WNOHANG);

		if (r == vm->pid) {
			registry_forget(vm->pid, "");
			vm->pid = 0;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline)
			return -1;
		sleep_ms(50);
	}
}

void th_vm_kill(struct th_vm *vm)
{
	if (vm->pid > 0) {
		kill_group(vm->pid);
		registry_forget(vm->pid, "");
		vm->pid = 0;
	}
	if (vm->dir[0]) {
		registry_forget(0, vm->dir);
		remove_dir(vm->dir);
		vm->dir[0] = '\0';
	}
	free_argv(vm->argv);
	vm->argv = NULL;
}

void th_dump_serial(struct th_vm *vm)
{
	if (!vm->dir[0])
		return;
	dump_file("guest console", vm->serial_log);
	dump_file("qemu output", vm->qemu_log);
}
