#include "src/core/reattach.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "qmp/qmp.h"
#include "src/qemu/argv.h"
#include "src/util/err.h"
#include "src/core/module.h"
#include "src/util/log.h"
#include "src/core/supervisor.h"

#define POLL_MS		   50	/* without pidfd: exit seen within this */
#define QMP_RETRY_MS	   1000 /* a qemu that does not answer (stopped) */
#define STATE_FILE_MAX	   (1 << 20)
#define STATE_FILE_VERSION 1

struct watch {
	struct vm *vm;
	int pidfd;		 /* -1: polling /proc instead */
	struct event *ev;	 /* pidfd readable, or the poll timer */
	struct event *qmp_retry; /* reconnect after a failed handshake */
	bool resume;		 /* the old daemon died mid-start: finish it (cont) */
	double t0;		 /* reattach began (log) */
};

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- /proc ---- */

static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The state letter and field 22 of /proc/PID/stat. */
static int proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) <= 0)
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
	if ((n = read_small(path, buf, sizeof(buf))) <= 0)
		return false;
	/* argv is NUL-separated: make it one searchable string */
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
	return strstr(buf, qmp_sock) != NULL;
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

static void gone(struct vm *vm)
{
	LOG_I(vm->spec.name, "adopted qemu pid %d is gone", (int)vm->pid);
	vm_reattach_release(vm);
	vmsup_vm_exited(vm); /* may free vm */
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
	gone(arg);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	if (!vm_proc_is_our_qemu(vm->pid, vm->start_time, vm->qmp_sock))
		gone(vm);
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
	w->t0 = now_mono();
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

/* ---- QMP ---- */

static void qmp_connect_again(struct vm *vm);

static void on_qmp_retry(evutil_socket_t fd, short what, void *arg)
{
	qmp_connect_again(arg);
}

static void retry_later(struct vm *vm, const char *why)
{
	struct watch *w = vm->watch;
	struct timeval tv = {QMP_RETRY_MS / 1000, (QMP_RETRY_MS % 1000) * 1000};
	char *e = NULL;

	LOG_W(vm->spec.name, "reattach: QMP: %s (retrying)", why);
	if (asprintf(&e, "reattach: QMP: %s", why) >= 0) {
		free(vm->error);
		vm->error = e;
	}
	if (!w)
		return;
	if (!w->qmp_retry && !(w->qmp_retry = evtimer_new(vmsup_base(vm->sup), on_qmp_retry, vm)))
		return;
	evtimer_add(w->qmp_retry, &tv);
}

static void on_ignore(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct vm *vm = arg;

	if (err && strcmp(err->cls, QMP_ERR_DISCONNECTED) != 0)
		LOG_W(vm->spec.name, "%s: %s", err->cls, err->desc);
}

static void on_status(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct vm *vm = arg;
	struct json_object *st, *running;
	struct watch *w = vm->watch;
	struct qmp_error e;

	if (err || vm->pid <= 0)
		return; /* disconnected: the exit watch speaks */
	json_object_object_get_ex(ret, "status", &st);
	json_object_object_get_ex(ret, "running", &running);
	LOG_I(vm->spec.name, "reattached qemu pid %d: %s (%.0f ms)", (int)vm->pid,
	      st ? json_object_get_string(st) : "?", w ? (now_mono() - w->t0) * 1000 : 0.0);
	if (running && json_object_get_boolean(running)) {
		if (vm->state == VM_STARTING || vm->state == VM_PAUSED)
			vmsup_vm_set_state(vm, VM_RUNNING);
		return;
	}
	/* the daemon died between spawn and cont: finish the start */
	if (vm->state == VM_STARTING && w && w->resume) {
		w->resume = false;
		if (vm_qmp_call(vm, "cont", NULL, 0, on_ignore, vm, &e) < 0)
			LOG_W(vm->spec.name, "cont: %s", e.desc);
		return;
	}
	if (vm->state == VM_RUNNING)
		vmsup_vm_set_state(vm, VM_PAUSED);
}

static void on_balloon(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		       void *arg)
{
	struct vm *vm = arg;
	struct json_object *actual;

	/* no balloon device is no error worth telling */
	if (!err && json_object_object_get_ex(ret, "actual", &actual))
		vm->balloon_mib = (int)(json_object_get_int64(actual) >> 20);
}

static void on_kvm(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		   void *arg)
{
	struct vm *vm = arg;
	struct json_object *en;
	char *a;

	if (err)
		return;
	a = strdup(json_object_object_get_ex(ret, "enabled", &en) && json_object_get_boolean(en)
		       ? "kvm"
		       : "tcg");
	if (a) {
		free(vm->accel_used);
		vm->accel_used = a;
	}
	vmsup_vm_save(vm);
}

static void on_qmp_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct qmp_error e;

	if (err) {
		/* the session is closed; it is freed on the next attempt */
		retry_later(vm, err->desc);
		return;
	}
	/* from now on an exit is a crash (a failed start cannot leave running) */
	vm->qmp_ready_once = true;
	if (vm->error && !strncmp(vm->error, "reattach: ", 10)) {
		free(vm->error);
		vm->error = NULL;
	}
	/* in flight together: qemu answers in order, one round trip; the
	 * status last, so that "running" shows with the rest known */
	if (vm_qmp_call(vm, "query-kvm", NULL, 0, on_kvm, vm, &e) < 0 ||
	    vm_qmp_call(vm, "query-balloon", NULL, 0, on_balloon, vm, &e) < 0 ||
	    vm_qmp_call(vm, "query-status", NULL, 0, on_status, vm, &e) < 0)
		LOG_W(vm->spec.name, "reattach: %s", e.desc);
	/* vm->adopted: the agent module probes a port that may have been open
	 * for long (no VSERPORT_CHANGE will come) */
	vmsup_modules_qmp_ready(vm);
}

