/*
 * bench/pool: the warm pool against its alternatives, interleaved in one
 * run on the test guest (TCG), through a private vmsupd with pool_size 1:
 *   - `vmctl run --pool --via agent -- true` (a paused pool VM taken),
 *   - `vmctl run --via agent -- true` (a cold boot),
 *   - POST /v1/vms {"from": template} -> agent ready (GET ip?wait),
 * wall clock of each, median of N (default 5). The pool is refilled (and
 * waited for) before each pool run, so each run takes a ready VM. Also
 * where the clone refresh is paid: the fill time of each pool member
 * (restore, refresh, pause) and the refresh of each restored VM (clock,
 * reseed, identity: the status's template.refresh.ms).
 *
 * With BENCH_DISTRO=DIR (scripts/mkdistro.sh's image) the same on the
 * Debian systemd guest booted from DIR/disk.raw (issue 21): every VM writes
 * an overlay of its own, the template keeps its disk; and the create of a
 * VM with a disk (its overlay made, not started) against a guest-less one.
 */
#include "config.h"

#include "bench/benchlib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *BENCH = "pool";
/* BENCH_DISTRO: the image's dir, and the spec fields that boot it */
static const char *distro;
static char distro_append[512];

/* `vmctl --socket S run [--pool] --via agent -- true`: wall ms, or -1.
 * On the distro, a cold run boots the image with its own kernel. */
static double run_true(const char *sock, int pool)
{
	char k[600], i[600], a[600], dk[600];
	const char *argv[24];
	int n = 0, st;
	double t0 = bl_now_ms();
	pid_t pid;

	argv[n++] = bl_vmctl_path();
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n++] = "run";
	argv[n++] = "--via";
	argv[n++] = "agent";
	if (pool) {
		argv[n++] = "--pool";
	} else if (distro) {
		snprintf(k, sizeof(k), "--kernel=%s/vmlinuz", distro);
		snprintf(i, sizeof(i), "--initrd=%s/initrd.img", distro);
		snprintf(a, sizeof(a), "--append=%s", distro_append);
		snprintf(dk, sizeof(dk), "--disk=%s/disk.raw:raw", distro);
		argv[n++] = k;
		argv[n++] = i;
		argv[n++] = a;
		argv[n++] = dk;
	}
	argv[n++] = "--";
	argv[n++] = "true";
	argv[n] = NULL;
	pid = fork();

	if (pid == 0) {
		bl_vmctl_child_env(argv[0]);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st)) {
		fprintf(stderr, "%s: vmctl run%s failed\n", BENCH, pool ? " --pool" : "");
		return -1;
	}
	return bl_now_ms() - t0;
}

static int wait_pool_ready(const char *sock, double timeout_ms)
{
	double end = bl_now_ms() + timeout_ms;

	while (bl_now_ms() < end) {
		struct json_object *r = NULL, *v;
		long st = 0;
		char *err = NULL;
		int ready = 0;

		if (bl_api(sock, "GET", "/v1/pool", NULL, &st, &r, &err) == 0 && st == 200 &&
		    json_object_object_get_ex(r, "ready", &v))
			ready = json_object_get_int(v);
		json_object_put(r);
		free(err);
		if (ready > 0)
			return 0;
		bl_sleep_ms(100);
	}
	fprintf(stderr, "%s: the pool did not fill\n", BENCH);
	return -1;
}

/* A number under o's path a/b (NULL b: o's own a), or -1 (absent: an older daemon). */
static double num(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, a, &v) || (b && !json_object_object_get_ex(v, b, &v)) ||
	    !v)
		return -1;
	return json_object_get_double(v);
}

/* The ready member's ready_ms (restored, refreshed, paused), or -1. */
static double fill_ms(const char *sock)
{
	struct json_object *r = NULL, *m;
	char *err = NULL;
	long st = 0;
	double ms = -1;

	if (bl_api(sock, "GET", "/v1/pool", NULL, &st, &r, &err) == 0 && st == 200 &&
	    json_object_object_get_ex(r, "members", &m) && json_object_array_length(m) > 0)
		ms = num(json_object_array_get_idx(m, 0), "ready_ms", NULL);
	json_object_put(r);
	free(err);
	return ms;
}

/* The restored VM's refresh (clock, reseed, identity) once reported: its
 * "ms", or -1 (not reported in 30 s, or a daemon without the field). */
