#include "tests/lib/daemon-harness.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"

double td_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

const char *td_vmsupd_bin(void)
{
	static char path[512];
	const char *b = getenv("top_builddir");

	snprintf(path, sizeof(path), "%s/src/daemon/vmsupd", b ? b : ".");
	return path;
}

static int try_connect(const char *sock)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strncpy(sa.sun_path, sock, sizeof(sa.sun_path) - 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

void td_qemu_user_ensure(void)
{
	static bool done;
	const char *s = getenv("top_srcdir");
	char cmd[4200];

	if (done || geteuid() != 0)
		return;
	snprintf(cmd, sizeof(cmd), "sh '%s/scripts/mkuser-qemu' >&2", s && *s ? s : TOP_SRCDIR);
	cr_assert_eq(system(cmd), 0, "%s failed", cmd);
	done = true;
}

bool td_qemu_user_ids(uid_t *uid, gid_t *gid)
{
	const struct passwd *pw;

	if (geteuid() != 0)
		return false;
	td_qemu_user_ensure();
	pw = getpwnam("vmsup-qemu");
	cr_assert_not_null(pw, "no user vmsup-qemu after scripts/mkuser-qemu");
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return true;
}

void td_proc_uids(pid_t pid, long *ruid, long *euid)
{
	char path[64], line[256];
	FILE *f;

	*ruid = *euid = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "r")))
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %ld %ld", ruid, euid) == 2)
			break;
	fclose(f);
}

/* Fork vmsupd on d's dirs and wait (bounded) until it serves. */
static void spawn_daemon(struct tdaemon *d, int wait_s)
{
	char conf[160], state[128], run[128];
	double deadline;

	snprintf(conf, sizeof(conf), "%s/vmsupd.conf", d->dir);
	snprintf(state, sizeof(state), "%s/state", d->dir);
	snprintf(run, sizeof(run), "%s/run", d->dir);
	cr_assert_eq(d->pid, 0, "the previous daemon still runs");
	td_qemu_user_ensure();
	d->pid = fork();
	cr_assert_geq(d->pid, 0);
	if (d->pid == 0) {
		int fd = open(d->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		dup2(fd, 2);
		/* a stale GET /v1/vms record aborts the daemon (src/core/vm-status.c)
		 * unless the caller set it to 0 */
		setenv("VMSUP_STATUS_CACHE_CHECK", "1", 0);
		execl(td_vmsupd_bin(), "vmsupd", "-c", conf, "--socket", d->sock, "--state-dir",
		      state, "--run-dir", run, "-f", (char *)NULL);
		_exit(127);
	}
	deadline = td_now() + wait_s;
	while (td_now() < deadline) {
		int fd = try_connect(d->sock);
		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(d->pid, NULL, WNOHANG) == d->pid) {
			d->pid = 0;
			cr_assert_fail("vmsupd exited at start-up (log %s)", d->log);
		}
		usleep(5000);
	}
	cr_assert_fail("vmsupd did not listen within %d s", wait_s);
}

void td_start(struct tdaemon *d, const char *extra)
{
	char conf[160];
	FILE *f;

	memset(d, 0, sizeof(*d));
	strcpy(d->dir, "/tmp/vsd-XXXXXX");
	cr_assert_not_null(mkdtemp(d->dir));
	snprintf(d->sock, sizeof(d->sock), "%s/api.sock", d->dir);
	snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
	snprintf(conf, sizeof(conf), "%s/vmsupd.conf", d->dir);
	f = fopen(conf, "w");
	cr_assert_not_null(f);
	/* on_exit = stop: td_stop's SIGTERM takes the VMs down with the daemon
	 * (extra may say keep: a later line wins) */
	fprintf(f, "stop_grace_s = 60\non_exit = stop\nlog_level = debug\n%s\n",
		extra ? extra : "");
	fclose(f);
	spawn_daemon(d, 30);
}

