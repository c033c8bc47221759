/*
 * bench/restore [N]: time from spawning qemu to a guest agent that answers,
 * restored from a template vs booted cold, alternating in one run (the
 * machine's load hits both alike). Two templates: guest RAM in the
 * migration stream (anonymous RAM), and guest RAM in a file of its own
 * (memory-backend-file share=on, saved with x-ignore-shared; restored
 * share=off, copy-on-write), as vmsupd makes them. Prints the medians of N
 * (default 5), each template's save time and file size, and where a
 * restore's time goes, phase by phase (one_restore), as BENCH rows. Needs
 * qemu and the test guest ($VMSUP_GUEST_DIR).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/snapshot/snapshot.h"
#include "src/snapshot/template.h"
#include "tests/snapshot/snaptest.h"

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

static const struct th_opts opts = {.vmgenid = 1};
static char ram_shared[300], ram_private[300];
static const char *ram_args_shared[] = {"-machine", "memory-backend=ram", "-object", ram_shared,
					NULL};
static const char *ram_args_private[] = {"-machine", "memory-backend=ram", "-object", ram_private,
					 NULL};

static int make_template(struct st_env *e, const char *name, const struct th_opts *o,
			 struct st_res *save)
{
	struct th_guest g;
	char *err = NULL;
	int rc = -1;

	if (th_guest_boot(&g, e->base, o, NULL) < 0 || th_guest_wait_agent(&g, 240000) < 0) {
		fprintf(stderr, "restore: template VM did not come up\n");
		goto out;
	}
	/* a template with an uninitialised crng restores slowly: note it, go on */
	if (st_wait_crng(&g, &err) < 0) {
		fprintf(stderr, "restore: %s\n", err);
		free(err);
		err = NULL;
	}
	rc = st_save_template(e, &g, name, 300000, save, &err);
out:
	if (err)
		fprintf(stderr, "restore: %s\n", err);
	free(err);
	th_guest_stop(&g);
	return rc;
}

/*
 * Where a restore's time goes, ms: spawn -> QMP handshake, -> migrate-incoming
 * completed, -> `cont` answered, -> agent ready (guest-sync answered), then
 * the refresh's steps (snap_refresh_result) and its whole.
 */
enum { P_QMP, P_LOAD, P_CONT, P_AGENT, P_TOTAL, P_CLOCK, P_SEED, P_CHECK, P_REFRESH, NP };
static const char *const phase_name[NP] = {
    "spawn -> QMP up",	   "QMP -> incoming done", "incoming -> cont answered",
    "cont -> agent ready", "spawn -> agent ready", "refresh: clock",
    "refresh: reseed",	   "refresh: skew check",  "refresh (clock+reseed)"};

static void on_cont(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		    void *arg)
{
	(void)s, (void)ret;
	*(int *)arg = err ? -1 : 1;
}

