#include "src/core/supervisor.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "src/qemu/argv.h"
#include "src/util/err.h"
#include "src/core/hooks.h"
#include "src/util/log.h"
#include "src/util/peer.h"
#include "src/qemu/probe.h"
#include "src/core/reattach.h"
#include "src/core/restart.h"
#include "src/qemu/spawn.h"
#include "src/qemu/stage.h"
#include "src/limits/vm-limits.h"
#include "src/core/statefile.h"
#include "src/metrics/vm-stats.h"
#include "src/snapshot/vm-template.h"

#define CONNECT_RETRY_MS 2
#define CONNECT_DEADLINE 20.0 /* s: qemu creates its monitor socket early */
#define QUIT_TO_KILL_S	 5
#define OP_TIMEOUT_MS	 30000
#define LOG_TAIL_BYTES	 2048
#define SAVE_DELAY_MS	 10

enum waiter_kind {
	W_START,   /* until running, or the process is gone */
	W_STATE,   /* until a state in mask, or the process is gone */
	W_GONE,	   /* until no process (stop, kill) */
	W_DESTROY, /* until no process, then the VM is removed */
	W_QMP,	   /* a QMP reply */
};

struct waiter {
	struct vmsup *sup;
	struct vm *vm; /* NULL once detached (QMP waiters after destroy) */
	enum waiter_kind kind;
	unsigned mask;
	int ok_status;	    /* 200 or 201 */
	vmsup_done_fn done; /* NULL once cancelled */
	void *arg;
	struct event *timer;
	bool in_list;
	struct waiter *next;
};

struct sub {
	int handle;
	char *vm; /* filter */
	vmsup_event_fn fn;
	void *arg;
	struct sub *next;
};

struct vmsup {
	struct event_base *base;
	struct vmsup_config cfg;
	char *vm_root; /* run_dir/vm */
	bool sandbox;
	char *qemu_version;
	struct vm *vms;
	size_t nvms;
	struct event *sigchld;
	struct sub *subs;
	int next_sub;
	int emitting;
	bool shutting_down;
	struct vm_limits *limits; /* limits + metrics module, NULL = off */
	struct vm_pool *pool;	  /* warm pool, NULL = none */
	void (*shutdown_done)(void *);
	void *shutdown_arg;
};

static double now_wall(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double now_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static struct timeval tv_ms(unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	return tv;
}

/* ---- results ---- */

static void finish(struct waiter *w, int status, const char *cls, const char *desc,
		   struct json_object *body)
{
	struct vmsup_result r = {status, cls, desc, body};

	if (w->done)
		w->done(&r, w->arg);
	w->done = NULL;
}

static void reply_err(vmsup_done_fn done, void *arg, int status, const char *cls, const char *fmt,
		      ...) __attribute__((format(printf, 5, 6)));
static void reply_err(vmsup_done_fn done, void *arg, int status, const char *cls, const char *fmt,
		      ...)
{
	char desc[512];
	va_list ap;
	struct vmsup_result r = {status, cls, desc, NULL};

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	done(&r, arg);
}

static void reply_vm(vmsup_done_fn done, void *arg, int status, struct vm *vm)
{
	struct json_object *o = vm_to_json(vm);
	struct vmsup_result r = {status, NULL, NULL, o};

	done(&r, arg);
	json_object_put(o);
}

/* ---- event bus ---- */

void vmsup_emit(struct vmsup *sup, struct vm *vm, struct json_object *ev)
{
	struct sub **pp;

	json_object_object_add(ev, "ts", json_object_new_double(now_wall()));
	sup->emitting++;
	for (struct sub *s = sup->subs; s; s = s->next)
		if (s->fn && (!s->vm || (vm && strcmp(s->vm, vm->spec.name) == 0)))
			s->fn(ev, s->arg);
	sup->emitting--;
	json_object_put(ev);
	if (sup->emitting)
		return;
	/* subscribers that left while we iterated */
	for (pp = &sup->subs; *pp;) {
		struct sub *s = *pp;
		if (!s->fn) {
			*pp = s->next;
			free(s->vm);
			free(s);
		} else {
			pp = &s->next;
		}
	}
}

int vmsup_subscribe(struct vmsup *sup, const char *vm_filter, vmsup_event_fn fn, void *arg)
{
	struct sub *s = calloc(1, sizeof(*s));

	if (!s || (vm_filter && !(s->vm = strdup(vm_filter)))) {
		free(s);
		return -1;
	}
	s->handle = ++sup->next_sub;
	s->fn = fn;
	s->arg = arg;
	s->next = sup->subs;
	sup->subs = s;
	return s->handle;
}

void vmsup_unsubscribe(struct vmsup *sup, int handle)
{
	for (struct sub **pp = &sup->subs; *pp; pp = &(*pp)->next) {
		struct sub *s = *pp;
		if (s->handle != handle)
			continue;
		if (sup->emitting) {
			s->fn = NULL;
		} else {
			*pp = s->next;
			free(s->vm);
			free(s);
		}
		return;
	}
}

static void emit_state(struct vm *vm)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "vm", json_object_new_string(vm->spec.name));
	json_object_object_add(ev, "type", json_object_new_string("state"));
	json_object_object_add(ev, "state", json_object_new_string(vm_state_name(vm->state)));
	if (vm->error && (vm->state == VM_CRASHED || vm->state == VM_FAILED))
		json_object_object_add(ev, "error", json_object_new_string(vm->error));
	vmsup_emit(vm->sup, vm, ev);
}

/* ---- waiters ---- */

static void waiter_unlink(struct waiter *w)
{
	if (w->in_list && w->vm) {
		for (struct waiter **pp = &w->vm->waiters; *pp; pp = &(*pp)->next)
			if (*pp == w) {
				*pp = w->next;
				break;
			}
	}
	w->in_list = false;
}