static void qmp_connect_again(struct vm *vm)
{
	struct qmp_error e;

	if (vm->pid <= 0)
		return;
	if (vm->qmp) {
		struct qmp_session *old = vm->qmp;
		vm->qmp = NULL;
		qmp_session_free(old);
	}
	if (!(vm->qmp = qmp_session_new(vmsup_base(vm->sup), QMP_KIND_QMP, NULL))) {
		retry_later(vm, "out of memory");
		return;
	}
	if (qmp_connect(vm->qmp, vm->qmp_sock, on_qmp_ready, vm, &e) < 0) {
		retry_later(vm, e.desc);
		return;
	}
	vmsup_vm_qmp_attach(vm);
}

/* ---- state files ---- */

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string)
		   ? json_object_get_string(v)
		   : NULL;
}

static long long jint(struct json_object *o, const char *key, long long dflt)
{
	struct json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
		   ? json_object_get_int64(v)
		   : dflt;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static struct json_object *read_json(const char *path, char **err)
{
	char *buf = malloc(STATE_FILE_MAX + 1);
	struct json_object *j = NULL;
	ssize_t n;

	if (!buf) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	n = read_small(path, buf, STATE_FILE_MAX + 1);
	if (n < 0)
		vmsup_err(err, "%s: %s", path, strerror(errno));
	else if (n >= STATE_FILE_MAX)
		vmsup_err(err, "%s: larger than %d bytes", path, STATE_FILE_MAX);
	else if (!(j = json_tokener_parse(buf)) || !json_object_is_type(j, json_type_object)) {
		json_object_put(j);
		j = NULL;
		vmsup_err(err, "%s: not a JSON object", path);
	}
	free(buf);
	return j;
}

/* A state file we cannot use is kept aside for a human, not retried. */
static void set_aside(const char *path)
{
	char *bad = NULL;

	if (asprintf(&bad, "%s.bad", path) >= 0 && rename(path, bad) == 0)
		LOG_W(NULL, "state file kept as %s", bad);
	free(bad);
}

static void kill_orphan(pid_t pid, unsigned long long start, const char *qmp_sock, const char *why)
{
	if (pid > 0 &&
	    vm_proc_is_our_qemu(pid, start ? start : vm_proc_start_time(pid), qmp_sock)) {
		LOG_W(NULL, "killing orphan qemu pid %d (%s)", (int)pid, why);
		kill(pid, SIGKILL);
	}
}

/* The VM object from its state file (not yet in the registry). */
static struct vm *vm_from_state(struct vmsup *sup, const char *name, struct json_object *j,
				char **err)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct json_object *spec, *created;
	const char *s;
	int st;

	if (!vm) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	if (jint(j, "version", -1) != STATE_FILE_VERSION) {
		vmsup_err(err, "unknown state file version %lld", jint(j, "version", -1));
		goto fail;
	}
	if (!json_object_object_get_ex(j, "spec", &spec) ||
	    vm_spec_from_json(spec, vmsup_config(sup), &vm->spec, err))
		goto fail;
	if (strcmp(vm->spec.name, name) != 0) {
		vmsup_err(err, "the spec names VM '%s'", vm->spec.name);
		goto fail;
	}
	if (!(s = jstr(j, "state")) || (st = vm_state_parse(s)) < 0) {
		vmsup_err(err, "bad or missing 'state'");
		goto fail;
	}
	vm->sup = sup;
	vm->state = (enum vm_state)st;
	vm->pid = (pid_t)jint(j, "pid", 0);
	{
		struct json_object *t;
		vm->start_time =
		    json_object_object_get_ex(j, "start_time", &t) ? json_object_get_uint64(t) : 0;
	}
	vm->restarts = (unsigned)jint(j, "restarts", 0);
	vm->exit_code = (int)jint(j, "exit_status", -1);
	vm->exit_signal = (int)jint(j, "exit_signal", -1);
	vm->error = dup_or_null(jstr(j, "error"));
	vm->log_tail = dup_or_null(jstr(j, "log_tail"));
	vm->accel_used = dup_or_null(jstr(j, "accel"));
	vm->ssh_port = (int)jint(j, "ssh_port", 0);
	vm->balloon_mib = -1;
	vm->created =
	    json_object_object_get_ex(j, "created", &created) ? json_object_get_double(created) : 0;
	vm->state_since = vm->created;
	vm_mac_from_name(vm->spec.name, vm->mac);
	if (vmsup_vm_paths(vm, err))
		goto fail;
	return vm;
fail:
	vm_release_fields(vm);
	free(vm);
	return NULL;
}

