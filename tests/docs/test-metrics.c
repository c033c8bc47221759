/*
 * The Prometheus writer (src/metrics/metrics.c): escaping, refusals, histograms, and
 * vmsupd's whole exposition checked by the strict format checker
 * tests/docs/promcheck.py.
 */
#include "src/metrics/metrics.h"
#include "src/util/proc.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>

extern char **environ;

static struct evbuffer *out;
static struct metrics_buf mb;

static void setup(void)
{
	out = evbuffer_new();
	cr_assert_not_null(out);
	metrics_buf_init(&mb, out);
}

static void teardown(void)
{
	metrics_buf_release(&mb);
	evbuffer_free(out);
}

/* The buffer's text, NUL-terminated, malloc'd. */
static char *text_of(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);
	cr_assert_not_null(s);
	evbuffer_copyout(b, s, n);
	s[n] = '\0';
	return s;
}

TestSuite(metrics, .init = setup, .fini = teardown);

Test(metrics, family_and_escaped_labels)
{
	cr_assert_eq(metrics_family(&mb, "vmsup_vm_vcpus", METRICS_GAUGE, "a \\ b\nc \"q\""), 0);
	cr_assert_eq(metrics_sample(&mb, "vmsup_vm_vcpus", 2, "vm", "a\\b\"c\nd", NULL), 0);
	cr_assert_eq(metrics_sample(&mb, "vmsup_vm_vcpus", 1, NULL), 0);
	cr_assert_null(metrics_error(&mb));
	char *s = text_of(out);
	/* HELP escapes \ and newline but leaves quotes; label values escape all three */
	cr_assert_str_eq(s, "# HELP vmsup_vm_vcpus a \\\\ b\\nc \"q\"\n"
			    "# TYPE vmsup_vm_vcpus gauge\n"
			    "vmsup_vm_vcpus{vm=\"a\\\\b\\\"c\\nd\"} 2\n"
			    "vmsup_vm_vcpus 1\n");
	free(s);
}

Test(metrics, values_round_trip)
{
	const double v[] = {0.1, 3, 1e21, -2.5e-7, 1.0 / 3, 0};
	metrics_family(&mb, "g", METRICS_GAUGE, "h");
	char lbl[8];
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(lbl, sizeof(lbl), "%zu", i);
		cr_assert_eq(metrics_sample(&mb, "g", v[i], "i", lbl, NULL), 0);
	}
	metrics_sample(&mb, "g", NAN, "i", "nan", NULL);
	metrics_sample(&mb, "g", INFINITY, "i", "inf", NULL);
	metrics_sample(&mb, "g", -INFINITY, "i", "ninf", NULL);
	cr_assert_null(metrics_error(&mb));
	char *s = text_of(out);
	/* every value parses back to exactly the double written */
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char key[32];
		snprintf(key, sizeof(key), "g{i=\"%zu\"} ", i);
		char *p = strstr(s, key);
		cr_assert_not_null(p, "%s missing in %s", key, s);
		cr_assert_eq(strtod(p + strlen(key), NULL), v[i], "value %zu", i);
	}
	cr_assert_not_null(strstr(s, "g{i=\"4\"} 0.3333333333333333\n"), "%s", s);
	cr_assert_not_null(strstr(s, "g{i=\"1\"} 3\n"));
	cr_assert_not_null(strstr(s, "g{i=\"nan\"} NaN\n"));
	cr_assert_not_null(strstr(s, "g{i=\"inf\"} +Inf\n"));
	cr_assert_not_null(strstr(s, "g{i=\"ninf\"} -Inf\n"));
	free(s);
}

/* Each call must fail with a message naming the problem, and stay failed. */
struct refusal {
	const char *what, *want;
};

static void expect_error(const char *want)
{
	const char *e = metrics_error(&mb);
	cr_assert_not_null(e, "no error, wanted \"%s\"", want);
	cr_assert_not_null(strstr(e, want), "error \"%s\" does not say \"%s\"", e, want);
	/* sticky: a valid call afterwards still fails and writes nothing */
	size_t before = evbuffer_get_length(out);
	cr_assert_eq(metrics_family(&mb, "zz_ok", METRICS_GAUGE, "ok"), -1);
	cr_assert_eq(evbuffer_get_length(out), before);
}

Test(metrics, refuses_bad_metric_name)
{
	cr_assert_eq(metrics_family(&mb, "1abc", METRICS_GAUGE, "h"), -1);
	expect_error("invalid metric name");
}