/* One restore from the template (through fd:3): its phases in ph[], 0 or -1. */
static int one_restore(struct st_env *e, struct tmpl *t, const struct th_opts *base, double *ph)
{
	struct th_guest g = {0};
	struct th_opts o;
	struct st_res r = {0};
	struct st_refres f = {0};
	struct snap_restore_opts ro = {.ignore_shared = e->ignore_shared,
				       .state_path = t->state_path,
				       .state_fd = 3,
				       .timeout_ms = 300000};
	struct qmp_error qe;
	char *err = NULL;
	double t_qmp, t_load, t_cont;
	int fd, rc = -1, cont = 0;

	fd = open(t->state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "restore: %s: %s\n", t->state_path, strerror(errno));
		return -1;
	}
	o = st_restore_opts(base, t->mac, fd);
	/* st_restore_begin's steps, with the `cont` apart to time it */
	if (th_guest_prepare(&g, &o) < 0 || th_guest_start(&g, e->base, NULL) < 0)
		goto out;
	t_qmp = th_now_ms();
	if (!snap_restore(e->base, g.qmp, &ro, st_on_done, &r, &err))
		goto out;
	th_run_until(e->base, &r.done, 310000);
	if (!r.done || r.err[0]) {
		fprintf(stderr, "restore: %s\n", r.err);
		goto out;
	}
	t_load = th_now_ms();
	if (qmp_call(g.qmp, "cont", NULL, 0, on_cont, &cont, &qe) < 0 ||
	    !th_run_until(e->base, &cont, 30000) || cont < 0) {
		fprintf(stderr, "restore: cont failed\n");
		goto out;
	}
	t_cont = th_now_ms();
	if (th_guest_wait_agent(&g, 120000) < 0) {
		fprintf(stderr, "restore: no agent\n");
		goto out;
	}
	ph[P_QMP] = t_qmp - g.t_spawn;
	ph[P_LOAD] = t_load - t_qmp;
	ph[P_CONT] = t_cont - t_load;
	/* the agent may have answered before the cont did */
	ph[P_AGENT] = g.t_agent > t_cont ? g.t_agent - t_cont : 0;
	ph[P_TOTAL] = g.t_agent - g.t_spawn;
	if (!snap_refresh(e->base, g.agent, 64, NULL, st_on_refresh, &f, &err) ||
	    !th_run_until(e->base, &f.done, 120000))
		goto out;
	if (!f.r.time_set || !f.r.reseeded)
		fprintf(stderr, "restore: refresh: %s %s\n", f.r.time_error, f.r.seed_error);
	ph[P_CLOCK] = f.r.clock_ms;
	ph[P_SEED] = f.r.seed_ms;
	ph[P_CHECK] = f.r.check_ms;
	ph[P_REFRESH] = f.r.wall_ms;
	rc = 0;
out:
	if (err)
		fprintf(stderr, "restore: %s\n", err);
	close(fd);
	free(err);
	th_guest_stop(&g);
	return rc;
}

/* BENCH name metric value unit baseline ratio goal note (bench/run.sh) */
static void bench_row(const char *metric, double v, double base, const char *goal, const char *note)
{
	char b[32] = "-", r[32] = "-";

	if (base > 0) {
		snprintf(b, sizeof(b), "%.0f", base);
		snprintf(r, sizeof(r), "%.2f", v / base);
	}
	printf("BENCH\trestore\t%s\t%.0f\tms\t%s\t%s\t%s\t%s\n", metric, v, b, r, goal, note);
}