void td_kill9(struct tdaemon *d)
{
	cr_assert_gt(d->pid, 0);
	kill(d->pid, SIGKILL);
	while (waitpid(d->pid, NULL, 0) < 0 && errno == EINTR)
		;
	d->pid = 0;
}

void td_restart(struct tdaemon *d)
{
	/* reattaching many VMs under load takes a while */
	spawn_daemon(d, 60);
}

/* Live qemus by pidfile under run/vm/<x>/ and run/tmpl/<x>/ (template VMs). */
static int each_qemu(struct tdaemon *d, bool kill_them)
{
	static const char *const sub[] = {"vm", "tmpl"};
	int n = 0;

	for (size_t s = 0; s < sizeof(sub) / sizeof(sub[0]); s++) {
		char root[256];
		DIR *dir;
		struct dirent *e;

		snprintf(root, sizeof(root), "%s/run/%s", d->dir, sub[s]);
		if (!(dir = opendir(root)))
			continue;
		while ((e = readdir(dir))) {
			char pf[600];
			FILE *f;
			int pid = 0;

			if (e->d_name[0] == '.')
				continue;
			snprintf(pf, sizeof(pf), "%s/%s/qemu.pid", root, e->d_name);
			if (!(f = fopen(pf, "r")))
				continue;
			if (fscanf(f, "%d", &pid) == 1 && pid > 1 && td_pid_is_qemu(pid)) {
				n++;
				if (kill_them) {
					kill(pid, SIGKILL);
					td_pid_gone(pid, 5000);
				}
			}
			fclose(f);
		}
		closedir(dir);
	}
	return n;
}

void td_kill_qemus(struct tdaemon *d)
{
	each_qemu(d, true);
}

int td_count_qemus(struct tdaemon *d)
{
	return each_qemu(d, false);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(p);
	return 0;
}

void td_rmrf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void td_stop(struct tdaemon *d)
{
	if (d->pid > 0) {
		double deadline = td_now() + 120;
		int st;
		kill(d->pid, SIGTERM);
		while (td_now() < deadline && waitpid(d->pid, &st, WNOHANG) == 0)
			usleep(10000);
		if (waitpid(d->pid, &st, WNOHANG) == 0) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &st, 0);
		}
		d->pid = 0;
	}
	td_kill_qemus(d);
	if (getenv("VMSUPD_TEST_KEEP"))
		return;
	if (d->dir[0])
		td_rmrf(d->dir);
}

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t add = size * nmemb;
	char *p = realloc(b->p, b->n + add + 1);

	if (!p)
		return 0;
	memcpy(p + b->n, ptr, add);
	b->p = p;
	b->n += add;
	p[b->n] = '\0';
	return add;
}

struct json_object *td_http_raw(struct tdaemon *d, const char *method, const char *path,
				const char *body, size_t len, long *status)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct buf b = {0};
	char url[512];
	struct json_object *o = NULL;
	CURLcode rc;

	cr_assert_not_null(c);
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 180L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (body) {
		h = curl_slist_append(h, "Content-Type: application/json");
		h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	rc = curl_easy_perform(c);
	cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (b.p)
		o = json_tokener_parse(b.p);
	free(b.p);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return o;
}

int td_connect(struct tdaemon *d)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_lt(strlen(d->sock), sizeof(sa.sun_path));
	memcpy(sa.sun_path, d->sock, strlen(d->sock) + 1);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "connect %s", d->sock);
	return fd;
}

struct json_object *td_http(struct tdaemon *d, const char *method, const char *path,
			    const char *body, long *status)
{
	return td_http_raw(d, method, path, body, body ? strlen(body) : 0, status);
}

long td_destroy(struct tdaemon *d, const char *name)
{
	char path[256];
	long st = 0;

	snprintf(path, sizeof(path), "/v1/vms/%s?force=1", name);
	json_object_put(td_http(d, "DELETE", path, NULL, &st));
	return st;
}

const char *td_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

long long td_int(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
		return -1;
	return json_object_get_int64(v);
}

