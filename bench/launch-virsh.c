/*
 * libvirt side by side with vmctl: see launch-virsh.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "bench/launch-virsh.h"

#define MAX_DOMS 64

struct lv {
	char dir[128]; /* XDG_* of the session daemon, and the domain XMLs */
	uid_t uid;     /* virsh's user; (uid_t)-1: this one */
	gid_t gid;
	char *doms[MAX_DOMS]; /* domains created and not yet destroyed */
	pid_t daemons[2];     /* libvirtd, virtlogd once seen */
};

/*
 * Run argv (output to log) as virsh's user with the private XDG dirs when
 * as_virsh; the time from fork to exit in ms, or -1 when it failed.
 */
static double run(const struct lv *l, int as_virsh, char *const argv[])
{
	char log[200];
	double t0 = bl_now_ms();
	int status;
	pid_t pid;

	snprintf(log, sizeof(log), "%s/%s.log", l->dir, as_virsh ? "virsh" : "vmctl");
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		char env[200];

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (as_virsh) {
			if (l->uid != (uid_t)-1 &&
			    (setgroups(0, NULL) || setgid(l->gid) || setuid(l->uid)))
				_exit(126);
			setenv("HOME", l->dir, 1);
			snprintf(env, sizeof(env), "%s/run", l->dir);
			setenv("XDG_RUNTIME_DIR", env, 1);
			snprintf(env, sizeof(env), "%s/config", l->dir);
			setenv("XDG_CONFIG_HOME", env, 1);
			snprintf(env, sizeof(env), "%s/cache", l->dir);
			setenv("XDG_CACHE_HOME", env, 1);
		} else {
			bl_vmctl_child_env(argv[0]);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	bl_track_pid(pid);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	bl_untrack_pid(pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return bl_now_ms() - t0;
}

static double virsh(const struct lv *l, const char *cmd, const char *a1, const char *a2)
{
	char *argv[] = {"virsh",     "-q",	 "-c",	     "qemu:///session",
			(char *)cmd, (char *)a1, (char *)a2, NULL};

	return run(l, 1, argv);
}

static pid_t read_pid(const struct lv *l, const char *rel)
{
	char path[300];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/run/libvirt/%s", l->dir, rel);
	if ((f = fopen(path, "re"))) {
		if (fscanf(f, "%d", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	return (pid_t)pid;
}

/* The daemons virsh autostarted: tracked, so that a signal kills them too. */
static void track_daemons(struct lv *l)
{
	static const char *const files[] = {"libvirtd.pid", "virtlogd.pid"};

	for (int i = 0; i < 2; i++)
		if (!l->daemons[i] && (l->daemons[i] = read_pid(l, files[i])) > 0)
			bl_track_pid(l->daemons[i]);
}

/* virsh create of a domain like vmsupd's guest-less VM; ms or -1. */
static double virsh_create(struct lv *l, const struct lv_params *p, const char *name)
{
	char xml[300], rel[200];
	double t;
	FILE *f;
	int slot = -1;
	pid_t qemu;

	for (int i = 0; i < MAX_DOMS && slot < 0; i++)
		if (!l->doms[i])
			slot = i;
	snprintf(xml, sizeof(xml), "%s/%s.xml", l->dir, name);
	if (slot < 0 || !(f = fopen(xml, "we")))
		return -1;
	/* no disk, no kernel, no NIC: what vmsupd's guest-less create runs */
	fprintf(f,
		"<domain type='%s'><name>%s</name>"
		"<memory unit='MiB'>%d</memory><vcpu>%d</vcpu>"
		"<os><type arch='x86_64'>hvm</type></os>"
		"<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>\n",
		strcmp(p->accel, "kvm") ? "qemu" : "kvm", name, p->mem_mib, p->cpus);
	fclose(f);
	chmod(xml, 0644);
	t = virsh(l, "create", xml, NULL);
	if (t < 0)
		return -1;
	l->doms[slot] = strdup(name);
	snprintf(rel, sizeof(rel), "qemu/run/%s.pid", name);
	if ((qemu = read_pid(l, rel)) > 0)
		bl_track_pid(qemu);
	track_daemons(l);
	return t;
}

static int virsh_destroy(struct lv *l, const char *name)
{
	char rel[200];
	pid_t qemu;
	int rc;

	snprintf(rel, sizeof(rel), "qemu/run/%s.pid", name);
	qemu = read_pid(l, rel);
	rc = virsh(l, "destroy", name, NULL) < 0 ? -1 : 0;
	if (qemu > 0 && rc == 0)
		bl_untrack_pid(qemu);
	for (int i = 0; i < MAX_DOMS; i++)
		if (l->doms[i] && !strcmp(l->doms[i], name)) {
			free(l->doms[i]);
			l->doms[i] = NULL;
		}
	return rc;
}

static double vmctl_create(const struct lv_params *p, const struct lv *l, const char *name)
{
	char mem[16], cpus[16];
	char *argv[] = {(char *)bl_vmctl_path(),
			"--socket",
			(char *)p->sock,
			"-q",
			"create",
			(char *)name,
			"--no-guest",
			"--mem",
			mem,
			"--cpus",
			cpus,
			"--accel",
			(char *)p->accel,
			NULL};

	snprintf(mem, sizeof(mem), "%d", p->mem_mib);
	snprintf(cpus, sizeof(cpus), "%d", p->cpus);
	return run(l, 0, argv);
}

static double vmctl_qmp(const struct lv_params *p, const struct lv *l, const char *name)
{
	char *argv[] = {(char *)bl_vmctl_path(), "--socket", (char *)p->sock, "qmp", (char *)name,
			"query-status",		 NULL};

	return run(l, 0, argv);
}

static char hook_dir[128]; /* the session's dir, for on_signal */

/*
 * On a signal: a qemu that virsh create started and whose pid was not read
 * yet is only named by its pidfile, so kill every domain's qemu by pidfile.
 */
static void kill_domains(void)
{
	char path[400];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/run/libvirt/qemu/run", hook_dir);
	if (!hook_dir[0] || !(d = opendir(path)))
		return;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char rel[700];
		pid_t pid;

		if (n < 5 || strcmp(e->d_name + n - 4, ".pid") || !strcmp(e->d_name, "driver.pid"))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", path, e->d_name);
		{
			FILE *f = fopen(rel, "re");
			int p = 0;

			if (f) {
				if (fscanf(f, "%d", &p) != 1)
					p = 0;
				fclose(f);
			}
			pid = (pid_t)p;
		}
		if (pid > 0)
			kill(pid, SIGKILL);
	}
	closedir(d);
}

/* Every domain destroyed, the session daemon and virtlogd stopped. */
static void lv_stop(struct lv *l, int keep_logs)
{
	for (int i = 0; i < MAX_DOMS; i++)
		if (l->doms[i])
			virsh_destroy(l, l->doms[i]);
	track_daemons(l);
	for (int i = 0; i < 2; i++) {
		pid_t pid = l->daemons[i];

		if (pid <= 0)
			continue;
		/* not our children (they daemonized): poll until gone */
		kill(pid, SIGTERM);
		for (int k = 0; k < 500 && kill(pid, 0) == 0; k++)
			bl_sleep_ms(10);
		if (kill(pid, 0) == 0)
			kill(pid, SIGKILL);
		bl_untrack_pid(pid);
		l->daemons[i] = 0;
	}
	kill_domains(); /* any the daemon lost track of */
	hook_dir[0] = 0;
	if (keep_logs)
		fprintf(stderr, "launch: virsh logs kept in %s\n", l->dir);
	else
		bl_rmrf(l->dir);
}

static void report(const char *metric, double *v, double *b, int n, const char *base_name)
{
	struct bl_stats sv, sb;
	char s1[128], s2[128], note[320];

	bl_stats(v, n, &sv);
	bl_stats(b, n, &sb);
	snprintf(note, sizeof(note), "vmctl %s; %s %s", bl_spread(&sv, s1, sizeof(s1)), base_name,
		 bl_spread(&sb, s2, sizeof(s2)));
	bl_result("launch", metric, sv.median, "ms", sb.median, NULL, note);
	snprintf(note, sizeof(note), "%s p99", metric);
	bl_result("launch", note, sv.p99, "ms", sb.p99, NULL, "same runs");
}

static int fail(char **err, const char *what, const struct lv *l)
{
	if (asprintf(err, "%s failed (see %s/virsh.log, vmctl.log)", what, l->dir) < 0)
		*err = NULL;
	return -1;
}

/* A B, B A: which side goes first in round i. */
#define VMCTL_FIRST(i, k) (((k) == 0) == ((i) % 2 == 0))

static int measure(struct lv *l, const struct lv_params *p, double *a, double *b, char **err)
{
	char name[64];

	/* warm-up: autostarts the session daemon, pages both CLIs in */
	if (virsh_create(l, p, "lvwarm") < 0 || virsh_destroy(l, "lvwarm"))
		return fail(err, "virsh create (warm-up)", l);
	if (vmctl_create(p, l, "lvwarm") < 0 || bl_destroy(p->sock, "lvwarm", err))
		return *err ? -1 : fail(err, "vmctl create (warm-up)", l);
	for (int i = 0; i < p->pairs; i++) {
		for (int k = 0; k < 2; k++) {
			snprintf(name, sizeof(name), "lv%s%d", VMCTL_FIRST(i, k) ? "c" : "v", i);
			if (VMCTL_FIRST(i, k)) {
				if ((a[i] = vmctl_create(p, l, name)) < 0)
					return fail(err, "vmctl create", l);
				if (bl_destroy(p->sock, name, err))
					return -1;
			} else {
				if ((b[i] = virsh_create(l, p, name)) < 0)
					return fail(err, "virsh create", l);
				if (virsh_destroy(l, name))
					return fail(err, "virsh destroy", l);
			}
		}
		fprintf(stderr,
			"launch: virsh pair %d: vmctl create %.1f ms, virsh create %.1f ms\n", i,
			a[i], b[i]);
	}
	report("vmctl create --no-guest (baseline: virsh create)", a, b, p->pairs, "virsh");

	if (vmctl_create(p, l, "lvq") < 0)
		return fail(err, "vmctl create", l);
	if (virsh_create(l, p, "lvq") < 0)
		return fail(err, "virsh create", l);
	for (int i = 0; i < p->calls; i++)
		for (int k = 0; k < 2; k++) {
			if (VMCTL_FIRST(i, k))
				a[i] = vmctl_qmp(p, l, "lvq");
			else
				b[i] = virsh(l, "qemu-monitor-command", "lvq",
					     "{\"execute\":\"query-status\"}");
			if (a[i] < 0 || b[i] < 0)
				return fail(err, "query-status", l);
		}
	report("vmctl qmp query-status (baseline: virsh qemu-monitor-command)", a, b, p->calls,
	       "virsh");
	return bl_destroy(p->sock, "lvq", err);
}

/* Whether virsh's user may open /dev/kvm (libvirt's kvm domains need it). */
static bool kvm_open_to(const struct lv *l)
{
	pid_t pid;
	int st;

	if (l->uid == (uid_t)-1)
		return access("/dev/kvm", R_OK | W_OK) == 0;
	if ((pid = fork()) == 0) {
		if (setgroups(0, NULL) || setgid(l->gid) || setuid(l->uid))
			_exit(1);
		_exit(open("/dev/kvm", O_RDWR | O_CLOEXEC) < 0);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

int lv_run(const struct lv_params *p, char **err)
{
	struct lv l = {.uid = (uid_t)-1};
	int n = p->pairs > p->calls ? p->pairs : p->calls, rc;
	struct lv_params q = *p;
	double *a, *b;

	if (system("command -v virsh >/dev/null 2>&1") != 0) {
		bl_info("launch.virsh",
			"not measured: virsh is not installed (optional baseline: "
			"libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)");
		return 1;
	}
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("nobody");

		if (!pw) {
			bl_info("launch.virsh", "not measured: run as root and there is no user "
						"'nobody' to run a libvirt session daemon as");
			return 1;
		}
		l.uid = pw->pw_uid;
		l.gid = pw->pw_gid;
	}
	/* /dev/kvm is often root's alone: then both sides run TCG, not libvirt
	 * failing ("could not get preferred machine ... type=kvm") */
	if (!strcmp(p->accel, "kvm") && !kvm_open_to(&l)) {
		bl_info("launch.virsh_accel",
			"tcg for vmctl and virsh alike: /dev/kvm is not open to virsh's user");
		q.accel = "tcg";
	}
	p = &q;
	snprintf(l.dir, sizeof(l.dir), "/tmp/vmsup-bench-virsh-XXXXXX");
	if (!mkdtemp(l.dir)) {
		if (asprintf(err, "mkdtemp: %s", strerror(errno)) < 0)
			*err = NULL;
		return -1;
	}
	snprintf(hook_dir, sizeof(hook_dir), "%s", l.dir);
	bl_cleanup_hook(kill_domains);
	/* the session daemon's user must own its XDG dirs */
	if (l.uid != (uid_t)-1 && (chown(l.dir, l.uid, l.gid) || chmod(l.dir, 0755))) {
		if (asprintf(err, "chown %s: %s", l.dir, strerror(errno)) < 0)
			*err = NULL;
		lv_stop(&l, 0);
		return -1;
	}
	a = calloc((size_t)n, sizeof(double));
	b = calloc((size_t)n, sizeof(double));
	rc = a && b ? measure(&l, p, a, b, err) : -1;
	lv_stop(&l, getenv("BENCH_KEEP") != NULL);
	free(a);
	free(b);
	return rc;
}
