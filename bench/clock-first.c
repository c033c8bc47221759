/*
 * bench/clock-first [N]: after a template restore, is the refresh's clock
 * step (qemu-ga's guest-set-time, which forks `hwclock -w`) slow because
 * of hwclock, or because it is the first process the restored guest
 * starts (a new qemu translates every guest code path afresh under TCG)?
 * Three sequences, one restore each, in turns, N turns (default 4):
 *   stt: guest-set-time, exec true, exec true
 *   tst: exec true, guest-set-time, exec true
 *   tth: exec true, exec true, exec hwclock -w
 * Medians of each step as BENCH rows. Needs qemu and the test guest.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "src/snapshot/snapshot.h"
#include "src/snapshot/template.h"
#include "tests/snapshot/snaptest.h"

static const struct th_opts opts = {.vmgenid = 1};

struct w {
	int done, failed;
};

static void on_reply(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	struct w *w = arg;

	w->failed = err != NULL;
	if (err)
		fprintf(stderr, "reply: %s\n", err->desc);
	w->done = 1;
}

static void on_exec(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct w *w = arg;

	w->failed = err != NULL || res->status != 0;
	if (w->failed)
		fprintf(stderr, "exec: %s status %d %s\n", err ? err->desc : "",
			err ? -1 : res->status, err ? "" : (char *)res->err);
	w->done = 1;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* one step: 's' set-time, 't' exec true, 'h' exec hwclock -w; ms or -1 */
static double step(struct event_base *base, struct agent *a, char k)
{
	static const char *const t_argv[] = {"true", NULL};
	static const char *const h_argv[] = {"hwclock", "-w", NULL};
	struct w w = {0};
	struct qmp_error e;
	double t0 = th_now_ms();

	if (k == 's') {
		struct json_object *args = json_object_new_object();
		json_object_object_add(args, "time", json_object_new_int64(realtime_ns()));
		if (agent_call(a, "guest-set-time", args, 30000, on_reply, &w, &e) < 0)
			return -1;
	} else if (!agent_exec(a, k == 't' ? t_argv : h_argv, NULL, 0, 30000, on_exec, &w, &e)) {
		return -1;
	}
	th_run_until(base, &w.done, 40000);
	return w.done && !w.failed ? th_now_ms() - t0 : -1;
}

static int make_template(struct st_env *e, const char *name)
{
	struct th_guest g;
	struct st_res save;
	char *err = NULL;
	int rc = -1;

	if (th_guest_boot(&g, e->base, &opts, NULL) < 0 || th_guest_wait_agent(&g, 240000) < 0)
		goto out;
	if (st_wait_crng(&g, &err) < 0 || st_save_template(e, &g, name, 300000, &save, &err) < 0)
		goto out;
	rc = 0;
out:
	if (err)
		fprintf(stderr, "clock-first: %s\n", err);
	free(err);
	th_guest_stop(&g);
	return rc;
}

/* the figures: which sequence, which step */
enum { F_SET_FIRST, F_TRUE_FIRST, F_SET_SECOND, F_TRUE_SECOND, F_HWCLOCK_THIRD, NF };
static const char *const fig_name[NF] = {
    "guest-set-time as the first process after a restore",
    "exec true as the first process after a restore (baseline: guest-set-time first)",
    "guest-set-time after one exec (baseline: exec true there)", "exec true after one exec",
    "exec hwclock -w after two execs (baseline: exec true after one)"};
/* medians, as BENCH rows */

/* figure f of its n values, against base (< 0: none) */
static double row(int f, double *v, int n, double base)
{
	struct bl_stats st;
	char spread[96], note[160];

	bl_stats(v, n, &st);
	snprintf(note, sizeof(note), "restores, TCG; %s", bl_spread(&st, spread, sizeof(spread)));
	bl_result("clock-first", fig_name[f], st.median, "ms", base, NULL, note);
	return st.median;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 4, got[3] = {0}, rc = 1;
	static const char *const seq[3] = {"stt", "tst", "tth"};
	double *fv[NF];
	struct st_env e;
	struct tmpl *t = NULL;
	char *err = NULL;

	if (n < 1 || n > 100) {
		fprintf(stderr, "usage: %s [N (1..100)]\n", argv[0]);
		return 2;
	}
	if (!st_have_guest()) {
		fprintf(stderr, "clock-first: no qemu or no test guest ($VMSUP_GUEST_DIR)\n");
		return 77;
	}
	for (int f = 0; f < NF; f++)
		if (!(fv[f] = calloc((size_t)n, sizeof(double))))
			return 1;
	if (st_env_init(&e, "clockfirst") < 0)
		return 1;
	if (make_template(&e, "cf") < 0 || !(t = tmpl_open(e.sdir, "cf", &err))) {
		fprintf(stderr, "clock-first: no template: %s\n", err ? err : "");
		goto out;
	}
	for (int i = 0; i < n * 3; i++) {
		int q = i % 3, fd = open(t->state_path, O_RDONLY | O_CLOEXEC);
		const char *s = seq[q];
		struct th_guest g = {0};
		struct st_res r = {0};
		struct th_opts o = st_restore_opts(&opts, t->mac, fd);
		double v[3] = {-1, -1, -1};

		if (fd >= 0 && th_guest_prepare(&g, &o) == 0 &&
		    st_restore_begin(&e, &g, t->state_path, 300000, &r, &err) == 0 &&
		    th_run_until(e.base, &r.done, 310000) && !r.err[0] &&
		    th_guest_wait_agent(&g, 120000) == 0)
			for (int k = 0; k < 3 && (k == 0 || v[k - 1] >= 0); k++)
				v[k] = step(e.base, g.agent, s[k]);
		else
			fprintf(stderr, "clock-first: restore failed: %s%s\n", err ? err : "",
				r.err);
		free(err);
		err = NULL;
		printf("%s: %c %.1f ms, %c %.1f ms, %c %.1f ms\n", s, s[0], v[0], s[1], v[1], s[2],
		       v[2]);
		fflush(stdout);
		th_guest_stop(&g);
		if (fd >= 0)
			close(fd);
		if (v[2] < 0)
			continue;
		if (q == 0) {
			fv[F_SET_FIRST][got[0]++] = v[0];
		} else if (q == 1) {
			fv[F_TRUE_FIRST][got[1]] = v[0];
			fv[F_SET_SECOND][got[1]++] = v[1];
		} else {
			fv[F_TRUE_SECOND][got[2]] = v[1];
			fv[F_HWCLOCK_THIRD][got[2]++] = v[2];
		}
	}
	if (got[0] && got[1] && got[2]) {
		double sf = row(F_SET_FIRST, fv[F_SET_FIRST], got[0], -1);
		double ts = row(F_TRUE_SECOND, fv[F_TRUE_SECOND], got[2], -1);

		row(F_TRUE_FIRST, fv[F_TRUE_FIRST], got[1], sf);
		row(F_SET_SECOND, fv[F_SET_SECOND], got[1], ts);
		row(F_HWCLOCK_THIRD, fv[F_HWCLOCK_THIRD], got[2], ts);
		rc = got[0] == n && got[1] == n && got[2] == n ? 0 : 1;
	}
out:
	tmpl_close(t);
	if (st_env_fini(&e) < 0)
		fprintf(stderr, "clock-first: the state directory was not fully removed\n");
	for (int f = 0; f < NF; f++)
		free(fv[f]);
	return rc;
}