pid_t td_vm_pid(struct tdaemon *d, const char *name)
{
	char path[128];
	struct json_object *o;
	long st;
	pid_t pid;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	o = td_http(d, "GET", path, NULL, &st);
	cr_assert_eq(st, 200, "GET %s: %ld", path, st);
	pid = (pid_t)td_int(o, "pid");
	json_object_put(o);
	return pid;
}

static struct json_object *err_obj(struct json_object *o)
{
	struct json_object *e;
	return o && json_object_object_get_ex(o, "error", &e) ? e : NULL;
}

const char *td_err_class(struct json_object *o)
{
	return td_str(err_obj(o), "class");
}

const char *td_err_desc(struct json_object *o)
{
	return td_str(err_obj(o), "desc");
}

bool td_pid_is_qemu(pid_t pid)
{
	char path[64], buf[256] = {0};
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && strstr(buf, "qemu-system") != NULL;
}

bool td_pid_gone(pid_t pid, int timeout_ms)
{
	double deadline = td_now() + timeout_ms / 1000.0;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	do {
		FILE *f = fopen(path, "r");
		char state = 0;
		if (!f)
			return true;
		/* a zombie (not ours to reap) counts as gone */
		if (fscanf(f, "%*d (%*[^)]) %c", &state) == 1 && state == 'Z') {
			fclose(f);
			return true;
		}
		fclose(f);
		usleep(2000);
	} while (td_now() < deadline);
	return false;
}

int td_events_open(struct tdaemon *d, const char *vm)
{
	char req[256];
	int fd = try_connect(d->sock);

	cr_assert_geq(fd, 0);
	snprintf(req, sizeof(req), "GET /v1/events%s%s HTTP/1.1\r\nHost: localhost\r\n\r\n",
		 vm ? "?vm=" : "", vm ? vm : "");
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	/* the reply head arrives at once: the subscription is in place */
	cr_assert(td_events_wait(fd, "200 OK", 5000), "no event stream");
	return fd;
}

bool td_events_wait(int fd, const char *needle, int timeout_ms)
{
	static char acc[1 << 16];
	static size_t n;
	static int last_fd = -1;
	double deadline = td_now() + timeout_ms / 1000.0;

	if (fd != last_fd) {
		n = 0;
		last_fd = fd;
	}
	for (;;) {
		struct pollfd p = {fd, POLLIN, 0};
		int left = (int)((deadline - td_now()) * 1000);
		char *hit;
		ssize_t r;

		acc[n] = '\0';
		if ((hit = strstr(acc, needle))) {
			/* consume through the hit so the next wait looks further on */
			size_t used = (size_t)(hit - acc) + strlen(needle);
			memmove(acc, acc + used, n - used);
			n -= used;
			return true;
		}
		if (left <= 0 || poll(&p, 1, left) <= 0)
			return false;
		if (n >= sizeof(acc) - 1) {
			memmove(acc, acc + sizeof(acc) / 2, n - sizeof(acc) / 2);
			n -= sizeof(acc) / 2;
		}
		r = read(fd, acc + n, sizeof(acc) - 1 - n);
		if (r <= 0)
			return false;
		n += (size_t)r;
	}
}

char *td_ops_query(const char *ops_sock, const char *cmd, const char *member)
{
	struct qmp_error e;
	struct json_object *ret = NULL, *v;
	struct qmp_sync *c = qmp_sync_open(ops_sock, QMP_KIND_QMP, 10000, &e);
	char *s = NULL;

	cr_assert_not_null(c, "ops socket %s: %s", ops_sock, e.desc);
	cr_assert_eq(qmp_sync_call(c, cmd, NULL, 10000, &ret, &e), 0, "%s: %s", cmd, e.desc);
	if (json_object_object_get_ex(ret, member, &v))
		s = strdup(json_object_get_string(v));
	json_object_put(ret);
	qmp_sync_close(c);
	return s;
}

char *td_ops_status(const char *ops_sock)
{
	return td_ops_query(ops_sock, "query-status", "status");
}

void td_guest_append(const char *dir, char *buf, size_t len)
{
	char path[600], line[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/append", dir);
	if (!(f = fopen(path, "re")))
		return;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%s", line);
	}
	fclose(f);
}