static void waiter_free(struct waiter *w)
{
	waiter_unlink(w);
	if (w->timer)
		event_free(w->timer);
	free(w);
}

void vmsup_cancel(struct waiter *w)
{
	if (!w)
		return;
	w->done = NULL;
	/* a QMP waiter is freed by its reply callback, which will come */
	if (w->kind != W_QMP)
		waiter_free(w);
}

static void on_waiter_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	finish(w, 504, "Timeout", "the VM did not reach the expected state in time", NULL);
	waiter_free(w);
}

static struct waiter *waiter_add(struct vm *vm, enum waiter_kind kind, unsigned mask, int ok_status,
				 unsigned timeout_ms, vmsup_done_fn done, void *arg)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->sup = vm->sup;
	w->vm = vm;
	w->kind = kind;
	w->mask = mask;
	w->ok_status = ok_status;
	w->done = done;
	w->arg = arg;
	if (timeout_ms) {
		struct timeval tv = tv_ms(timeout_ms);
		w->timer = evtimer_new(vm->sup->base, on_waiter_timeout, w);
		if (!w->timer) {
			free(w);
			return NULL;
		}
		evtimer_add(w->timer, &tv);
	}
	if (kind != W_QMP) {
		w->next = vm->waiters;
		vm->waiters = w;
		w->in_list = true;
	}
	return w;
}

static void vm_remove(struct vm *vm);

/* Complete the waiters the VM's new situation satisfies. */
static void check_waiters(struct vm *vm)
{
	bool alive = vm->pid > 0;
	bool destroy = false;
	struct waiter *w, *next, *done_list = NULL;

	for (struct waiter **pp = &vm->waiters; (w = *pp);) {
		bool hit = false;
		switch (w->kind) {
		case W_START:
			hit = vm->state != VM_STARTING || !alive;
			break;
		case W_STATE:
			hit = (w->mask & (1u << vm->state)) || !alive;
			break;
		case W_GONE:
		case W_DESTROY:
			hit = !alive;
			break;
		case W_QMP:
			break;
		}
		if (!hit) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->in_list = false;
		w->next = done_list;
		done_list = w;
	}
	for (w = done_list; w; w = next) {
		next = w->next;
		if (w->kind == W_DESTROY) {
			destroy = true;
			/* replied after the VM is gone, below */
			continue;
		}
		if (w->kind == W_STATE && !(w->mask & (1u << vm->state)))
			finish(w, 409, "Conflict", "the VM's qemu exited", NULL);
		else {
			struct json_object *o = vm_to_json(vm);
			finish(w, w->ok_status, NULL, NULL, o);
			json_object_put(o);
		}
		waiter_free(w);
	}
	if (!destroy)
		return;
	vm_remove(vm);
	for (w = done_list; w; w = next) {
		next = w->next;
		if (w->kind != W_DESTROY)
			continue;
		struct json_object *o = json_object_new_object();
		w->vm = NULL;
		finish(w, 200, NULL, NULL, o);
		json_object_put(o);
		waiter_free(w);
	}
}

/* ---- state ---- */

static void save_now(struct vm *vm)
{
	char *err = NULL;

	if (vm->save_timer)
		evtimer_del(vm->save_timer);
	if (vm_statefile_write(vm->sup->cfg.state_dir, vm, &err)) {
		LOG_E(vm->spec.name, "state file: %s", err);
		/* kept for the status: the VM runs on, but would not survive a restart */
		free(vm->save_error);
		vm->save_error = err;
	} else if (vm->save_error) {
		LOG_I(vm->spec.name, "state file written again");
		free(vm->save_error);
		vm->save_error = NULL;
	}
}

static void on_save_timer(evutil_socket_t fd, short what, void *arg)
{
	save_now(arg);
}

/*
 * Record the VM in the state dir shortly after a change: the fsync would
 * otherwise sit between the change and the reply that reports it, and
 * changes that come in bursts (starting, running) share one write.
 */
static void save(struct vm *vm)
{
	struct timeval tv = tv_ms(SAVE_DELAY_MS);

	if (!vm->save_timer)
		vm->save_timer = evtimer_new(vm->sup->base, on_save_timer, vm);
	if (!vm->save_timer) {
		save_now(vm);
		return;
	}
	if (!evtimer_pending(vm->save_timer, NULL))
		evtimer_add(vm->save_timer, &tv);
}

static void set_state(struct vm *vm, enum vm_state to)
{
	if (vm->state == to)
		return;
	if (!vm_transition_legal(vm->state, to)) {
		LOG_W(vm->spec.name, "ignoring illegal transition %s -> %s",
		      vm_state_name(vm->state), vm_state_name(to));
		return;
	}
	LOG_I(vm->spec.name, "%s -> %s", vm_state_name(vm->state), vm_state_name(to));
	vm->state = to;
	vm->state_since = now_wall();
	save(vm);
	emit_state(vm);
}

static void set_error(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(struct vm *vm, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(vm->error);
	vm->error = s;
}

/* ---- process ---- */

static char *read_tail(const char *path)
{
	char buf[LOG_TAIL_BYTES + 1];
	ssize_t n;
	off_t size;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	size = lseek(fd, 0, SEEK_END);
	lseek(fd, size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0, SEEK_SET);
	n = read(fd, buf, LOG_TAIL_BYTES);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	/* NUL bytes would cut the JSON string short */
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\0')
			buf[i] = '?';
	return strdup(buf);
}

static unsigned long long proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long long st = 0;
	ssize_t n;
	char *p;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may contain spaces and parentheses: fields count from the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	p++;
	for (int field = 3; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &st);
	return st;
}

