/*
 * bench/launch: time from POST /v1/vms to a running guest-less VM, against
 * the bare minimum: a program that spawns the very same qemu argv (read back
 * from /proc/PID/cmdline of a VM vmsupd started) and does the QMP greeting,
 * qmp_capabilities and cont. Pairs alternate A B, B A, ... in one run.
 * Where virsh is installed, also vmctl against virsh (launch-virsh.c).
 *
 *   bench/launch [--quick] [-n PAIRS]      (default 20 pairs, --quick 3)
 *
 * Starts its own vmsupd (VMSUPD, else src/daemon/vmsupd) in a temp dir.
 * Owned by the bench module (bench/local.mk); bench/vmsupd-launch is the
 * vmsupd module's own, simpler variant.
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

#include <curl/curl.h>

#include "bench/benchlib.h"
#include "bench/launch-virsh.h"
#include "src/qemu/spawn.h"

#define WARM_NAME "benchwarm0"
#define MAX_ARGS  256

struct tmpl {
	char *argv[MAX_ARGS];
	int argc;
	char vmdir[256]; /* the run dir vmsupd gave WARM_NAME */
};

static int read_cmdline(pid_t pid, struct tmpl *t)
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
	for (size_t i = 0; i < n && t->argc < MAX_ARGS - 1; i += strlen(buf + i) + 1)
		t->argv[t->argc++] = strdup(buf + i);
	t->argv[t->argc] = NULL;
	free(buf);
	return t->argc > 0 ? 0 : -1;
}

static void tmpl_free(struct tmpl *t)
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

/*
 * The baseline: the template argv for a VM called name in dir, spawned and
 * driven to running. Returns the time taken in ms, or -1; *pid is the qemu.
 */
