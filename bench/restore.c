/*
 * bench/restore [N]: time from spawning qemu to a guest agent that answers,
 * restored from a template vs booted cold, alternating in one run (the
 * machine's load hits both alike). Two templates: guest RAM in the
 * migration stream (anonymous RAM), and guest RAM in a file of its own
 * (memory-backend-file share=on, saved with x-ignore-shared; restored
 * share=off, copy-on-write), as vmsupd makes them. Prints the medians of N
 * (default 5), each template's save time and file size, and the
 * post-restore refresh (clock + reseed) time. Needs qemu and the test
 * guest ($VMSUP_GUEST_DIR).
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

/* spawn -> agent ready from the template (through fd:3); refresh time in *ref_ms */
static double one_restore(struct st_env *e, struct tmpl *t, const struct th_opts *base,
			  double *ref_ms)
{
	struct th_guest g = {0};
	struct th_opts o;
	struct st_res r;
	struct st_refres f = {0};
	char *err = NULL;
	double ms = -1;
	int fd;

	fd = open(t->state_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "restore: %s: %s\n", t->state_path, strerror(errno));
		return -1;
	}
	o = st_restore_opts(base, t->mac, fd);
	if (th_guest_prepare(&g, &o) < 0 ||
	    st_restore_begin(e, &g, t->state_path, 300000, &r, &err) < 0)
		goto out;
	th_run_until(e->base, &r.done, 310000);
	if (!r.done || r.err[0] || th_guest_wait_agent(&g, 120000) < 0) {
		fprintf(stderr, "restore: %s\n", r.err);
		goto out;
	}
	ms = g.t_agent - g.t_spawn;
	if (snap_refresh(e->base, g.agent, 64, NULL, st_on_refresh, &f, &err)) {
		th_run_until(e->base, &f.done, 120000);
		*ref_ms = f.done ? f.r.wall_ms : -1;
	}
out:
	if (err)
		fprintf(stderr, "restore: %s\n", err);
	close(fd);
	free(err);
	th_guest_stop(&g);
	return ms;
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
	char *err = NULL;
	struct st_env e;
	struct st_res save;
	struct tmpl *t = NULL;
	double *warm, *cold, *ref, *fwarm;
	struct tmpl *ft = NULL;
	struct st_res fsave;
	struct th_opts fo = opts, fro = opts;

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
	warm = calloc((size_t)n, sizeof(double));
	cold = calloc((size_t)n, sizeof(double));
	ref = calloc((size_t)n, sizeof(double));
	fwarm = calloc((size_t)n, sizeof(double));
	snprintf(ram_shared, sizeof(ram_shared),
		 "memory-backend-file,id=ram,size=256M,mem-path=%s/ram,share=on", e.sdir);
	snprintf(ram_private, sizeof(ram_private),
		 "memory-backend-file,id=ram,size=256M,mem-path=%s/ram,share=off", e.sdir);
	fo.extra_args = ram_args_shared;
	fro.extra_args = ram_args_private;
	if (!warm || !cold || !ref || !fwarm || make_template(&e, "bench", &opts, &save) < 0 ||
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
		double w, f, c;
		e.ignore_shared = false;
		w = one_restore(&e, t, &opts, &ref[got]);
		e.ignore_shared = true;
		f = one_restore(&e, ft, &fro, &ref[got]);
		c = one_cold(&e);
		printf(
		    "run %d: template -> agent %.0f ms, RAM-file template -> agent %.0f ms, cold "
		    "-> agent %.0f ms, refresh %.0f ms\n",
		    i + 1, w, f, c, ref[got]);
		fflush(stdout);
		if (w > 0 && f > 0 && c > 0) {
			warm[got] = w;
			fwarm[got] = f;
			cold[got] = c;
			got++;
		}
	}
	if (got) {
		printf("median of %d: template -> agent ready %.0f ms; cold boot -> agent ready "
		       "%.0f ms; refresh (clock+reseed) %.0f ms\n",
		       got, median(warm, got), median(cold, got), median(ref, got));
		printf("median of %d: RAM-file template -> agent ready %.0f ms; RAM in the stream "
		       "%.0f ms\n",
		       got, median(fwarm, got), median(warm, got));
	}
out:
	tmpl_close(t);
	tmpl_close(ft);
	free(fwarm);
	if (st_env_fini(&e) < 0)
		fprintf(stderr, "restore: the state directory was not fully removed\n");
	free(warm);
	free(cold);
	free(ref);
	return got == n ? 0 : 1;
}