static void remove_runtime_files(struct vm *vm)
{
	const char *files[] = {vm->qmp_sock, vm->ops_sock, vm->qga_sock, vm->pidfile};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i])
			unlink(files[i]);
}

static void drop_qmp(struct vm *vm)
{
	if (vm->connect_timer) {
		event_free(vm->connect_timer);
		vm->connect_timer = NULL;
	}
	if (vm->qmp) {
		struct qmp_session *s = vm->qmp;
		vm->qmp = NULL;
		qmp_session_free(s);
	}
}

/* "signal 9", "status 1", or "exit status unknown" (a reattached qemu) */
static const char *exit_what(const struct vm *vm, char *buf, size_t size)
{
	if (vm->exit_signal >= 0)
		snprintf(buf, size, "signal %d", vm->exit_signal);
	else if (vm->exit_code >= 0)
		snprintf(buf, size, "status %d", vm->exit_code);
	else
		snprintf(buf, size, "exit status unknown");
	return buf;
}

/* The last non-empty line of text into out (empty if none). */
static const char *last_line(const char *text, char *out, size_t size)
{
	const char *end = text ? text + strlen(text) : NULL, *start;

	out[0] = '\0';
	while (end && end > text && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	if (!end || end == text)
		return out;
	for (start = end; start > text && start[-1] != '\n';)
		start--;
	snprintf(out, size, "%.*s", (int)(end - start), start);
	return out;
}

/* status: as from waitpid, or -1 when unknown (not our child) */
static void process_gone(struct vm *vm, int status)
{
	enum vm_state to;
	char what[32], line[256];

	drop_qmp(vm);
	if (vm->stop_timer) {
		event_free(vm->stop_timer);
		vm->stop_timer = NULL;
	}
	vm->exit_code = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	vm->exit_signal = status != -1 && WIFSIGNALED(status) ? WTERMSIG(status) : -1;
	exit_what(vm, what, sizeof(what));
	free(vm->log_tail);
	vm->log_tail = read_tail(vm->qemu_log);
	if (vm->start_failed || (!vm->qmp_ready_once && !vm->kill_requested)) {
		to = VM_FAILED;
		/* qemu's own last words (e.g. no /dev/kvm) say more than the
		 * QMP side's symptom of its exit */
		if (vm->exit_code > 0 && *last_line(vm->log_tail, line, sizeof(line)))
			set_error(vm, "qemu exited during start-up (%s): %s", what, line);
		else if (!vm->error)
			set_error(vm, "qemu exited during start-up (%s)", what);
	} else if (vm->shutdown_seen || vm->kill_requested) {
		to = VM_STOPPED;
	} else {
		to = VM_CRASHED;
		set_error(vm, "qemu exited without a SHUTDOWN event (%s)", what);
	}
	LOG_I(vm->spec.name, "qemu pid %d exited (%s)", (int)vm->pid, what);
	vm->pid = 0;
	vm->agent_state = VM_AGENT_ABSENT;
	remove_runtime_files(vm);
	vmsup_hook_exited(vm);
	if (vm->state == VM_DEFINED || vm->state == VM_STOPPED || vm->state == VM_CRASHED ||
	    vm->state == VM_FAILED)
		save(vm);
	else
		set_state(vm, to);
	/* only arms a timer: a destroy below frees it with the VM */
	vm_restart_exited(vm);
	check_waiters(vm);
}

static void maybe_shutdown_done(struct vmsup *sup);

static void on_sigchld(evutil_socket_t sig, short what, void *arg)
{
	struct vmsup *sup = arg;
	struct vm *vm, *next;

	/* waitpid per VM, never -1: the process may have other children */
	for (vm = sup->vms; vm; vm = next) {
		int st;
		pid_t r;
		next = vm->next;
		/* an adopted qemu is no child of ours: its pidfd watch reports it */
		if (vm->pid <= 0 || vm->adopted)
			continue;
		do
			r = waitpid(vm->pid, &st, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == vm->pid || (r < 0 && errno == ECHILD)) {
			if (r < 0)
				st = 0;
			/* vm may be freed by a destroy waiter: next was read before */
			process_gone(vm, st);
		}
	}
	maybe_shutdown_done(sup);
}

/* ---- QMP ---- */

static void on_qmp_event(struct qmp_session *s, const char *name, struct json_object *data,
			 int64_t sec, int64_t usec, void *arg)
{
	struct vm *vm = arg;
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "vm", json_object_new_string(vm->spec.name));
	json_object_object_add(ev, "type", json_object_new_string("qmp"));
	json_object_object_add(ev, "event", json_object_new_string(name));
	json_object_object_add(ev, "data", data ? json_object_get(data) : json_object_new_object());
	LOG_D(vm->spec.name, "QMP event %s", name);

	if (!strcmp(name, "STOP")) {
		if (vm->state == VM_RUNNING)
			set_state(vm, VM_PAUSED);
	} else if (!strcmp(name, "RESUME")) {
		if (vm->state == VM_STARTING || vm->state == VM_PAUSED)
			set_state(vm, VM_RUNNING);
	} else if (!strcmp(name, "SHUTDOWN")) {
		vm->shutdown_seen = true;
		if (vm->state == VM_STARTING || vm->state == VM_RUNNING || vm->state == VM_PAUSED)
			set_state(vm, VM_STOPPING);
	} else if (!strcmp(name, "GUEST_PANICKED")) {
		LOG_W(vm->spec.name, "guest panicked");
	} else if (!strcmp(name, "VSERPORT_CHANGE")) {
		struct json_object *id, *open;
		/* qemu names the port by its device id (set in argv.c) */
		if (data && json_object_object_get_ex(data, "open", &open) &&
		    json_object_object_get_ex(data, "id", &id) &&
		    !strcmp(json_object_get_string(id), VM_AGENT_PORT_ID))
			vmsup_hook_agent_port(vm, json_object_get_boolean(open));
	}
	vmsup_hook_qmp_event(vm, name, data);
	vmsup_emit(vm->sup, vm, ev);
	check_waiters(vm);
}

