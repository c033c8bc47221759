/*
 * The bare-spawn baseline shared by bench/launch and bench/scale (see
 * rawspawn.h): what a minimal program does to run the argv vmsupd used.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "bench/rawspawn.h"
#include "src/qemu/spawn.h"

/* Waits up to 10 s for pid to exit (after sig, if any), then kills it. */
static void wait_gone(pid_t pid, int sig)
{
	double dl = bl_now_ms() + 10000;

	if (sig)
		kill(pid, sig);
	while (waitpid(pid, NULL, WNOHANG) == 0) {
		if (bl_now_ms() > dl) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			break;
		}
		bl_sleep_ms(5);
	}
	bl_untrack_pid(pid);
}

void rs_reap(pid_t pid)
{
	if (pid > 0)
		wait_gone(pid, SIGTERM);
}

static int read_cmdline(pid_t pid, struct rs_tmpl *t)
{
	char path[64], *buf = NULL;
	size_t len = 0, n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	n = getdelim(&buf, &len, EOF, f) > 0 ? (size_t)ftell(f) : 0;
	fclose(f);
	t->argc = 0;
	for (size_t i = 0; i < n && t->argc < RS_MAX_ARGS - 1; i += strlen(buf + i) + 1)
		t->argv[t->argc++] = strdup(buf + i);
	t->argv[t->argc] = NULL;
	free(buf);
	return t->argc > 0 ? 0 : -1;
}

void rs_tmpl_free(struct rs_tmpl *t)
{
	for (int i = 0; i < t->argc; i++)
		free(t->argv[i]);
	t->argc = 0;
}

/* s with every occurrence of from (non-empty) replaced by to (new string) */
static char *replace(const char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to), n = 0;
	const char *p;
	char *r, *d;

	if (!fl)
		return strdup(s);
	for (p = s; (p = strstr(p, from)); p += fl)
		n++;
	if (!(r = malloc(strlen(s) + n * (tl + 1) + 1)))
		return NULL;
	for (d = r, p = s;;) {
		const char *q = strstr(p, from);

		if (!q) {
			strcpy(d, p);
			break;
		}
		memcpy(d, p, (size_t)(q - p));
		d += q - p;
		memcpy(d, to, tl);
		d += tl;
		p = q + fl;
	}
	return r;
}

double rs_launch(const struct rs_tmpl *t, const char *dir, const char *name, int keep, pid_t *pid)
{
	char *argv[RS_MAX_ARGS] = {0}, guest[128], qmp[384], log[384], from_port[64], to_port[64];
	struct bl_raw r = {.fd = -1};
	double t0, t1 = -1, end;
	int port = vm_free_port(NULL, NULL);

	*pid = 0;
	snprintf(guest, sizeof(guest), "guest=%s", name);
	snprintf(to_port, sizeof(to_port), "127.0.0.1:%d-", port);
	for (int i = 0; i < t->argc; i++) {
		char *a = replace(t->argv[i], t->vmdir, dir), *b;

		if (a && !strncmp(a, "guest=", 6) && !strcmp(a + 6, t->name)) {
			free(a);
			a = strdup(guest);
		}
		if (a && (b = strstr(a, "hostfwd=tcp:127.0.0.1:"))) {
			char *c;

			/* the port vmsupd chose may be taken by now: use a free one */
			snprintf(from_port, sizeof(from_port), "127.0.0.1:%d-",
				 atoi(b + strlen("hostfwd=tcp:127.0.0.1:")));
			c = replace(a, from_port, to_port);
			free(a);
			a = c;
		}
		if (!a)
			goto out;
		argv[i] = a;
	}
	snprintf(qmp, sizeof(qmp), "%s/qmp.sock", dir);
	snprintf(log, sizeof(log), "%s/qemu.log", dir);

	t0 = bl_now_ms();
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto out;
	*pid = fork();
	if (*pid < 0) {
		*pid = 0;
		goto out;
	}
	if (*pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600),
		    nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		setsid();
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (nul >= 0)
			dup2(nul, 0);
		if (t->cg_dir[0]) {
			char procs[340];
			int cg;

			snprintf(procs, sizeof(procs), "%s/cgroup.procs", t->cg_dir);
			if ((cg = open(procs, O_WRONLY | O_CLOEXEC)) < 0 || write(cg, "0", 1) != 1)
				_exit(126);
			close(cg);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	bl_track_pid(*pid);
	/* as a minimal client would: retry the monitor socket until qemu made it */
	end = t0 + 60000;
	while (bl_raw_open(&r, qmp, end - bl_now_ms()) < 0) {
		if (bl_now_ms() > end || waitpid(*pid, NULL, WNOHANG) == *pid)
			goto out;
		bl_sleep_ms(1);
	}
	if (bl_raw_call(&r, "{\"execute\":\"cont\"}\n", 30000) == 0)
		t1 = bl_now_ms() - t0;
	if (!keep || t1 < 0)
		bl_raw_call(&r, "{\"execute\":\"quit\"}\n", 5000);
out:
	bl_raw_close(&r);
	if (*pid > 0 && (!keep || t1 < 0)) {
		wait_gone(*pid, 0);
		*pid = 0;
	}
	for (int i = 0; i < RS_MAX_ARGS; i++)
		free(argv[i]);
	return t1;
}

int rs_tmpl_read(pid_t pid, const char *name, const char *vmdir, struct rs_tmpl *t)
{
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->vmdir, sizeof(t->vmdir), "%s", vmdir);
	return read_cmdline(pid, t);
}