static double refresh_ms(const char *sock, const char *name)
{
	char path[128];
	double end = bl_now_ms() + 30000, ms = -1;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	while (ms < 0 && bl_now_ms() < end) {
		struct json_object *r = NULL, *t;
		char *err = NULL;
		long st = 0;
		int done = 0;

		if (bl_api(sock, "GET", path, NULL, &st, &r, &err) == 0 && st == 200 &&
		    json_object_object_get_ex(r, "template", &t) &&
		    json_object_object_get_ex(t, "refresh", &t) && t) {
			ms = num(t, "ms", NULL);
			done = 1;
		}
		json_object_put(r);
		free(err);
		if (done)
			break;
		bl_sleep_ms(50);
	}
	return ms;
}

/* POST /v1/vms from the template, then GET ip?wait: ms to a ready agent, or
 * -1; *refresh: the refresh that follows (refresh_ms). */
static double from_template(const char *sock, int i, double *refresh)
{
	char body[128], path[128], name[32], *err = NULL;
	struct json_object *r = NULL;
	long st = 0;
	double t0 = bl_now_ms(), ms = -1;

	snprintf(name, sizeof(name), "tmpl-%d", i);
	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"from\":\"bench\"}", name);
	if (bl_api(sock, "POST", "/v1/vms", body, &st, &r, &err) < 0 || st != 201)
		goto out;
	json_object_put(r);
	r = NULL;
	snprintf(path, sizeof(path), "/v1/vms/%s/ip?wait=120", name);
	if (bl_api(sock, "GET", path, NULL, &st, &r, &err) < 0 || st != 200)
		goto out;
	ms = bl_now_ms() - t0;
	*refresh = refresh_ms(sock, name);
out:
	if (ms < 0)
		fprintf(stderr, "%s: restore from the template: HTTP %ld %s\n", BENCH, st,
			err ? err : "");
	json_object_put(r);
	free(err);
	err = NULL;
	if (bl_destroy(sock, name, &err) < 0)
		free(err);
	return ms;
}

/* The spec fields that boot the distro image (kernel, initrd, append, disk). */
static void distro_fields(struct json_object *o)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/vmlinuz", distro);
	json_object_object_add(o, "kernel", json_object_new_string(path));
	snprintf(path, sizeof(path), "%s/initrd.img", distro);
	json_object_object_add(o, "initrd", json_object_new_string(path));
	json_object_object_add(o, "append", json_object_new_string(distro_append));
	snprintf(path, sizeof(path), "%s/disk.raw", distro);
	json_object_object_add(o, "disk", json_object_new_string(path));
	json_object_object_add(o, "disk_format", json_object_new_string("raw"));
}

/* POST /v1/vms, not started: with the distro's disk (its overlay made) or
 * guest-less; ms to the 201, or -1. The VM is destroyed after. */
static double create_ms(const char *sock, int i, int disk)
{
	struct json_object *o = json_object_new_object(), *r = NULL;
	char name[32], *err = NULL;
	double t0, ms = -1;
	long st = 0;

	snprintf(name, sizeof(name), "c%d-%d", disk, i);
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "start", json_object_new_boolean(0));
	if (disk)
		distro_fields(o);
	else
		json_object_object_add(o, "guest", json_object_new_boolean(0));
	t0 = bl_now_ms();
	if (bl_api(sock, "POST", "/v1/vms", json_object_to_json_string(o), &st, &r, &err) == 0 &&
	    st == 201)
		ms = bl_now_ms() - t0;
	json_object_put(o);
	json_object_put(r);
	free(err);
	err = NULL;
	if (bl_destroy(sock, name, &err) < 0)
		free(err);
	return ms;
}