static void on_qmp_close(struct qmp_session *s, const struct qmp_error *why, void *arg)
{
	struct vm *vm = arg;

	/* the process exit (SIGCHLD) decides the state; this only logs */
	LOG_D(vm->spec.name, "QMP connection closed: %s", why ? why->desc : "");
	vm->qmp = NULL;
	qmp_session_free(s);
}

static void fail_start(struct vm *vm, const char *why)
{
	set_error(vm, "%s", why);
	vm->start_failed = true;
	LOG_E(vm->spec.name, "start failed: %s", why);
	/* the exit handler turns this into "failed" (qmp never became ready) */
	if (vm->pid > 0)
		kill(vm->pid, SIGKILL);
}

static void on_query_kvm(struct qmp_session *s, struct json_object *ret,
			 const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct json_object *en;

	if (err)
		return; /* Disconnected: the exit handler speaks */
	free(vm->accel_used);
	vm->accel_used = strdup(
	    json_object_object_get_ex(ret, "enabled", &en) && json_object_get_boolean(en) ? "kvm"
											  : "tcg");
}

static void on_cont(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		    void *arg)
{
	struct vm *vm = arg;

	if (err) {
		if (strcmp(err->cls, QMP_ERR_DISCONNECTED) != 0) {
			char why[400];
			snprintf(why, sizeof(why), "cont: %s: %s", err->cls, err->desc);
			fail_start(vm, why);
		}
		return;
	}
	/* RESUME normally came first; this covers a qemu that did not send it */
	if (vm->state == VM_STARTING)
		set_state(vm, VM_RUNNING);
	check_waiters(vm);
}

static void on_qmp_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	struct qmp_error e;

	if (err) {
		char why[400];
		snprintf(why, sizeof(why), "QMP handshake: %s: %s", err->cls, err->desc);
		fail_start(vm, why);
		return;
	}
	vm->qmp_ready_once = true;
	/* both in flight at once: qemu answers in order, one round trip */
	if (vm_qmp_call(vm, "query-kvm", NULL, 0, on_query_kvm, vm, &e) < 0 ||
	    /* a VM being restored is resumed by the restore, once its state is in */
	    (!vm_template_restoring(vm) && vm_qmp_call(vm, "cont", NULL, 0, on_cont, vm, &e) < 0)) {
		char why[400];
		snprintf(why, sizeof(why), "QMP: %s", e.desc);
		fail_start(vm, why);
		return;
	}
	vmsup_hook_qmp_ready(vm);
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;
	struct qmp_error e;
	struct timeval tv = tv_ms(CONNECT_RETRY_MS);

	if (!vm->qmp) {
		vm->qmp = qmp_session_new(vm->sup->base, QMP_KIND_QMP, NULL);
		if (!vm->qmp) {
			fail_start(vm, "out of memory");
			return;
		}
	}
	if (qmp_connect(vm->qmp, vm->qmp_sock, on_qmp_ready, vm, &e) == 0) {
		qmp_subscribe(vm->qmp, on_qmp_event, vm);
		qmp_on_close(vm->qmp, on_qmp_close, vm);
		event_free(vm->connect_timer);
		vm->connect_timer = NULL;
		return;
	}
	if (now_mono() > vm->connect_deadline) {
		char why[400];
		snprintf(why, sizeof(why), "QMP socket never came up: %s", e.desc);
		fail_start(vm, why);
		return;
	}
	/* qemu creates its monitor socket early in start-up: poll briefly */
	evtimer_add(vm->connect_timer, &tv);
}

static int vm_paths_init(struct vm *vm, char **err)
{
	struct vmsup *sup = vm->sup;

	free(vm->run_dir);
	if (asprintf(&vm->run_dir, "%s/%s", sup->vm_root, vm->spec.name) < 0) {
		vm->run_dir = NULL;
		return vmsup_err(err, "out of memory");
	}
	return vm_run_files(vm->run_dir, &vm->qmp_sock, &vm->ops_sock, &vm->qga_sock, &vm->pidfile,
			    &vm->console_log, &vm->qemu_log, err);
}

