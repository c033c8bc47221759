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
#include "bench/rawspawn.h"
#include "src/qemu/spawn.h"

#define WARM_NAME "benchwarm0"
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
	struct rs_tmpl t = {0};
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
	snprintf(vmdir, sizeof(vmdir), "%s/vm/%s", d.run, WARM_NAME);
	if (rs_tmpl_read(pid, WARM_NAME, vmdir, &t)) {
		err = strdup("cannot read the qemu command line vmsupd used");
		goto out;
	}
	if (bl_destroy(d.sock, WARM_NAME, &err))
		goto out;
	snprintf(dir, sizeof(dir), "%s/raw", d.dir);
	mkdir(dir, 0700);
	snprintf(dir, sizeof(dir), "%s/raw/warm", d.dir);
	if (rs_launch(&t, dir, "rawwarm", 0, &pid) < 0) {
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
				b = rs_launch(&t, dir, name, 0, &pid);
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
	rs_tmpl_free(&t);
	bl_daemon_stop(&d);
	curl_global_cleanup();
	return rc;
}