Test(metrics, refuses_dash_in_name)
{
	cr_assert_eq(metrics_family(&mb, "a-b", METRICS_GAUGE, "h"), -1);
	expect_error("invalid metric name");
}

Test(metrics, refuses_family_twice)
{
	metrics_family(&mb, "g", METRICS_GAUGE, "h");
	metrics_sample(&mb, "g", 1, NULL);
	cr_assert_eq(metrics_family(&mb, "g", METRICS_GAUGE, "h"), -1);
	expect_error("declared twice");
}

Test(metrics, refuses_sample_before_family)
{
	cr_assert_eq(metrics_sample(&mb, "g", 1, NULL), -1);
	expect_error("before any family");
}

Test(metrics, refuses_sample_of_other_family)
{
	metrics_family(&mb, "a", METRICS_GAUGE, "h");
	metrics_family(&mb, "b", METRICS_GAUGE, "h");
	cr_assert_eq(metrics_sample(&mb, "a", 1, NULL), -1);
	expect_error("not part of family \"b\"");
}

Test(metrics, refuses_bad_label_name)
{
	metrics_family(&mb, "a", METRICS_GAUGE, "h");
	cr_assert_eq(metrics_sample(&mb, "a", 1, "v m", "x", NULL), -1);
	expect_error("invalid label name");
}

Test(metrics, refuses_reserved_label)
{
	metrics_family(&mb, "a", METRICS_GAUGE, "h");
	cr_assert_eq(metrics_sample(&mb, "a", 1, "__name__", "x", NULL), -1);
	expect_error("invalid label name");
}

Test(metrics, refuses_label_twice)
{
	metrics_family(&mb, "a", METRICS_GAUGE, "h");
	cr_assert_eq(metrics_sample(&mb, "a", 1, "vm", "x", "vm", "y", NULL), -1);
	expect_error("given twice");
}

Test(metrics, refuses_label_without_value)
{
	metrics_family(&mb, "a", METRICS_GAUGE, "h");
	cr_assert_eq(metrics_sample(&mb, "a", 1, "vm", NULL), -1);
	expect_error("has no value");
}

Test(metrics, refuses_non_utf8)
{
	metrics_family(&mb, "a", METRICS_GAUGE, "h");
	cr_assert_eq(metrics_sample(&mb, "a", 1, "vm", "\xc3\x28", NULL), -1);
	expect_error("not UTF-8");
}

Test(metrics, refuses_le_misuse)
{
	metrics_family(&mb, "h_seconds", METRICS_HISTOGRAM, "h");
	cr_assert_eq(metrics_sample(&mb, "h_seconds_bucket", 1, NULL), -1);
	expect_error("missing on a bucket");
}

Test(metrics, refuses_bare_histogram_name)
{
	metrics_family(&mb, "h_seconds", METRICS_HISTOGRAM, "h");
	cr_assert_eq(metrics_sample(&mb, "h_seconds", 1, NULL), -1);
	expect_error("not part of family");
}

Test(metrics, hist_bounds_validated)
{
	struct metrics_hist h;
	char *err = NULL;
	const double bad[] = {1, 1};
	const double inf[] = {1, INFINITY};
	cr_assert_eq(metrics_hist_init(&h, bad, 2, &err), -1);
	cr_assert_not_null(err);
	cr_assert_not_null(strstr(err, "increasing"));
	cr_assert_eq(metrics_hist_init(&h, inf, 2, NULL), -1);
	cr_assert_eq(metrics_hist_init(&h, bad, 0, NULL), -1);
	cr_assert_eq(metrics_hist_init(&h, bad, 1, NULL), 0);
	free(err);
}