/* Its qemu died while nobody watched: crashed, unknown status, cleaned. */
static void dead_meanwhile(struct vm *vm, pid_t pid)
{
	char *why = NULL;

	vm->pid = pid; /* for the log line */
	vm->adopted = true;
	/* a finished stop, else a crash: even one recorded as starting may
	 * have run for long (the file lags the reply by SAVE_DELAY_MS) */
	vm->qmp_ready_once = true;
	vm->kill_requested = vm->state == VM_STOPPING;
	vmsup_adopt(vm);
	vmsup_vm_exited(vm); /* crashed (failed if mid-start), runtime files, cgroup, policy */
	if (vm->state == VM_CRASHED &&
	    asprintf(&why, "qemu (pid %d) exited while vmsupd was down (exit status unknown)",
		     (int)pid) >= 0) {
		free(vm->error);
		vm->error = why;
	}
	vmsup_vm_rm_run_dir(vm);
	vmsup_vm_save(vm);
}

static void reattach_live(struct vm *vm)
{
	enum vm_state recorded = vm->state;
	struct watch *w;
	char *err = NULL;

	vm->adopted = true;
	/* it did run: an exit from now on is a crash, not a failed start */
	vm->qmp_ready_once = recorded != VM_STARTING;
	vmsup_adopt(vm);
	if (vm_reattach_watch(vm, &err)) {
		LOG_W(vm->spec.name, "reattach: %s", err);
		free(err);
		vm_reattach_release(vm);
		vmsup_vm_exited(vm);
		return;
	}
	w = vm->watch;
	w->resume = recorded == VM_STARTING;
	/* the cgroup module finds (or re-creates) the VM's cgroup */
	if (vmsup_modules_spawned(vm, &err)) {
		LOG_W(vm->spec.name, "reattach: %s", err);
		free(err);
		err = NULL;
	}
	if (recorded == VM_STOPPING) {
		/* the old daemon was stopping it: finish that, quickly */
		LOG_I(vm->spec.name, "reattach: was stopping: SIGKILL pid %d", (int)vm->pid);
		vm->kill_requested = true;
		kill(vm->pid, SIGKILL);
		return;
	}
	if (vmsup_vm_ops_reattach(vm, &err)) {
		LOG_W(vm->spec.name, "reattach: %s", err);
		free(err);
		err = NULL;
	}
	qmp_connect_again(vm);
}