/* Spawn qemu; the VM is "starting" (or "failed" with vm->error). */
static int vm_start(struct vm *vm)
{
	struct vmsup *sup = vm->sup;
	struct vm_argv_opts o = {sup->cfg.qemu, sup->sandbox, sup->cfg.qemu_user};
	struct vm_paths p;
	char **argv = NULL, *err = NULL;
	int ret = -1, state_fd = -1;

	free(vm->error);
	vm->error = NULL;
	free(vm->log_tail);
	vm->log_tail = NULL;
	free(vm->accel_used);
	vm->accel_used = NULL;
	vm->exit_code = vm->exit_signal = -1;
	vm->qmp_ready_once = vm->shutdown_seen = vm->kill_requested = vm->start_failed = false;
	vm->stop_stage = 0;
	vm->qmp_unresponsive = false;
	if (vm_paths_init(vm, &err) || vm_mkdir(vm->run_dir, 0700, &err) ||
	    (sup->cfg.qemu_user && vmsup_chown_for_user(vm->run_dir, sup->cfg.qemu_user, &err)) ||
	    (vm->spec.stage && vm_stage_create(vm->run_dir, sup->cfg.qemu_user, &err)))
		goto out;
	remove_runtime_files(vm);
	/* a fresh log per start, so the tail is this run's */
	unlink(vm->qemu_log);
	if ((vm->ssh_port = vm_free_port(&err)) < 0)
		goto out;
	p = (struct vm_paths){vm->run_dir, vm->qmp_sock,    vm->ops_sock, vm->qga_sock,
			      vm->pidfile, vm->console_log, vm->ssh_port, vm->mac};
	if (!(argv = vm_argv_build(&vm->spec, &p, &o, &err)) ||
	    vm_template_argv(vm, &argv, &state_fd, &err))
		goto out;
	if (vm_spawn_fd(argv, vm->qemu_log, state_fd, &vm->pid, &err))
		goto out;
	vm->start_time = proc_start_time(vm->pid);
	LOG_I(vm->spec.name, "spawned qemu pid %d", (int)vm->pid);
	set_state(vm, VM_STARTING);
	if (vmsup_hook_spawned(vm, &err)) {
		fail_start(vm, err);
		ret = 0; /* the exit handler finishes the job */
		goto out;
	}
	vm->connect_deadline = now_mono() + CONNECT_DEADLINE;
	vm->connect_timer = evtimer_new(sup->base, try_connect, vm);
	if (!vm->connect_timer) {
		fail_start(vm, "out of memory");
		ret = 0;
		goto out;
	}
	{
		struct timeval tv = tv_ms(1);
		evtimer_add(vm->connect_timer, &tv);
	}
	ret = 0;
out:
	if (ret) {
		set_error(vm, "%s", err ? err : "start failed");
		LOG_E(vm->spec.name, "%s", vm->error);
		vm->pid = 0;
		set_state(vm, VM_FAILED);
		save(vm);
	}
	free(err);
	vm_argv_free(argv);
	if (state_fd >= 0)
		close(state_fd);
	return ret;
}

/* ---- stop ---- */

static void on_stop_timer(evutil_socket_t fd, short what, void *arg);

static void ignore_reply(struct qmp_session *s, struct json_object *ret,
			 const struct qmp_error *err, void *arg)
{
	struct vm *vm = arg;
	if (err && strcmp(err->cls, QMP_ERR_DISCONNECTED) != 0)
		LOG_W(vm->spec.name, "%s: %s", err->cls, err->desc);
}

static void stop_arm(struct vm *vm, unsigned seconds)
{
	struct timeval tv = {seconds, 0};

	if (!vm->stop_timer)
		vm->stop_timer = evtimer_new(vm->sup->base, on_stop_timer, vm);
	if (vm->stop_timer)
		evtimer_add(vm->stop_timer, &tv);
}

static bool send_cmd(struct vm *vm, const char *cmd)
{
	struct qmp_error e;

	if (!vm->qmp || !qmp_is_ready(vm->qmp))
		return false;
	return vm_qmp_call(vm, cmd, NULL, 0, ignore_reply, vm, &e) > 0;
}

static void stop_stage(struct vm *vm, int stage, unsigned grace)
{
	vm->stop_stage = stage;
	switch (stage) {
	case 1:
		LOG_I(vm->spec.name, "ACPI power-off, %u s grace", grace);
		if (send_cmd(vm, "system_powerdown")) {
			stop_arm(vm, grace);
			break;
		}
		stage = 2;
		vm->stop_stage = 2;
		/* fallthrough */
	case 2:
		LOG_I(vm->spec.name, "quit");
		/* quit is an orderly exit: qemu sends SHUTDOWN itself */
		if (send_cmd(vm, "quit")) {
			stop_arm(vm, QUIT_TO_KILL_S);
			break;
		}
		vm->stop_stage = 3;
		/* fallthrough */
	default:
		LOG_W(vm->spec.name, "SIGKILL");
		vm->kill_requested = true;
		if (vm->pid > 0)
			kill(vm->pid, SIGKILL);
		break;
	}
}

static void on_stop_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vm *vm = arg;

	if (vm->pid > 0)
		stop_stage(vm, vm->stop_stage + 1, 0);
}

/* Begin a stop unless one is under way. */
static void vm_stop(struct vm *vm, unsigned grace)
{
	bool guest = vm->spec.kernel || vm->spec.disk;
	enum vm_state was = vm->state;

	if (vm->pid <= 0)
		return;
	if (vm->stop_stage) {
		/* a shorter deadline than the running one wins */
		if (vm->stop_stage == 1 && grace == 0)
			stop_stage(vm, 2, 0);
		return;
	}
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED || vm->state == VM_STARTING)
		set_state(vm, VM_STOPPING);
	/* no guest OS, a paused or half-started VM: nobody would answer ACPI */
	if (!guest || grace == 0 || was != VM_RUNNING || !vm->qmp_ready_once)
		stop_stage(vm, 2, 0);
	else
		stop_stage(vm, 1, grace);
}

/* ---- registry ---- */

static void vm_free(struct vm *vm)
{
	if (vm->save_timer) {
		/* a change not yet on disk must not be lost (daemon exit) */
		if (evtimer_pending(vm->save_timer, NULL) && !vm->destroying)
			save_now(vm);
		event_free(vm->save_timer);
	}
	drop_qmp(vm);
	if (vm->stop_timer)
		event_free(vm->stop_timer);
	vm_restart_release(vm);
	vm_template_release(vm);
	vm_reattach_release(vm);
	vm_limits_release(vm);
	vm_release_fields(vm);
	free(vm);
}

static void rm_run_dir(struct vm *vm)
{
	if (vm->run_dir && vm_rm_run_dir(vm->run_dir) < 0 && errno != ENOENT)
		LOG_W(vm->spec.name, "rmdir %s: %s", vm->run_dir, strerror(errno));
}