static int distro_init(void)
{
	distro = getenv("BENCH_DISTRO");
	if (!distro || !*distro) {
		distro = NULL;
		return 0;
	}
	BENCH = "pool-distro";
	if (bl_guest_append(distro, distro_append, sizeof(distro_append)) < 0) {
		fprintf(stderr, "%s: %s/append: no kernel command line (scripts/mkdistro.sh)\n",
			BENCH, distro);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct bl_opts o;
	struct bl_daemon d = {0};
	const char *g = getenv("VMSUP_GUEST_DIR");
	char conf[2048], *err = NULL, note[160], load[64], append[512] = "console=ttyS0";
	double pool[64], cold[64], tmpl[64], fill[64], refresh[64], cdisk[64], cbare[64];
	struct bl_stats sp, sc, st, sf, sr, sd, sb;
	struct json_object *tb = json_object_new_object();
	struct json_object *r = NULL;
	long status = 0;
	int n, rc;

	rc = bl_parse_opts(argc, argv, "bench/pool [--quick] [-n N]", &o);
	if (rc)
		return rc == -2 ? 0 : 2;
	n = o.n ? o.n : o.quick ? 1 : 5;
	n = n > 64 ? 64 : n;
	if (!g || access(g, R_OK))
		g = "/tmp/guest";
	if (distro_init() < 0)
		return 1;
	bl_guest_append(g, append, sizeof(append));
	json_object_object_add(tb, "name", json_object_new_string("bench"));
	if (distro)
		distro_fields(tb);
	snprintf(conf, sizeof(conf),
		 "default_kernel = %s/vmlinuz\ndefault_initrd = %s/initrd.img\n"
		 "default_append = \"%s\"\naccel = tcg\n"
		 "mem_mib = %d\nstop_grace_s = 5\npool_template = bench\npool_size = 1\n",
		 g, g, append, distro ? 384 : 256);
	bl_cleanup_install(&d);
	rc = 1;
	if (bl_daemon_start(&d, conf, &err) < 0) {
		fprintf(stderr, "%s: %s\n", BENCH, err);
		goto out;
	}
	if (bl_api(d.sock, "POST", "/v1/templates", json_object_to_json_string(tb), &status, &r,
		   &err) < 0 ||
	    status != 201) {
		fprintf(stderr, "%s: template: HTTP %ld %s\n", BENCH, status, err ? err : "");
		goto out;
	}
	for (int i = 0; i < n; i++) {
		if (wait_pool_ready(d.sock, 300000) < 0)
			goto out;
		fill[i] = fill_ms(d.sock);
		if ((pool[i] = run_true(d.sock, 1)) < 0 || (cold[i] = run_true(d.sock, 0)) < 0 ||
		    (tmpl[i] = from_template(d.sock, i, &refresh[i])) < 0)
			goto out;
		fprintf(stderr,
			"run %d: pool %.0f ms, template %.0f ms (refresh %.0f ms), cold %.0f ms, "
			"pool fill %.0f ms\n",
			i + 1, pool[i], tmpl[i], refresh[i], cold[i], fill[i]);
		if (distro && ((cdisk[i] = create_ms(d.sock, i, 1)) < 0 ||
			       (cbare[i] = create_ms(d.sock, i, 0)) < 0))
			goto out;
	}
	bl_stats(pool, n, &sp);
	bl_stats(cold, n, &sc);
	bl_stats(tmpl, n, &st);
	bl_stats(fill, n, &sf);
	bl_stats(refresh, n, &sr);
	bl_info("loadavg", bl_loadavg(load, sizeof(load)));
	bl_result(BENCH, "vmctl run --pool --via agent -- true", sp.median, "ms", sc.median,
		  distro ? "<= 300 ms" : "<= 200 ms", bl_spread(&sp, note, sizeof(note)));
	bl_result(BENCH, "POST /v1/vms from template -> agent ready", st.median, "ms", sc.median,
		  "<= 500 ms", bl_spread(&st, note, sizeof(note)));
	bl_result(BENCH, "vmctl run --via agent -- true (cold boot)", sc.median, "ms", -1, NULL,
		  bl_spread(&sc, note, sizeof(note)));
	/* where the clone's refresh (clock, reseed, identity) is paid: in the
	 * fill, not the take; -1 from a daemon that does not report it */
	bl_result(BENCH, "pool fill: restore, refresh, pause (ready_ms)", sf.median, "ms", -1, NULL,
		  bl_spread(&sf, note, sizeof(note)));
	bl_result(BENCH, "refresh after a restore: clock, reseed, identity", sr.median, "ms", -1,
		  NULL, bl_spread(&sr, note, sizeof(note)));
	if (distro) {
		bl_stats(cdisk, n, &sd);
		bl_stats(cbare, n, &sb);
		bl_result(BENCH, "POST /v1/vms with a disk, not started (overlay made)", sd.median,
			  "ms", sb.median, NULL, "baseline: a guest-less create");
	}
	rc = 0;
out:
	json_object_put(tb);
	json_object_put(r);
	free(err);
	bl_daemon_stop(&d);
	return rc;
}