int rs_cgroup_like(pid_t pid, struct rs_tmpl *t, char *note, size_t len)
{
	static const char *const v1[] = {"/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu,cpuacct", NULL};
	char path[64], line[512], rel[400] = "", *mount = NULL;
	FILE *f;

	t->cg_dir[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(path, "re"))) {
		snprintf(note, len, "%s: %s", path, strerror(errno));
		return -1;
	}
	/* v1: "N:cpu,cpuacct:/vmsupd-X/vm-Y" (cpu among the controllers); v2: "0::/..." */
	while (fgets(line, sizeof(line), f)) {
		char *c = strchr(line, ':'), *p = c ? strchr(c + 1, ':') : NULL;
		char ctl[128];

		if (!p)
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(ctl, sizeof(ctl), ",%.*s,", (int)(p - c - 1), c + 1);
		if (strstr(ctl, ",cpu,")) {
			snprintf(rel, sizeof(rel), "%s", p + 1);
			for (int i = 0; v1[i] && !mount; i++)
				if (!access(v1[i], F_OK))
					mount = (char *)v1[i];
			break;
		}
		if (!strcmp(ctl, ",,") && !rel[0]) {
			snprintf(rel, sizeof(rel), "%s", p + 1);
			mount = "/sys/fs/cgroup";
		}
	}
	fclose(f);
	/* the daemon's group is the parent of the VM's: ours goes beside it */
	for (int k = 0; k < 2; k++) {
		char *sl = strrchr(rel, '/');

		if (!sl)
			break;
		*sl = '\0';
	}
	if (!mount || (rel[0] && rel[0] != '/')) {
		snprintf(note, len, "no cpu cgroup found for pid %d", (int)pid);
		return -1;
	}
	snprintf(t->cg_dir, sizeof(t->cg_dir), "%s%s/vmsup-bench-raw-%d", mount, rel,
		 (int)getpid());
	if (mkdir(t->cg_dir, 0755) < 0 && errno != EEXIST) {
		snprintf(note, len, "%s: %s", t->cg_dir, strerror(errno));
		t->cg_dir[0] = '\0';
		return -1;
	}
	snprintf(note, len, "bare spawns in %s", t->cg_dir);
	return 0;
}

void rs_cgroup_remove(struct rs_tmpl *t)
{
	if (t->cg_dir[0])
		rmdir(t->cg_dir);
	t->cg_dir[0] = '\0';
}