static void vm_remove(struct vm *vm)
{
	struct vmsup *sup = vm->sup;
	char *err = NULL;
	struct json_object *ev;

	vmsup_hook_destroyed(vm);
	if (vm_statefile_remove(sup->cfg.state_dir, vm->spec.name, &err)) {
		LOG_E(vm->spec.name, "%s", err);
		free(err);
	}
	rm_run_dir(vm);
	for (struct vm **pp = &sup->vms; *pp; pp = &(*pp)->next)
		if (*pp == vm) {
			*pp = vm->next;
			sup->nvms--;
			break;
		}
	LOG_I(vm->spec.name, "destroyed");
	ev = json_object_new_object();
	json_object_object_add(ev, "vm", json_object_new_string(vm->spec.name));
	json_object_object_add(ev, "type", json_object_new_string("state"));
	json_object_object_add(ev, "state", json_object_new_string("destroyed"));
	vmsup_emit(sup, vm, ev);
	/* remaining waiters (pause etc.) learn the VM is gone */
	while (vm->waiters) {
		struct waiter *w = vm->waiters;
		waiter_unlink(w);
		finish(w, 404, "NotFound", "the VM was destroyed", NULL);
		waiter_free(w);
	}
	vm_free(vm);
}

struct vm *vmsup_find(struct vmsup *sup, const char *name)
{
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		if (strcmp(vm->spec.name, name) == 0)
			return vm;
	return NULL;
}

struct vm *vmsup_first(struct vmsup *sup)
{
	return sup->vms;
}

size_t vmsup_count(const struct vmsup *sup)
{
	return sup->nvms;
}

void vmsup_set_limits(struct vmsup *sup, struct vm_limits *l)
{
	sup->limits = l;
}

struct vm_limits *vmsup_limits(const struct vmsup *sup)
{
	return sup->limits;
}

void vmsup_set_pool(struct vmsup *sup, struct vm_pool *p)
{
	sup->pool = p;
}

struct vm_pool *vmsup_pool(const struct vmsup *sup)
{
	return sup->pool;
}

struct json_object *vmsup_list(struct vmsup *sup)
{
	struct json_object *o = json_object_new_object(), *a = json_object_new_array();

	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		json_object_array_add(a, vm_to_json(vm));
	json_object_object_add(o, "vms", a);
	return o;
}

struct json_object *vmsup_get(struct vmsup *sup, const char *name)
{
	struct vm *vm = vmsup_find(sup, name);
	return vm ? vm_to_json(vm) : NULL;
}

const struct vmsup_config *vmsup_config(const struct vmsup *sup)
{
	return &sup->cfg;
}

const char *vmsup_qemu_version(const struct vmsup *sup)
{
	return sup->qemu_version;
}

bool vmsup_qemu_sandbox(const struct vmsup *sup)
{
	return sup->sandbox;
}

struct waiter *vmsup_create(struct vmsup *sup, struct json_object *j, vmsup_done_fn done, void *arg)
{
	struct vm *vm;
	char *err = NULL;
	struct waiter *w;
	int from;

	if (sup->shutting_down) {
		reply_err(done, arg, 503, "ShuttingDown", "the daemon is shutting down");
		return NULL;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm) {
		reply_err(done, arg, 500, "InternalError", "out of memory");
		return NULL;
	}
	/* {"from": TEMPLATE}: spec and MAC come from the template */
	if ((from = vm_template_resolve(sup, j, vm, &err)) >= 400) {
		reply_err(done, arg, from, from == 404 ? "NotFound" : "InvalidParameter", "%s",
			  err);
		goto fail;
	}
	if (!from && vm_spec_from_json(j, &sup->cfg, &vm->spec, &err)) {
		reply_err(done, arg, 400, "InvalidParameter", "%s", err ? err : "bad spec");
		goto fail;
	}
	if (vmsup_find(sup, vm->spec.name)) {
		reply_err(done, arg, 409, "Conflict", "VM '%s' already exists", vm->spec.name);
		goto fail;
	}
	if (sup->nvms >= sup->cfg.max_vms) {
		reply_err(done, arg, 409, "Conflict", "max_vms (%u) reached", sup->cfg.max_vms);
		goto fail;
	}
	vm->sup = sup;
	vm->state = VM_DEFINED;
	vm->exit_code = vm->exit_signal = -1;
	vm->balloon_mib = -1;
	vm->created = vm->state_since = now_wall();
	if (!vm->mac[0])
		vm_mac_from_name(vm->spec.name, vm->mac);
	if (vm_paths_init(vm, &err)) {
		reply_err(done, arg, 400, "InvalidParameter", "%s", err);
		goto fail;
	}
	vm->next = sup->vms;
	sup->vms = vm;
	sup->nvms++;
	LOG_I(vm->spec.name, "defined (%u MiB, %u cpus, accel %s%s)", vm->spec.mem_mib,
	      vm->spec.cpus, vm->spec.accel,
	      vm->spec.kernel || vm->spec.disk ? "" : ", guest-less");
	save(vm);
	emit_state(vm);
	if (!vm->spec.start) {
		reply_vm(done, arg, 201, vm);
		return NULL;
	}
	vm_start(vm);
	if (vm->state != VM_STARTING) {
		reply_vm(done, arg, 201, vm);
		return NULL;
	}
	w = waiter_add(vm, W_START, 0, 201, 0, done, arg);
	if (!w)
		reply_vm(done, arg, 201, vm);
	return w;
fail:
	free(err);
	vm_template_release(vm);
	/* the paths too: vm_paths_init may fail half-way (socket path too long) */
	vm_release_fields(vm);
	free(vm);
	return NULL;
}