static void reattach_file(struct vmsup *sup, const char *dir, const char *file)
{
	char *path = NULL, *name = NULL, *err = NULL;
	struct json_object *j = NULL;
	struct vm *vm;
	size_t len = strlen(file);

	if (asprintf(&path, "%s/%s", dir, file) < 0 || !(name = strndup(file, len - 5)))
		goto out;
	if (!(j = read_json(path, &err)))
		goto bad;
	if (vmsup_find(sup, name)) {
		vmsup_err(&err, "VM '%s' is already known", name);
		goto bad;
	}
	if (!(vm = vm_from_state(sup, name, j, &err)))
		goto bad;
	if (!vm_state_has_process(vm->state)) {
		vm->pid = 0;
		vmsup_adopt(vm);
		LOG_I(name, "restored (%s)", vm_state_name(vm->state));
	} else if (vm_proc_is_our_qemu(vm->pid, vm->start_time, vm->qmp_sock)) {
		LOG_I(name, "reattaching qemu pid %d (%s)", (int)vm->pid, vm_state_name(vm->state));
		reattach_live(vm);
	} else {
		pid_t pid = vm->pid;
		LOG_W(name, "qemu pid %d is gone (or is another process now): crashed", (int)pid);
		vm->pid = 0;
		dead_meanwhile(vm, pid);
	}
	goto out;
bad:
	LOG_E(name ? name : file, "cannot restore from its state file: %s", err ? err : "?");
	/* a VM we cannot manage must not run on unseen */
	if (j) {
		struct json_object *t;
		kill_orphan(
		    (pid_t)jint(j, "pid", 0),
		    json_object_object_get_ex(j, "start_time", &t) ? json_object_get_uint64(t) : 0,
		    jstr(j, "qmp_socket"), "its state file is unusable");
	}
	set_aside(path);
out:
	json_object_put(j);
	free(err);
	free(name);
	free(path);
}

/* Run dirs no VM claims: a qemu may still run there (its state file was
 * never written); without a manager it must go. */
static void clean_run_dirs(struct vmsup *sup)
{
	char *root = NULL;
	DIR *d;
	struct dirent *e;

	if (asprintf(&root, "%s/vm", vmsup_config(sup)->run_dir) < 0)
		return;
	if (!(d = opendir(root))) {
		free(root);
		return;
	}
	while ((e = readdir(d))) {
		struct vm tmp = {0};
		char *dir = NULL, *pf = NULL, *sock = NULL, buf[32];
		if (e->d_name[0] == '.' || vmsup_find(sup, e->d_name))
			continue;
		if (asprintf(&dir, "%s/%s", root, e->d_name) < 0)
			continue;
		if (asprintf(&pf, "%s/qemu.pid", dir) >= 0 &&
		    asprintf(&sock, "%s/qmp.sock", dir) >= 0 &&
		    read_small(pf, buf, sizeof(buf)) > 0)
			kill_orphan((pid_t)atoi(buf), 0, sock, "no state file claims it");
		LOG_I(e->d_name, "removing stale run dir %s", dir);
		tmp.spec.name = e->d_name;
		tmp.run_dir = dir;
		vmsup_vm_rm_run_dir(&tmp);
		free(dir);
		free(pf);
		free(sock);
	}
	closedir(d);
	free(root);
}

int vm_reattach_all(struct vmsup *sup, char **err)
{
	const char *dir = vmsup_config(sup)->state_dir;
	double t0 = now_mono();
	struct dirent *e;
	DIR *d = opendir(dir);
	size_t n = 0;

	if (!d)
		return vmsup_err(err, "state dir %s: %s", dir, strerror(errno));
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len <= 5 || strcmp(e->d_name + len - 5, ".json"))
			continue;
		reattach_file(sup, dir, e->d_name);
		n++;
	}
	closedir(d);
	clean_run_dirs(sup);
	if (n)
		LOG_I(NULL, "state dir: %zu VMs read back in %.1f ms", n, (now_mono() - t0) * 1000);
	return 0;
}
