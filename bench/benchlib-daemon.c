/* The bench programs' private vmsupd, its API, and reaping what they start
 * (see benchlib.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "src/client/client.h"
/* ---- reaping ---------------------------------------------------------- */

#define MAX_TRACKED 256
static pid_t tracked[MAX_TRACKED];
static struct bl_daemon *cleanup_daemon, *cleanup_also;

void bl_track_pid(pid_t pid)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (!tracked[i]) {
			tracked[i] = pid;
			return;
		}
}

void bl_untrack_pid(pid_t pid)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked[i] == pid)
			tracked[i] = 0;
}

/* pid still runs a command line naming dir (so not a recycled pid) */
static int owns(pid_t pid, const char *dir)
{
	char path[64], buf[8192];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = '\0';
	return strstr(buf, dir) != NULL;
}

static void kill_pidfiles(const char *run, const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/vm", run);
	if (!(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		char pf[1024], buf[32];
		ssize_t n;
		pid_t pid;
		int fd;

		if (e->d_name[0] == '.')
			continue;
		snprintf(pf, sizeof(pf), "%s/%s/qemu.pid", path, e->d_name);
		if ((fd = open(pf, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		pid = (pid_t)strtol(buf, NULL, 10);
		if (pid > 1 && owns(pid, dir)) {
			fprintf(stderr, "bench: killing leftover qemu %d\n", (int)pid);
			kill(pid, SIGKILL);
			for (int i = 0; i < 200 && kill(pid, 0) == 0 && owns(pid, dir); i++)
				bl_sleep_ms(10);
		}
	}
	closedir(d);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

void bl_rmrf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void bl_daemon_stop(struct bl_daemon *d)
{
	for (int i = 0; i < MAX_TRACKED; i++)
		if (tracked[i] > 0) {
			kill(tracked[i], SIGKILL);
			waitpid(tracked[i], NULL, 0);
			tracked[i] = 0;
		}
	if (!d || !d->dir[0])
		return;
	if (d->pid > 0) {
		int st;
		double end = bl_now_ms() + 20000;

		/* the daemon stops its VMs itself (bounded by stop_grace_s) */
		kill(d->pid, SIGTERM);
		while (waitpid(d->pid, &st, WNOHANG) == 0) {
			if (bl_now_ms() > end) {
				fprintf(stderr, "bench: vmsupd %d ignored SIGTERM, killing it\n",
					(int)d->pid);
				kill(d->pid, SIGKILL);
				waitpid(d->pid, &st, 0);
				break;
			}
			bl_sleep_ms(20);
		}
		d->pid = 0;
	}
	kill_pidfiles(d->run, d->dir);
	if (!getenv("BENCH_KEEP"))
		bl_rmrf(d->dir);
	d->dir[0] = '\0';
}

static void (*cleanup_hook)(void);

void bl_cleanup_hook(void (*fn)(void))
{
	cleanup_hook = fn;
}

static void run_hook(void)
{
	void (*fn)(void) = cleanup_hook;

	cleanup_hook = NULL;
	if (fn)
		fn();
}

static void on_exit_cleanup(void)
{
	run_hook();
	bl_daemon_stop(cleanup_daemon);
	bl_daemon_stop(cleanup_also);
}

static void on_signal(int sig)
{
	static volatile sig_atomic_t busy;

	if (!busy) {
		busy = 1;
		run_hook();
		bl_daemon_stop(cleanup_daemon);
		bl_daemon_stop(cleanup_also);
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

void bl_cleanup_also(struct bl_daemon *d)
{
	cleanup_also = d;
}

void bl_cleanup_install(struct bl_daemon *d)
{
	struct sigaction sa = {.sa_handler = on_signal};

	cleanup_daemon = d;
	atexit(on_exit_cleanup);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* ---- the daemon ------------------------------------------------------- */

static int write_config(const struct bl_daemon *d, const char *extra, char **err)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/vmsupd.conf", d->dir);
	if (!(f = fopen(path, "we"))) {
		if (asprintf(err, "%s: %s", path, strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	/* short grace: guest-less VMs have nothing to answer an ACPI power-off */
	fprintf(f, "stop_grace_s = 2\nmax_vms = 2000\nmem_mib = 64\n%s\n", extra ? extra : "");
	fclose(f);
	return 0;
}

static void print_log_tail(const char *path)
{
	char line[512];
	FILE *f = fopen(path, "re");
	long lines = 0, skip;

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		lines++;
	rewind(f);
	skip = lines > 15 ? lines - 15 : 0;
	while (fgets(line, sizeof(line), f))
		if (skip-- <= 0)
			fprintf(stderr, "  vmsupd: %s", line);
	fclose(f);
}

int bl_daemon_start(struct bl_daemon *d, const char *extra_conf, char **err)
{
	memset(d, 0, sizeof(*d));
	snprintf(d->dir, sizeof(d->dir), "/tmp/vmsup-bench-XXXXXX");
	if (!mkdtemp(d->dir)) {
		d->dir[0] = '\0';
		if (asprintf(err, "mkdtemp: %s", strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	snprintf(d->sock, sizeof(d->sock), "%s/api.sock", d->dir);
	snprintf(d->run, sizeof(d->run), "%s/run", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/vmsupd.log", d->dir);
	if (write_config(d, extra_conf, err))
		return -1;
	return bl_daemon_spawn(d, err);
}

int bl_daemon_spawn(struct bl_daemon *d, char **err)
{
	char conf[256], state[256];
	const char *bin = bl_vmsupd_path();
	pid_t parent = getpid();
	double end;

	snprintf(conf, sizeof(conf), "%s/vmsupd.conf", d->dir);
	snprintf(state, sizeof(state), "%s/state", d->dir);
	d->pid = fork();
	if (d->pid < 0) {
		d->pid = 0;
		if (asprintf(err, "fork: %s", strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

		/* our own group: a ^C reaches the bench, which then stops the daemon */
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(1);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execlp(bin, bin, "-f", "-q", "-c", conf, "--socket", d->sock, "--state-dir", state,
		       "--run-dir", d->run, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	end = bl_now_ms() + 30000;
	for (;;) {
		struct json_object *r = NULL;
		char *e = NULL;
		long st = 0;
		int st2;

		if (access(d->sock, F_OK) == 0 &&
		    bl_api(d->sock, "GET", "/v1/version", NULL, &st, &r, &e) == 0 && st == 200) {
			json_object_put(r);
			return 0;
		}
		json_object_put(r);
		free(e);
		if (waitpid(d->pid, &st2, WNOHANG) == d->pid) {
			d->pid = 0;
			print_log_tail(d->log);
			if (asprintf(err, "vmsupd (%s) exited at start-up; log above", bin) < 0)
				*err = NULL;
			return -1;
		}
		if (bl_now_ms() > end) {
			print_log_tail(d->log);
			if (asprintf(err, "vmsupd (%s) did not answer on %s within 30 s", bin,
				     d->sock) < 0)
				*err = NULL;
			return -1;
		}
		bl_sleep_ms(20);
	}
}

/* ---- API -------------------------------------------------------------- */

int bl_api(const char *sock, const char *method, const char *path, const char *body, long *status,
	   struct json_object **reply, char **err)
{
	struct json_object *b = NULL;
	int ret;

	if (body && !(b = json_tokener_parse(body))) {
		*err = strdup("bench: bad JSON body");
		return -1;
	}
	ret = vmsup_request(sock, method, path, b, 180000, status, reply, err);
	json_object_put(b);
	return ret;
}

static void copy_member(struct json_object *o, const char *key, char *dst, size_t len)
{
	struct json_object *v;

	if (dst && len)
		snprintf(dst, len, "%s",
			 json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v)
								    : "");
}

int bl_create_guestless(const char *sock, const char *name, int mem_mib, pid_t *pid, char *accel,
			size_t alen, char *ops, size_t olen, char **err)
{
	struct json_object *r = NULL, *v;
	const char *acc = getenv("BENCH_ACCEL");
	char body[256], accfield[64] = "";
	long st = 0;
	int ret = -1;

	/* BENCH_ACCEL=tcg: the figures as on a machine without KVM */
	if (acc && *acc && strlen(acc) < 32 && !strpbrk(acc, "\"\\"))
		snprintf(accfield, sizeof(accfield), ",\"accel\":\"%s\"", acc);
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"mem_mib\":%d,\"guest\":false%s}", name,
		 mem_mib, accfield);
	if (bl_api(sock, "POST", "/v1/vms", body, &st, &r, err))
		return -1;
	if (st != 201) {
		if (asprintf(err, "create %s: HTTP %ld: %s", name, st, vmsup_error_desc(r, st)) < 0)
			*err = NULL;
		goto out;
	}
	if (!json_object_object_get_ex(r, "state", &v) ||
	    strcmp(json_object_get_string(v), "running")) {
		struct json_object *e = NULL;

		json_object_object_get_ex(r, "error", &e);
		if (asprintf(err, "create %s: state %s: %s", name,
			     v ? json_object_get_string(v) : "?",
			     e ? json_object_get_string(e) : "") < 0)
			*err = NULL;
		goto out;
	}
	if (pid)
		*pid = json_object_object_get_ex(r, "pid", &v) ? (pid_t)json_object_get_int(v) : 0;
	copy_member(r, "accel", accel, alen);
	copy_member(r, "qmp_ops_socket", ops, olen);
	ret = 0;
out:
	json_object_put(r);
	return ret;
}

int bl_destroy(const char *sock, const char *name, char **err)
{
	struct json_object *r = NULL;
	char path[256];
	long st = 0;

	/* kill first: a guest-less VM cannot answer an ACPI power-off */
	snprintf(path, sizeof(path), "/v1/vms/%s/kill", name);
	if (bl_api(sock, "POST", path, NULL, &st, &r, err))
		return -1;
	json_object_put(r);
	r = NULL;
	snprintf(path, sizeof(path), "/v1/vms/%s?timeout=0", name);
	if (bl_api(sock, "DELETE", path, NULL, &st, &r, err))
		return -1;
	if (st != 200) {
		if (asprintf(err, "destroy %s: HTTP %ld: %s", name, st, vmsup_error_desc(r, st)) <
		    0)
			*err = NULL;
		json_object_put(r);
		return -1;
	}
	json_object_put(r);
	return 0;
}