static unsigned timeout_arg(struct vmsup *sup, struct json_object *args, int *bad)
{
	struct json_object *t;
	int64_t n;

	*bad = 0;
	if (!args || !json_object_object_get_ex(args, "timeout_s", &t) ||
	    json_object_is_type(t, json_type_null))
		return sup->cfg.stop_grace_s;
	if (!json_object_is_type(t, json_type_int) || (n = json_object_get_int64(t)) < 0 ||
	    n > 86400) {
		*bad = 1;
		return 0;
	}
	return (unsigned)n;
}

static void on_qmp_passthrough(struct qmp_session *s, struct json_object *ret,
			       const struct qmp_error *err, void *arg)
{
	struct waiter *w = arg;

	if (err) {
		int status = 502;
		if (!strcmp(err->cls, QMP_ERR_TIMEOUT))
			status = 504;
		else if (!strcmp(err->cls, QMP_ERR_DISCONNECTED))
			status = 409;
		finish(w, status, err->cls, err->desc, NULL);
	} else {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "return",
				       ret ? json_object_get(ret) : json_object_new_object());
		finish(w, 200, NULL, NULL, o);
		json_object_put(o);
	}
	waiter_free(w);
}

static void on_reset(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	struct waiter *w = arg;

	if (err)
		finish(w, 502, err->cls, err->desc, NULL);
	else if (w->vm) {
		struct json_object *o = vm_to_json(w->vm);
		finish(w, 200, NULL, NULL, o);
		json_object_put(o);
	}
	waiter_free(w);
}

/* A QMP call on behalf of a request; the waiter is freed in cb. */
static struct waiter *qmp_request(struct vm *vm, const char *cmd, struct json_object *raw,
				  qmp_reply_fn cb, vmsup_done_fn done, void *arg)
{
	struct waiter *w;
	struct qmp_error e;
	int64_t id;

	if (!vm->qmp || !qmp_is_ready(vm->qmp)) {
		json_object_put(raw);
		reply_err(done, arg, 409, "Conflict", "VM '%s' has no QMP connection yet",
			  vm->spec.name);
		return NULL;
	}
	if (!(w = waiter_add(vm, W_QMP, 0, 200, 0, done, arg))) {
		json_object_put(raw);
		reply_err(done, arg, 500, "InternalError", "out of memory");
		return NULL;
	}
	id =
	    raw ? vm_qmp_call_raw(vm, raw, 0, cb, w, &e) : vm_qmp_call(vm, cmd, NULL, 0, cb, w, &e);
	if (id < 0) {
		finish(w, 400, "InvalidParameter", e.desc, NULL);
		waiter_free(w);
		return NULL;
	}
	return w;
}

struct waiter *vmsup_op(struct vmsup *sup, const char *name, enum vm_op op,
			struct json_object *args, vmsup_done_fn done, void *arg)
{
	struct vm *vm = vmsup_find(sup, name);
	struct waiter *w = NULL;
	unsigned grace;
	int bad;

	if (!vm) {
		reply_err(done, arg, 404, "NotFound", "no VM named '%s'", name);
		return NULL;
	}
	if (vm->destroying && op != VM_OP_DESTROY) {
		reply_err(done, arg, 409, "Conflict", "VM '%s' is being destroyed", name);
		return NULL;
	}
	if (vm->pool_member && op != VM_OP_DESTROY && op != VM_OP_KILL && op != VM_OP_QMP) {
		/* a pool VM serves one task, handed out by the pool */
		reply_err(done, arg, 409, "PoolMember",
			  "VM '%s' waits in the warm pool: take one with POST /v1/pool/take", name);
		return NULL;
	}
	if (!vm_op_allowed(vm->state, op)) {
		reply_err(done, arg, 409, "Conflict", "cannot %s VM '%s': it is %s", vm_op_name(op),
			  name, vm_state_name(vm->state));
		return NULL;
	}
	if (sup->shutting_down && op == VM_OP_START) {
		reply_err(done, arg, 503, "ShuttingDown", "the daemon is shutting down");
		return NULL;
	}
	switch (op) {
	case VM_OP_START:
		vm_start(vm);
		if (vm->state != VM_STARTING) {
			reply_vm(done, arg, 200, vm);
			return NULL;
		}
		w = waiter_add(vm, W_START, 0, 200, 0, done, arg);
		break;
	case VM_OP_PAUSE:
	case VM_OP_RESUME:
		if (!send_cmd(vm, op == VM_OP_PAUSE ? "stop" : "cont")) {
			reply_err(done, arg, 409, "Conflict", "VM '%s' has no QMP connection",
				  name);
			return NULL;
		}
		w = waiter_add(vm, W_STATE, 1u << (op == VM_OP_PAUSE ? VM_PAUSED : VM_RUNNING), 200,
			       OP_TIMEOUT_MS, done, arg);
		break;
	case VM_OP_STOP:
		grace = timeout_arg(sup, args, &bad);
		if (bad) {
			reply_err(done, arg, 400, "InvalidParameter",
				  "'timeout_s' must be an integer in 0..86400");
			return NULL;
		}
		w = waiter_add(vm, W_GONE, 0, 200, 0, done, arg);
		vm_stop(vm, grace);
		break;
	case VM_OP_KILL:
		w = waiter_add(vm, W_GONE, 0, 200, 0, done, arg);
		vm->kill_requested = true;
		LOG_I(name, "kill (SIGKILL pid %d)", (int)vm->pid);
		kill(vm->pid, SIGKILL);
		break;
	case VM_OP_RESET:
		return qmp_request(vm, "system_reset", NULL, on_reset, done, arg);
	case VM_OP_QMP:
		if (!args || !json_object_is_type(args, json_type_object)) {
			reply_err(done, arg, 400, "InvalidParameter",
				  "the body must be a QMP command object {\"execute\":...}");
			return NULL;
		}
		return qmp_request(vm, NULL, json_object_get(args), on_qmp_passthrough, done, arg);
	case VM_OP_DESTROY:
		grace = timeout_arg(sup, args, &bad);
		if (bad) {
			reply_err(done, arg, 400, "InvalidParameter",
				  "'timeout' must be an integer in 0..86400");
			return NULL;
		}
		vm->destroying = true;
		LOG_I(name, "destroy");
		w = waiter_add(vm, W_DESTROY, 0, 200, 0, done, arg);
		if (!w) {
			reply_err(done, arg, 500, "InternalError", "out of memory");
			return NULL;
		}
		if (vm->pid > 0) {
			vm_stop(vm, grace);
			return w;
		}
		check_waiters(vm); /* replies and frees: w is gone */
		return NULL;
	default:
		reply_err(done, arg, 400, "InvalidParameter", "unknown operation");
		return NULL;
	}
	if (!w) {
		reply_err(done, arg, 500, "InternalError", "out of memory");
		return NULL;
	}
	/* the target may already hold (e.g. the process exited meanwhile) */
	return w;
}