static double raw_launch(const struct tmpl *t, const char *dir, const char *name, pid_t *pid)
{
	char *argv[MAX_ARGS] = {0}, guest[128], qmp[384], log[384], from_port[64], to_port[64];
	struct bl_raw r = {.fd = -1};
	double t0, t1 = -1, end;
	int port = vm_free_port(NULL);

	*pid = 0;
	snprintf(guest, sizeof(guest), "guest=%s", name);
	snprintf(to_port, sizeof(to_port), "127.0.0.1:%d-", port);
	for (int i = 0; i < t->argc; i++) {
		char *a = replace(t->argv[i], t->vmdir, dir), *b;

		if (a && !strcmp(a, "guest=" WARM_NAME)) {
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
	bl_raw_call(&r, "{\"execute\":\"quit\"}\n", 5000);
out:
	bl_raw_close(&r);
	if (*pid > 0) {
		double dl = bl_now_ms() + 10000;

		while (waitpid(*pid, NULL, WNOHANG) == 0) {
			if (bl_now_ms() > dl) {
				kill(*pid, SIGKILL);
				waitpid(*pid, NULL, 0);
				break;
			}
			bl_sleep_ms(5);
		}
		bl_untrack_pid(*pid);
	}
	for (int i = 0; i < MAX_ARGS; i++)
		free(argv[i]);
	return t1;
}

static double api_launch(const char *sock, const char *name, char *accel, size_t alen, char **err)
{
	double t0 = bl_now_ms(), t;

	if (bl_create_guestless(sock, name, 64, NULL, accel, alen, NULL, 0, err))
		return -1;
	t = bl_now_ms() - t0;
	if (bl_destroy(sock, name, err))
		return -1;
	return t;
}

static void report(const char *metric, const struct bl_stats *a, const struct bl_stats *b,
		   const char *goal, int p99)
{
	char sa[128], sb[128], note[300];

	snprintf(note, sizeof(note), "API %s; raw %s", bl_spread(a, sa, sizeof(sa)),
		 bl_spread(b, sb, sizeof(sb)));
	bl_result("launch", metric, p99 ? a->p99 : a->median, "ms", p99 ? b->p99 : b->median, goal,
		  note);
}

int main(int argc, char **argv)
{
	static struct bl_daemon d;
	struct bl_opts o;
	struct tmpl t = {0};
	struct bl_stats sa, sb;
	double *api = NULL, *raw = NULL;
	char *err = NULL, accel[32] = "", la0[64], la1[64], name[64], dir[300], vmdir[256];
	int pairs, ok = 0, rc = 1, n;
	pid_t pid;

	if ((n = bl_parse_opts(argc, argv, "launch [--quick] [-n PAIRS]", &o)) < 0)
		return n == -2 ? 0 : 2;
	pairs = o.n ? o.n : o.quick ? 3 : 20;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	bl_cleanup_install(&d);
	bl_loadavg(la0, sizeof(la0));
	if (bl_daemon_start(&d, NULL, &err))
		goto out;
	/* warm-up, and the argv vmsupd uses, for the baseline to spawn */
	if (bl_create_guestless(d.sock, WARM_NAME, 64, &pid, accel, sizeof(accel), NULL, 0, &err))
		goto out;
	if (read_cmdline(pid, &t)) {
		err = strdup("cannot read the qemu command line vmsupd used");
		goto out;
	}
	snprintf(vmdir, sizeof(vmdir), "%s/vm/%s", d.run, WARM_NAME);
	snprintf(t.vmdir, sizeof(t.vmdir), "%s", vmdir);
	if (bl_destroy(d.sock, WARM_NAME, &err))
		goto out;
	snprintf(dir, sizeof(dir), "%s/raw", d.dir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/raw/warm", d.dir);
	if (raw_launch(&t, dir, "rawwarm", &pid) < 0) {
		err = strdup("the baseline qemu did not reach running (see its qemu.log; "
			     "BENCH_KEEP=1 keeps the temp dir)");
		goto out;
	}

	api = calloc((size_t)pairs, sizeof(double));
	raw = calloc((size_t)pairs, sizeof(double));
	if (!api || !raw)
		goto out;
	for (int i = 0; i < pairs; i++) {
		double a = -1, b = -1;

		for (int k = 0; k < 2; k++) {
			/* A B, then B A: neither side always runs on a warmer cache */
			if ((k == 0) == (i % 2 == 0)) {
				snprintf(name, sizeof(name), "api%d", i);
				a = api_launch(d.sock, name, accel, sizeof(accel), &err);
				if (a < 0)
					goto out;
			} else {
				snprintf(dir, sizeof(dir), "%s/raw/r%d", d.dir, i);
				snprintf(name, sizeof(name), "raw%d", i);
				b = raw_launch(&t, dir, name, &pid);
				if (b < 0) {
					err = strdup("the baseline qemu did not reach running");
					goto out;
				}
			}
		}
		fprintf(stderr, "launch: pair %d: API %.1f ms, raw %.1f ms\n", i, a, b);
		api[ok] = a;
		raw[ok] = b;
		ok++;
	}
	bl_stats(api, ok, &sa);
	bl_stats(raw, ok, &sb);
	bl_loadavg(la1, sizeof(la1));
	bl_info("accel", accel);
	{
		char note[160];

		snprintf(note, sizeof(note), "load %s -> %s", la0, la1);
		bl_info("launch.load", note);
	}
	report("POST /v1/vms -> running, median (baseline: spawn + QMP caps + cont)", &sa, &sb,
	       "<= 1.10x", 0);
	report("POST /v1/vms -> running, p99", &sa, &sb, NULL, 1);
	{
		/* the same shape as vmsupd's guest-less VM: its -smp, 64 MiB */
		struct lv_params lp = {.sock = d.sock,
				       .accel = accel,
				       .mem_mib = 64,
				       .cpus = 1,
				       .pairs = pairs,
				       .calls = o.quick ? 5 : 50};

		for (int i = 0; i + 1 < t.argc; i++)
			if (!strcmp(t.argv[i], "-smp"))
				lp.cpus =
				    atoi(strncmp(t.argv[i + 1], "cpus=", 5) ? t.argv[i + 1]
									    : t.argv[i + 1] + 5);
		if (lp.cpus < 1)
			lp.cpus = 1;
		/* an optional baseline: a broken libvirt is a note, not a failed bench */
		if (lv_run(&lp, &err) < 0) {
			char note[400];

			snprintf(note, sizeof(note), "not measured: %s", err ? err : "failed");
			bl_info("launch.virsh", note);
			free(err);
			err = NULL;
		}
	}
	rc = 0;
out:
	if (err)
		fprintf(stderr, "launch: %s\n", err);
	free(err);
	free(api);
	free(raw);
	tmpl_free(&t);
	bl_daemon_stop(&d);
	curl_global_cleanup();
	return rc;
}