const char *td_guest_dir(void)
{
	static char path[512];
	const char *gd = getenv("VMSUP_GUEST_DIR");

	if (!gd)
		gd = "/tmp/guest";
	snprintf(path, sizeof(path), "%s/vmlinuz", gd);
	if (access(path, R_OK))
		return NULL;
	snprintf(path, sizeof(path), "%s/initrd.img", gd);
	return access(path, R_OK) == 0 ? gd : NULL;
}

bool td_guest_files(char *kernel, char *initrd, size_t n)
{
	const char *gd = td_guest_dir();

	if (!gd)
		return false;
	snprintf(kernel, n, "%s/vmlinuz", gd);
	snprintf(initrd, n, "%s/initrd.img", gd);
	return true;
}

const char *td_distro_dir(void)
{
	static char path[512];
	const char *dd = getenv("VMSUP_DISTRO_DIR");

	if (!dd)
		return NULL;
	snprintf(path, sizeof(path), "%s/disk.raw", dd);
	return access(path, R_OK) == 0 ? dd : NULL;
}

struct json_object *td_create_distro(struct tdaemon *d, const char *name, int mem_mib, long *status)
{
	const char *dd = td_distro_dir();
	char body[2048], append[256] = "";

	cr_assert_not_null(dd, "no distro image");
	td_guest_append(dd, append, sizeof(append));
	/* the daemon gives each VM its own overlay: the image is never written */
	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"accel\":\"tcg\",\"mem_mib\":%d,\"kernel\":\"%s/vmlinuz\","
		 "\"initrd\":\"%s/initrd.img\",\"append\":\"%s\",\"disk\":\"%s/disk.raw\","
		 "\"disk_format\":\"raw\"}",
		 name, mem_mib, dd, dd, append, dd);
	return td_http(d, "POST", "/v1/vms", body, status);
}

struct json_object *td_create_guest(struct tdaemon *d, const char *name, const char *kernel,
				    const char *initrd)
{
	char body[2048];
	struct json_object *r;
	long st;

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\"}",
		 name, kernel, initrd);
	r = td_http(d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create %s: %ld %s", name, st, td_err_desc(r) ? td_err_desc(r) : "");
	cr_assert_str_eq(td_str(r, "state"), "running");
	return r;
}

struct json_object *td_wait_ip(struct tdaemon *d, const char *name, int timeout_s, long *status)
{
	double end = td_now() + timeout_s;
	struct json_object *r = NULL;
	char path[200];

	snprintf(path, sizeof(path), "/v1/vms/%s/ip?wait=120", name);
	for (;;) {
		double t0 = td_now();
		json_object_put(r);
		r = td_http(d, "GET", path, NULL, status);
		if (*status == 200 || td_now() >= end)
			return r;
		if (td_now() - t0 < 1) /* a refusal, not a wait: do not spin */
			sleep(1);
	}
}

void td_sh_ok(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert(n >= 0 && (size_t)n < sizeof(cmd), "command too long: %s", cmd);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

bool td_file_has(const char *path, const char *needle)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t len;
	FILE *f = fopen(path, "r");
	bool found = false;

	if (!f)
		return false;
	/* a console log has no NULs: read it whole as one "line" */
	if ((len = getdelim(&buf, &n, '\0', f)) > 0)
		found = memmem(buf, (size_t)len, needle, strlen(needle)) != NULL;
	free(buf);
	fclose(f);
	return found;
}

bool td_file_wait(const char *path, const char *needle, int timeout_ms)
{
	for (int i = 0; i < timeout_ms / 100; i++) {
		if (td_file_has(path, needle))
			return true;
		usleep(100000);
	}
	return td_file_has(path, needle);
}

void td_cmdline(pid_t pid, char *buf, size_t size)
{
	char p[64];
	size_t n;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/cmdline", (int)pid);
	cr_assert_not_null(f = fopen(p, "r"), "%s", p);
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = '\0';
}
