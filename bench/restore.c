/*
 * bench/restore [N]: time from spawning qemu to a guest agent that answers,
 * restored from a template vs booted cold, alternating in one run (the
 * machine's load hits both alike). Prints the medians of N (default 5),
 * the template's save time and file size, and the post-restore refresh
 * (clock + reseed) time. Needs qemu and the test guest ($VMSUP_GUEST_DIR).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/snapshot.h"
#include "src/template.h"
#include "tests/snapshot/svm.h"

struct res {
	int done;
	char err[1024];
	struct snap_stats st;
};

static void on_done(const struct snap_stats *st, const char *err, void *arg)
{
	struct res *r = arg;

	r->done = 1;
	r->st = *st;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

struct refres {
	int done;
	struct snap_refresh_result r;
};

static void on_refresh(const struct snap_refresh_result *r, void *arg)
{
	struct refres *f = arg;

	f->r = *r;
	f->done = 1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const struct svm_opts opts = {.vmgenid = 1};

static int make_template(struct event_base *base, const char *sdir, struct res *save)
{
	struct svm v;
	struct tmpl_new tn;
	struct snap_save_opts so = {.timeout_ms = 300000};
	struct json_object *dc, *meta;
	char *err = NULL, *out = NULL;
	int st, rc = -1;

	if (svm_prepare(&v, &opts) < 0 || svm_spawn(&v, base, 0, -1, 1) < 0 ||
	    svm_wait_agent(&v, 240000) < 0) {
		fprintf(stderr, "restore: template VM did not come up\n");
		goto out;
	}
	for (int i = 0; i < 120; i++) { /* see tests/snapshot/test-guest.c */
		free(out);
		out = NULL;
		if (svm_sh(&v, "head -c1 /dev/random >/dev/null; dmesg | grep -c 'crng init done'",
			   &out, &st, 120000) == 0 &&
		    atoi(out) > 0)
			break;
		sleep(1);
	}
	free(out);
	if (tmpl_begin(sdir, "bench", &tn, &err) < 0)
		goto out;
	so.state_path = tn.state_path;
	if (!snap_save(base, v.qmp, &so, on_done, save, &err))
		goto out;
	svm_run_until(base, &save->done, 310000);
	if (!save->done || save->err[0]) {
		fprintf(stderr, "restore: save: %s\n", save->err);
		tmpl_abort(&tn);
		goto out;
	}
	dc = snap_devconfig((const char *const *)v.argv, &err);
	meta = tmpl_meta_new("bench", qmp_version(v.qmp), NULL, dc, NULL, &save->st);
	rc = tmpl_commit(&tn, meta, &err);
	json_object_put(meta);
	json_object_put(dc);
out:
	if (err)
		fprintf(stderr, "restore: %s\n", err);
	free(err);
	svm_stop(&v);
	return rc;
}

/* spawn -> agent ready from the template (through fd:3); refresh time in *ref_ms */
static double one_restore(struct event_base *base, struct tmpl *t, double *ref_ms)
{
	struct svm v;
	struct svm_opts o = opts;
	struct snap_restore_opts ro = {.state_fd = 3, .timeout_ms = 300000, .resume = 1};
	struct res r = {0};
	struct refres f = {0};
	char *err = NULL;
	double ms = -1;
	int fd;

	o.mac = t->mac;
	if (svm_prepare(&v, &o) < 0)
		return -1;
	fd = open(t->state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || svm_spawn(&v, base, 1, fd, 0) < 0)
		goto out;
	if (!snap_restore(base, v.qmp, &ro, on_done, &r, &err))
		goto out;
	svm_run_until(base, &r.done, 310000);
	if (!r.done || r.err[0] || svm_wait_agent(&v, 120000) < 0) {
		fprintf(stderr, "restore: %s\n", r.err);
		goto out;
	}
	ms = v.t_agent - v.t_spawn;
	if (snap_refresh(base, v.agent, 64, on_refresh, &f, &err)) {
		svm_run_until(base, &f.done, 120000);
		*ref_ms = f.done ? f.r.wall_ms : -1;
	}
out:
	if (fd >= 0)
		close(fd);
	free(err);
	svm_stop(&v);
	return ms;
}

static double one_cold(struct event_base *base)
{
	struct svm v;
	double ms = -1;

	if (svm_prepare(&v, &opts) == 0 && svm_spawn(&v, base, 0, -1, 1) == 0 &&
	    svm_wait_agent(&v, 240000) == 0)
		ms = v.t_agent - v.t_spawn;
	svm_stop(&v);
	return ms;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5, got = 0;
	char sdir[64] = "/tmp/vmsnap-bench-XXXXXX", cmd[128], *err = NULL;
	struct event_base *base;
	struct res save = {0};
	struct tmpl *t;
	double *warm, *cold, *ref;

	if (n < 1 || n > 100) {
		fprintf(stderr, "usage: %s [N (1..100)]\n", argv[0]);
		return 2;
	}
	if (!svm_guest_dir()) {
		fprintf(stderr, "restore: no test guest ($VMSUP_GUEST_DIR)\n");
		return 77;
	}
	if (!mkdtemp(sdir) || !(base = event_base_new()))
		return 1;
	warm = calloc((size_t)n, sizeof(double));
	cold = calloc((size_t)n, sizeof(double));
	ref = calloc((size_t)n, sizeof(double));
	if (make_template(base, sdir, &save) < 0 || !(t = tmpl_open(sdir, "bench", &err))) {
		fprintf(stderr, "restore: no template: %s\n", err ? err : "");
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sdir);
		if (system(cmd) != 0)
			fprintf(stderr, "restore: cannot remove %s\n", sdir);
		return 1;
	}
	printf("template: save %.0f ms, file %.1f MB of %.0f MB RAM (%llu zero pages not stored)\n",
	       save.st.wall_ms, save.st.file_bytes / 1e6, save.st.ram_total / 1e6,
	       (unsigned long long)save.st.ram_zero_pages);
	for (int i = 0; i < n; i++) {
		double w = one_restore(base, t, &ref[got]), c = one_cold(base);
		printf(
		    "run %d: template -> agent %.0f ms, cold -> agent %.0f ms, refresh %.0f ms\n",
		    i + 1, w, c, ref[got]);
		fflush(stdout);
		if (w > 0 && c > 0) {
			warm[got] = w;
			cold[got] = c;
			got++;
		}
	}
	if (got)
		printf("median of %d: template -> agent ready %.0f ms; cold boot -> agent ready "
		       "%.0f ms; refresh (clock+reseed) %.0f ms\n",
		       got, median(warm, got), median(cold, got), median(ref, got));
	tmpl_close(t);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sdir);
	if (system(cmd) != 0)
		fprintf(stderr, "restore: cannot remove %s\n", sdir);
	free(warm);
	free(cold);
	free(ref);
	event_base_free(base);
	return got == n ? 0 : 1;
}
