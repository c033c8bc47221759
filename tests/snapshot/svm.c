#include "tests/snapshot/svm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "src/snapshot.h"

#define MAX_LIVE 16

static struct svm *live[MAX_LIVE];

static void remove_dir(struct svm *v);

/* A failed assertion exits the test without its svm_stop: no qemu, no dir left. */
static void kill_all(void)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i]) {
			if (live[i]->pid > 0) {
				kill(-live[i]->pid, SIGKILL);
				waitpid(live[i]->pid, NULL, 0);
				live[i]->pid = 0;
			}
			remove_dir(live[i]);
		}
}

double svm_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

const char *svm_guest_dir(void)
{
	static const char *const cands[] = {"/tmp/guest"};
	const char *d = getenv("VMSUP_GUEST_DIR");
	char p[512];

	if (d) {
		snprintf(p, sizeof(p), "%s/initrd.img", d);
		if (access(p, R_OK) == 0)
			return d;
	}
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(p, sizeof(p), "%s/initrd.img", cands[i]);
		if (access(p, R_OK) == 0)
			return cands[i];
	}
	return NULL;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

int svm_run_until(struct event_base *base, int *flag, unsigned ms)
{
	double end = svm_now_ms() + ms;
	struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = {0, 5000};

	evtimer_add(t, &tv);
	while (!*flag && svm_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static char **vec_add(char **v, size_t *n, const char *s)
{
	char **nv = realloc(v, (*n + 2) * sizeof(*v));

	if (!nv)
		abort(); /* test helper: out of memory is fatal */
	nv[(*n)++] = strdup(s);
	nv[*n] = NULL;
	return nv;
}

int svm_prepare(struct svm *v, const struct svm_opts *o)
{
	const char *g = svm_guest_dir();
	char buf[1024], append[512] = "console=ttyS0 panic=-1";
	char **a = NULL;
	size_t n = 0;
	FILE *f;

	memset(v, 0, sizeof(*v));
	if (!g) {
		fprintf(stderr, "svm: no test guest\n");
		return -1;
	}
	strcpy(v->dir, "/tmp/vmsnap-vm-XXXXXX");
	if (!mkdtemp(v->dir)) /* 0700 */
		return -1;
	snprintf(v->qmp_path, sizeof(v->qmp_path), "%s/qmp.sock", v->dir);
	snprintf(v->qga_path, sizeof(v->qga_path), "%s/qga.sock", v->dir);
	snprintf(v->console, sizeof(v->console), "%s/console.log", v->dir);
	snprintf(v->errlog, sizeof(v->errlog), "%s/qemu.log", v->dir);
	snprintf(v->pidfile, sizeof(v->pidfile), "%s/qemu.pid", v->dir);
	v->ssh_port = free_port();
	snprintf(buf, sizeof(buf), "%s/append", g);
	if ((f = fopen(buf, "r"))) {
		if (fgets(append, sizeof(append), f))
			append[strcspn(append, "\n")] = '\0';
		fclose(f);
	}
	/* the layout of src/argv.c's vm_argv_build, so the devconfig is the daemon's */
	a = vec_add(a, &n, "qemu-system-x86_64");
	a = vec_add(a, &n, "-name");
	snprintf(buf, sizeof(buf), "guest=%s", strrchr(v->dir, '/') + 1);
	a = vec_add(a, &n, buf);
	static const char *const head[] = {"-machine", "q35", "-accel", "tcg", "-m", NULL};
	for (size_t i = 0; head[i]; i++)
		a = vec_add(a, &n, head[i]);
	snprintf(buf, sizeof(buf), "%u", o && o->mem_mib ? o->mem_mib : 256);
	a = vec_add(a, &n, buf);
	static const char *const mid[] = {"-smp",     "1",    "-nodefaults", "-no-user-config",
					  "-display", "none", "-S",	     NULL};
	for (size_t i = 0; mid[i]; i++)
		a = vec_add(a, &n, mid[i]);
	a = vec_add(a, &n, "-kernel");
	snprintf(buf, sizeof(buf), "%s/vmlinuz", g);
	a = vec_add(a, &n, buf);
	a = vec_add(a, &n, "-initrd");
	snprintf(buf, sizeof(buf), "%s/initrd.img", g);
	a = vec_add(a, &n, buf);
	a = vec_add(a, &n, "-append");
	a = vec_add(a, &n, append);
	a = vec_add(a, &n, "-chardev");
	snprintf(buf, sizeof(buf), "socket,id=qmp,path=%s,server=on,wait=off", v->qmp_path);
	a = vec_add(a, &n, buf);
	a = vec_add(a, &n, "-mon");
	a = vec_add(a, &n, "chardev=qmp,mode=control");
	a = vec_add(a, &n, "-chardev");
	snprintf(buf, sizeof(buf), "socket,id=qga0,path=%s,server=on,wait=off", v->qga_path);
	a = vec_add(a, &n, buf);
	static const char *const dev[] = {
	    "-device", "virtio-serial-pci",
	    "-device", "virtserialport,chardev=qga0,id=qga0,name=org.qemu.guest_agent.0",
	    "-device", "virtio-balloon-pci,id=balloon0",
	    "-netdev", NULL};
	for (size_t i = 0; dev[i]; i++)
		a = vec_add(a, &n, dev[i]);
	snprintf(buf, sizeof(buf), "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22",
		 v->ssh_port);
	a = vec_add(a, &n, buf);
	a = vec_add(a, &n, "-device");
	snprintf(buf, sizeof(buf), "virtio-net-pci,netdev=n0,mac=%s",
		 o && o->mac ? o->mac : SVM_MAC);
	a = vec_add(a, &n, buf);
	if (o && o->vmgenid) {
		a = vec_add(a, &n, "-device");
		a = vec_add(a, &n, "vmgenid,id=vmgenid0");
	}
	for (size_t i = 0; o && o->extra && o->extra[i]; i++)
		a = vec_add(a, &n, o->extra[i]);
	a = vec_add(a, &n, "-serial");
	snprintf(buf, sizeof(buf), "file:%s", v->console);
	a = vec_add(a, &n, buf);
	a = vec_add(a, &n, "-pidfile");
	a = vec_add(a, &n, v->pidfile);
	v->argv = a;
	return 0;
}

static void on_state(struct agent *a, enum agent_state st, void *arg)
{
	struct svm *v = arg;

	if (st == AGENT_READY && !v->agent_ready) {
		v->agent_ready = 1;
		v->t_agent = svm_now_ms();
	}
}

static void on_event(struct qmp_session *s, const char *name, struct json_object *data, int64_t sec,
		     int64_t usec, void *arg)
{
	struct svm *v = arg;

	if (v->agent)
		agent_qmp_event(v->agent, name, data);
}

static void on_qmp_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct svm *v = arg;

	if (err) {
		fprintf(stderr, "svm: QMP: %s\n", err->desc);
		v->qmp_failed = 1;
	} else {
		v->qmp_ready = 1;
	}
}

int svm_spawn(struct svm *v, struct event_base *base, int incoming, int state_fd, int cont)
{
	static const struct agent_callbacks cbs = {on_state, NULL};
	struct agent_config cfg = {.port_id = "qga0", .cmd_timeout_ms = 30000};
	struct qmp_error err;
	char **argv;
	size_t n = 0;
	int slot;

	for (slot = 0; slot < MAX_LIVE && live[slot]; slot++)
		;
	if (slot == MAX_LIVE)
		return -1;
	while (v->argv[n])
		n++;
	argv = calloc(n + 3, sizeof(*argv));
	memcpy(argv, v->argv, n * sizeof(*argv));
	if (incoming) {
		argv[n] = (char *)snap_restore_argv()[0];
		argv[n + 1] = (char *)snap_restore_argv()[1];
	}
	v->base = base;
	v->t_spawn = svm_now_ms();
	v->pid = fork();
	if (v->pid < 0) {
		free(argv);
		return -1;
	}
	if (v->pid == 0) {
		int log = open(v->errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int null = open("/dev/null", O_RDONLY);
		setpgid(0, 0);
		dup2(null, 0);
		dup2(log, 1);
		dup2(log, 2);
		if (state_fd >= 0 && state_fd != 3)
			dup2(state_fd, 3);
		/* only the state file (as 3) and stdio cross into qemu */
		for (int fd = state_fd >= 0 ? 4 : 3; fd < 1024; fd++)
			close(fd);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(v->pid, v->pid);
	free(argv);
	live[slot] = v;
	static int reg;
	if (!reg++)
		atexit(kill_all);

	v->agent = agent_new(base, v->qga_path, NULL, &cfg, &cbs, v);
	/* qemu makes its sockets a moment after exec */
	for (double end = svm_now_ms() + 60000; svm_now_ms() < end && v->pid > 0;) {
		v->qmp = qmp_session_new(base, QMP_KIND_QMP, NULL);
		if (qmp_connect(v->qmp, v->qmp_path, on_qmp_ready, v, &err) == 0)
			break;
		qmp_session_free(v->qmp);
		v->qmp = NULL;
		if (waitpid(v->pid, &v->exit_status, WNOHANG) == v->pid) {
			v->pid = 0;
			break;
		}
		usleep(10000);
	}
	if (!v->qmp)
		return -1;
	qmp_subscribe(v->qmp, on_event, v);
	svm_run_until(base, &v->qmp_ready, 60000);
	if (!v->qmp_ready)
		return -1;
	if (cont && qmp_call(v->qmp, "cont", NULL, 0, NULL, NULL, &err) < 0)
		return -1;
	return 0;
}

int svm_wait_agent(struct svm *v, unsigned ms)
{
	return svm_run_until(v->base, &v->agent_ready, ms) ? 0 : -1;
}

struct shres {
	int done, status, ok;
	char *out;
};

static void on_sh(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct shres *r = arg;

	if (err) {
		fprintf(stderr, "svm: guest-exec: %s: %s\n", err->cls, err->desc);
	} else {
		r->ok = 1;
		r->status = res->status;
		r->out = strndup(res->out ? (const char *)res->out : "", res->out_len);
	}
	r->done = 1;
}

int svm_sh(struct svm *v, const char *cmd, char **out, int *status, unsigned ms)
{
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct shres r = {0};
	struct qmp_error err;

	if (!agent_exec(v->agent, argv, NULL, 0, ms, on_sh, &r, &err)) {
		fprintf(stderr, "svm: %s\n", err.desc);
		return -1;
	}
	svm_run_until(v->base, &r.done, ms + 5000);
	if (!r.done || !r.ok) {
		free(r.out);
		return -1;
	}
	if (status)
		*status = r.status;
	if (out)
		*out = r.out;
	else
		free(r.out);
	return 0;
}

int svm_wait_exit(struct svm *v, unsigned ms)
{
	double end = svm_now_ms() + ms;

	while (v->pid > 0 && svm_now_ms() < end) {
		if (waitpid(v->pid, &v->exit_status, WNOHANG) == v->pid) {
			v->pid = 0;
			return 1;
		}
		usleep(20000);
	}
	return v->pid == 0;
}

static void remove_dir(struct svm *v)
{
	static const char *const files[] = {"qmp.sock", "qga.sock", "console.log", "qemu.log",
					    "qemu.pid"};
	char p[200];

	if (!v->dir[0])
		return;
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", v->dir, files[i]);
		unlink(p);
	}
	rmdir(v->dir);
	v->dir[0] = '\0';
}

void svm_stop(struct svm *v)
{
	if (v->agent)
		agent_free(v->agent);
	v->agent = NULL;
	if (v->qmp)
		qmp_session_free(v->qmp);
	v->qmp = NULL;
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == v)
			live[i] = NULL;
	if (v->pid > 0) {
		kill(-v->pid, SIGKILL);
		while (waitpid(v->pid, NULL, 0) < 0 && errno == EINTR)
			;
		v->pid = 0;
	}
	remove_dir(v);
	if (v->argv) {
		for (char **a = v->argv; *a; a++)
			free(*a);
		free(v->argv);
		v->argv = NULL;
	}
}