Test(metrics, histogram_cumulative)
{
	struct metrics_hist h;
	metrics_qmp_hist_init(&h);
	const double obs[] = {0.0001, 0.0005, 0.003, 0.003, 0.7, 42, -1, NAN};
	double sum = 0;
	for (size_t i = 0; i < sizeof(obs) / sizeof(obs[0]); i++) {
		metrics_qmp_observe(&h, obs[i]);
		if (obs[i] >= 0)
			sum += obs[i];
	}
	/* negative and NaN observations are dropped */
	cr_assert_eq(h.count, 6);
	metrics_family(&mb, "vmsup_qmp_roundtrip_seconds", METRICS_HISTOGRAM, "rt");
	const char *l[] = {"vm", "a", NULL};
	cr_assert_eq(metrics_histogram(&mb, "vmsup_qmp_roundtrip_seconds", &h, l), 0);
	char *s = text_of(out);
	/* le is inclusive: 0.0005 falls in the 0.0005 bucket */
	cr_assert_not_null(strstr(s, "_bucket{vm=\"a\",le=\"0.0005\"} 2\n"), "%s", s);
	cr_assert_not_null(strstr(s, "_bucket{vm=\"a\",le=\"0.0025\"} 2\n"), "%s", s);
	cr_assert_not_null(strstr(s, "_bucket{vm=\"a\",le=\"0.005\"} 4\n"), "%s", s);
	cr_assert_not_null(strstr(s, "_bucket{vm=\"a\",le=\"1\"} 5\n"), "%s", s);
	cr_assert_not_null(strstr(s, "_bucket{vm=\"a\",le=\"10\"} 5\n"), "%s", s);
	cr_assert_not_null(strstr(s, "_bucket{vm=\"a\",le=\"+Inf\"} 6\n"), "%s", s);
	cr_assert_not_null(strstr(s, "vmsup_qmp_roundtrip_seconds_count{vm=\"a\"} 6\n"), "%s", s);
	char *p = strstr(s, "vmsup_qmp_roundtrip_seconds_sum{vm=\"a\"} ");
	cr_assert_not_null(p);
	cr_assert_float_eq(strtod(strchr(p, '}') + 2, NULL), sum, 1e-12);
	free(s);
}

Test(metrics, api_counts_ignore_out_of_range)
{
	struct metrics_api_counts c;
	memset(&c, 0, sizeof(c));
	metrics_api_count(&c, 200);
	metrics_api_count(&c, 200);
	metrics_api_count(&c, 99);
	metrics_api_count(&c, 600);
	metrics_api_count(&c, -1);
	cr_assert_eq(c.by_code[200], 2);
	uint64_t total = 0;
	for (int i = 0; i < 600; i++)
		total += c.by_code[i];
	cr_assert_eq(total, 2);
}

Test(metrics, proc_cpu_seconds)
{
	double before, after;
	char *perr = NULL;
	cr_assert_eq(vmsup_proc_cpu_seconds(getpid(), &before, &perr), 0, "%s", perr);
	/* burn ~0.2 s of CPU so the counter must move */
	struct timespec t0, t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
	volatile unsigned long x = 0;
	do {
		for (int i = 0; i < 100000; i++)
			x += (unsigned long)i;
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < 0.2);
	cr_assert_eq(vmsup_proc_cpu_seconds(getpid(), &after, &perr), 0, "%s", perr);
	cr_assert_geq(after - before, 0.1, "cpu time went %f -> %f", before, after);
	cr_assert_eq(vmsup_proc_cpu_seconds(0, &after, &perr), -1);
	free(perr);
	perr = NULL;
	cr_assert_eq(vmsup_proc_cpu_seconds(0x3fffffff, &after, &perr), -1);
	cr_assert_not_null(strstr(perr, "/proc/"), "%s", perr);
	free(perr);
}