/* ---- life of the registry ---- */

static void maybe_shutdown_done(struct vmsup *sup)
{
	void (*done)(void *);

	if (!sup->shutting_down || !sup->shutdown_done)
		return;
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		if (vm->pid > 0)
			return;
	done = sup->shutdown_done;
	sup->shutdown_done = NULL;
	done(sup->shutdown_arg);
}

void vmsup_shutdown(struct vmsup *sup, void (*done)(void *arg), void *arg)
{
	sup->shutting_down = true;
	sup->shutdown_done = done;
	sup->shutdown_arg = arg;
	LOG_I(NULL, "stopping %zu VMs", sup->nvms);
	for (struct vm *vm = sup->vms; vm; vm = vm->next)
		if (vm->pid > 0)
			vm_stop(vm, sup->cfg.stop_grace_s);
	maybe_shutdown_done(sup);
}

struct vmsup *vmsup_new(struct event_base *base, const struct vmsup_config *cfg, char **err)
{
	struct vmsup *sup = calloc(1, sizeof(*sup));

	if (!sup) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	sup->base = base;
	if (vmsup_config_copy(&sup->cfg, cfg, err)) {
		free(sup);
		return NULL;
	}
	if (asprintf(&sup->vm_root, "%s/vm", sup->cfg.run_dir) < 0) {
		sup->vm_root = NULL;
		vmsup_err(err, "out of memory");
		goto fail;
	}
	if (vm_mkdir(sup->cfg.run_dir, 0755, err) || vm_mkdir(sup->vm_root, 0700, err) ||
	    vm_mkdir(sup->cfg.state_dir, 0700, err))
		goto fail;
	if (vm_probe_qemu(sup->cfg.qemu, &sup->sandbox, &sup->qemu_version, err))
		goto fail;
	if (sup->cfg.qemu_user) {
		uid_t u;
		gid_t g;
		/* a typo in qemu_user is a start-up error, not a failure of every VM */
		if (vmsup_user_resolve(sup->cfg.qemu_user, &u, &g, err))
			goto fail;
	}
	LOG_I(NULL, "qemu %s (%s), -sandbox %s", sup->qemu_version, sup->cfg.qemu,
	      sup->sandbox ? "on" : "unavailable");
	sup->sigchld = evsignal_new(base, SIGCHLD, on_sigchld, sup);
	if (!sup->sigchld || evsignal_add(sup->sigchld, NULL) < 0) {
		vmsup_err(err, "cannot watch SIGCHLD");
		goto fail;
	}
	return sup;
fail:
	vmsup_free(sup);
	return NULL;
}

void vmsup_free(struct vmsup *sup)
{
	if (!sup)
		return;
	while (sup->vms) {
		struct vm *vm = sup->vms;
		sup->vms = vm->next;
		while (vm->waiters) {
			struct waiter *w = vm->waiters;
			waiter_unlink(w);
			finish(w, 503, "ShuttingDown", "the daemon is shutting down", NULL);
			waiter_free(w);
		}
		vm_free(vm);
	}
	while (sup->subs) {
		struct sub *s = sup->subs;
		sup->subs = s->next;
		free(s->vm);
		free(s);
	}
	if (sup->sigchld)
		event_free(sup->sigchld);
	free(sup->vm_root);
	free(sup->qemu_version);
	vmsup_config_release(&sup->cfg);
	free(sup);
}

/* ---- for reattach and restart (src/core/reattach.c, src/core/restart.c) ---- */

struct event_base *vmsup_base(const struct vmsup *sup)
{
	return sup->base;
}

bool vmsup_shutting_down(const struct vmsup *sup)
{
	return sup->shutting_down;
}

int vmsup_vm_paths(struct vm *vm, char **err)
{
	return vm_paths_init(vm, err);
}

void vmsup_adopt(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	vm->next = sup->vms;
	sup->vms = vm;
	sup->nvms++;
	save(vm);
	emit_state(vm);
}

void vmsup_vm_qmp_attach(struct vm *vm)
{
	qmp_subscribe(vm->qmp, on_qmp_event, vm);
	qmp_on_close(vm->qmp, on_qmp_close, vm);
}

void vmsup_vm_set_state(struct vm *vm, enum vm_state to)
{
	set_state(vm, to);
	check_waiters(vm);
}

void vmsup_vm_save(struct vm *vm)
{
	save(vm);
}

void vmsup_vm_exited(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	vm->adopted = false;
	process_gone(vm, -1); /* may free vm */
	maybe_shutdown_done(sup);
}

void vmsup_vm_rm_run_dir(struct vm *vm)
{
	rm_run_dir(vm);
}

int vmsup_vm_restart(struct vm *vm)
{
	vm->restarts++;
	vm_start(vm);
	return vm->state == VM_STARTING ? 0 : -1;
}