static double one_cold(struct st_env *e)
{
	struct th_guest g;
	double ms = -1;

	if (th_guest_boot(&g, e->base, &opts, NULL) == 0 && th_guest_wait_agent(&g, 240000) == 0)
		ms = g.t_agent - g.t_spawn;
	th_guest_stop(&g);
	return ms;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5, got = 0;
	char *err = NULL, note[128];
	struct st_env e;
	struct st_res save, fsave;
	struct tmpl *t = NULL, *ft = NULL;
	double *ph[NP], *fph[NP], *cold;
	struct th_opts fo = opts, fro = opts;
	int oom = 0;

	if (n < 1 || n > 100) {
		fprintf(stderr, "usage: %s [N (1..100)]\n", argv[0]);
		return 2;
	}
	if (!st_have_guest()) {
		fprintf(stderr, "restore: no qemu or no test guest ($VMSUP_GUEST_DIR)\n");
		return 77;
	}
	if (st_env_init(&e, "bench") < 0)
		return 1;
	/* ph: RAM in the stream, fph: RAM in its own file; [phase][run] */
	for (int p = 0; p < NP; p++) {
		ph[p] = calloc((size_t)n, sizeof(double));
		fph[p] = calloc((size_t)n, sizeof(double));
		oom |= !ph[p] || !fph[p];
	}
	cold = calloc((size_t)n, sizeof(double));
	snprintf(ram_shared, sizeof(ram_shared),
		 "memory-backend-file,id=ram,size=256M,mem-path=%s/ram,share=on", e.sdir);
	snprintf(ram_private, sizeof(ram_private),
		 "memory-backend-file,id=ram,size=256M,mem-path=%s/ram,share=off", e.sdir);
	fo.extra_args = ram_args_shared;
	fro.extra_args = ram_args_private;
	if (oom || !cold || make_template(&e, "bench", &opts, &save) < 0 ||
	    !(t = tmpl_open(e.sdir, "bench", &err))) {
		fprintf(stderr, "restore: no template: %s\n", err ? err : "");
		free(err);
		got = -1;
		goto out;
	}
	e.ignore_shared = true;
	if (make_template(&e, "bench-ramfile", &fo, &fsave) < 0 ||
	    !(ft = tmpl_open(e.sdir, "bench-ramfile", &err))) {
		fprintf(stderr, "restore: no RAM-file template: %s\n", err ? err : "");
		free(err);
		got = -1;
		goto out;
	}
	printf("template: save %.0f ms, file %.1f MB of %.0f MB RAM (%llu zero pages not stored)\n",
	       save.st.wall_ms, save.st.file_bytes / 1e6, save.st.ram_total / 1e6,
	       (unsigned long long)save.st.ram_zero_pages);
	printf("RAM-file template: save %.0f ms, state file %.2f MB (RAM in its own file)\n",
	       fsave.st.wall_ms, fsave.st.file_bytes / 1e6);
	for (int i = 0; i < n; i++) {
		double w[NP] = {0}, f[NP] = {0}, c;
		int ok;

		e.ignore_shared = false;
		ok = one_restore(&e, t, &opts, w) == 0;
		e.ignore_shared = true;
		ok &= one_restore(&e, ft, &fro, f) == 0;
		c = one_cold(&e);
		printf(
		    "run %d: template -> agent %.0f ms, RAM-file template -> agent %.0f ms, cold "
		    "-> agent %.0f ms, refresh %.0f ms\n",
		    i + 1, w[P_TOTAL], f[P_TOTAL], c, w[P_REFRESH]);
		fflush(stdout);
		if (ok && c > 0) {
			for (int p = 0; p < NP; p++) {
				ph[p][got] = w[p];
				fph[p][got] = f[p];
			}
			cold[got++] = c;
		}
	}
	if (got) {
		double c = median(cold, got), w, f;

		for (int p = 0; p < NP; p++) {
			w = median(ph[p], got);
			f = median(fph[p], got);
			printf(
			    "median of %d: %s: %.0f ms (RAM in the stream), %.0f ms (RAM file)\n",
			    got, phase_name[p], w, f);
			snprintf(note, sizeof(note), "n=%d, phase; RAM-file template %.0f ms", got,
				 f);
			if (p != P_TOTAL)
				bench_row(phase_name[p], w, -1, "-", note);
		}
		snprintf(note, sizeof(note), "n=%d; refresh (clock+reseed) %.0f ms", got,
			 median(ph[P_REFRESH], got));
		bench_row("spawn -> agent ready from a template, median (baseline: cold boot)",
			  median(ph[P_TOTAL], got), c, "-", note);
		snprintf(note, sizeof(note), "n=%d", got);
		bench_row("spawn -> agent ready, RAM in its own file (baseline: RAM in the stream)",
			  median(fph[P_TOTAL], got), median(ph[P_TOTAL], got), "<= 500 ms", note);
		printf(
		    "BENCHINFO\trestore.template\ttemplate: save %.0f ms, file %.1f MB of %.0f MB "
		    "RAM\n",
		    save.st.wall_ms, save.st.file_bytes / 1e6, save.st.ram_total / 1e6);
	}
out:
	tmpl_close(t);
	tmpl_close(ft);
	if (st_env_fini(&e) < 0)
		fprintf(stderr, "restore: the state directory was not fully removed\n");
	for (int p = 0; p < NP; p++) {
		free(ph[p]);
		free(fph[p]);
	}
	free(cold);
	return got == n ? 0 : 1;
}