/* Run promcheck.py on a file; its stderr lands in *msg (malloc'd). */
static int promcheck(const char *file, char **msg)
{
	char script[4096], errfile[] = "/tmp/promcheck-err-XXXXXX";
	const char *src = getenv("top_srcdir");
	snprintf(script, sizeof(script), "%s/tests/docs/promcheck.py", src ? src : DOCS_SRCDIR);
	int efd = mkstemp(errfile);
	cr_assert_geq(efd, 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, efd, 2);
	char *const argv[] = {"python3", script, (char *)file, NULL};
	pid_t pid;
	int rc = posix_spawnp(&pid, "python3", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	cr_assert_eq(rc, 0, "cannot run python3: %s", strerror(rc));
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	off_t n = lseek(efd, 0, SEEK_END);
	*msg = calloc(1, (size_t)n + 1);
	pread(efd, *msg, (size_t)n, 0);
	close(efd);
	unlink(errfile);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void check_file_of(struct evbuffer *b, int want_rc, const char *want_msg)
{
	char path[] = "/tmp/metrics-out-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	char *s = text_of(b);
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	close(fd);
	char *msg = NULL;
	int rc = promcheck(path, &msg);
	unlink(path);
	cr_assert_eq(rc, want_rc, "promcheck exit %d, stderr:\n%s\non:\n%s", rc, msg, s);
	if (want_msg)
		cr_assert_not_null(strstr(msg, want_msg), "%s", msg);
	free(msg);
	free(s);
}

Test(metrics, vmsup_exposition_passes_checker)
{
	struct metrics_hist h;
	struct metrics_api_counts c;
	memset(&c, 0, sizeof(c));
	metrics_qmp_hist_init(&h);
	for (int i = 0; i < 50; i++)
		metrics_qmp_observe(&h, 0.0003 * i);
	metrics_api_count(&c, 200);
	metrics_api_count(&c, 201);
	metrics_api_count(&c, 404);
	struct metrics_daemon d = {.uptime_seconds = 12.5, .api = &c, .qmp = &h};
	struct metrics_vm vms[] = {
	    {"web1", "running", 2, 512ull << 20, 256ll << 20, 1.25, 0, 1, 0},
	    {"b.2-x_y", "paused", 1, 256ull << 20, -1, -1, 3, 0, 1},
	    {"odd", "rebooting", 1, 256ull << 20, 0, 0, 0, 0, 0},
	};
	char *err = NULL;
	cr_assert_eq(metrics_render_vmsup(out, &d, vms, 3, &err), 0, "%s", err);
	check_file_of(out, 0, NULL);

	char *s = text_of(out);
	/* one series per state, 1 only for the current state */
	cr_assert_not_null(strstr(s, "vmsup_vm_state{vm=\"web1\",state=\"running\"} 1\n"));
	cr_assert_not_null(strstr(s, "vmsup_vm_state{vm=\"web1\",state=\"paused\"} 0\n"));
	cr_assert_not_null(strstr(s, "vmsup_vm_state{vm=\"b.2-x_y\",state=\"paused\"} 1\n"));
	/* a state the list does not know still shows */
	cr_assert_not_null(strstr(s, "vmsup_vm_state{vm=\"odd\",state=\"rebooting\"} 1\n"));
	cr_assert_not_null(strstr(s, "vmsup_vm_memory_bytes{vm=\"web1\"} 536870912\n"));
	cr_assert_not_null(strstr(s, "vmsup_vm_balloon_bytes{vm=\"web1\"} 268435456\n"));
	/* unknown balloon and CPU time are left out, not reported as 0 */
	cr_assert_null(strstr(s, "vmsup_vm_balloon_bytes{vm=\"b.2-x_y\"}"));
	cr_assert_null(strstr(s, "vmsup_vm_cpu_seconds_total{vm=\"b.2-x_y\"}"));
	cr_assert_not_null(strstr(s, "vmsup_vm_cpu_seconds_total{vm=\"web1\"} 1.25\n"));
	cr_assert_not_null(strstr(s, "vmsup_vm_restarts_total{vm=\"b.2-x_y\"} 3\n"));
	cr_assert_not_null(strstr(s, "vmsup_vm_agent_ready{vm=\"web1\"} 1\n"));
	cr_assert_not_null(strstr(s, "vmsup_api_requests_total{code=\"404\"} 1\n"));
	cr_assert_not_null(strstr(s, "vmsup_uptime_seconds 12.5\n"));
	cr_assert_not_null(strstr(s, "vmsup_vms_state_unsaved 1\n"));
	cr_assert_not_null(strstr(s, "vmsup_qmp_roundtrip_seconds_count 50\n"));
	cr_assert_not_null(strstr(s, "vmsup_qmp_roundtrip_seconds_bucket{le=\"+Inf\"} 50\n"));
	free(s);
}

Test(metrics, empty_daemon_passes_checker)
{
	char *err = NULL;
	cr_assert_eq(metrics_render_vmsup(out, NULL, NULL, 0, &err), 0, "%s", err);
	check_file_of(out, 0, NULL);
}

Test(metrics, checker_catches_hand_made_duplicate)
{
	/* the writer emits what the checker rejects when misused this way */
	metrics_family(&mb, "g", METRICS_GAUGE, "h");
	metrics_sample(&mb, "g", 1, "vm", "a", NULL);
	metrics_sample(&mb, "g", 2, "vm", "a", NULL);
	check_file_of(out, 1, "duplicate series");
}

Test(metrics, render_refuses_nameless_vm)
{
	struct metrics_vm vm = {.name = NULL, .state = "running"};
	char *err = NULL;
	cr_assert_eq(metrics_render_vmsup(out, NULL, &vm, 1, &err), -1);
	cr_assert_not_null(err);
	cr_assert_not_null(strstr(err, "no name"));
	free(err);
}
