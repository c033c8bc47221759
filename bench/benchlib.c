/* Shared helpers of the bench programs (see benchlib.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/benchlib.h"
#include "src/client/client.h"

double bl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void bl_sleep_ms(double ms)
{
	struct timespec ts = {(time_t)(ms / 1e3), (long)(fmod(ms, 1e3) * 1e6)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* nearest rank: the smallest value with at least q of the sample at or below it */
static double rank(const double *v, int n, double q)
{
	int i = (int)ceil(q * n) - 1;

	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

void bl_stats(double *v, int n, struct bl_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->n = n;
	if (n <= 0)
		return;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	st->min = v[0];
	st->max = v[n - 1];
	st->p25 = rank(v, n, 0.25);
	st->p75 = rank(v, n, 0.75);
	st->p99 = rank(v, n, 0.99);
	st->median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static const char *num(double v, char *buf, size_t len)
{
	double a = fabs(v);

	snprintf(buf, len, a >= 100 ? "%.0f" : a >= 10 ? "%.1f" : a >= 1 ? "%.2f" : "%.3f", v);
	return buf;
}

const char *bl_spread(const struct bl_stats *st, char *buf, size_t len)
{
	char a[32], b[32], c[32], d[32];

	snprintf(buf, len, "n=%d IQR %s-%s, min-max %s-%s", st->n, num(st->p25, a, sizeof(a)),
		 num(st->p75, b, sizeof(b)), num(st->min, c, sizeof(c)),
		 num(st->max, d, sizeof(d)));
	return buf;
}

static void field(const char *s)
{
	putchar('\t');
	if (!s || !*s) {
		putchar('-');
		return;
	}
	for (; *s; s++)
		putchar(*s == '\t' || *s == '\n' ? ' ' : *s);
}

void bl_result(const char *bench, const char *metric, double value, const char *unit,
	       double baseline, const char *goal, const char *note)
{
	char v[32], b[32] = "-", r[32] = "-";

	num(value, v, sizeof(v));
	if (baseline >= 0) {
		num(baseline, b, sizeof(b));
		if (baseline > 0)
			snprintf(r, sizeof(r), "%.2f", value / baseline);
	}
	fputs("BENCH", stdout);
	field(bench);
	field(metric);
	field(v);
	field(unit);
	field(b);
	field(r);
	field(goal);
	field(note);
	putchar('\n');
	fflush(stdout);
}

void bl_info(const char *key, const char *value)
{
	fputs("BENCHINFO", stdout);
	field(key);
	field(value);
	putchar('\n');
	fflush(stdout);
}

const char *bl_loadavg(char *buf, size_t len)
{
	FILE *f = fopen("/proc/loadavg", "re");
	double a = 0, b = 0, c = 0;

	if (!f || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
		snprintf(buf, len, "unknown");
	else
		snprintf(buf, len, "%.2f %.2f %.2f", a, b, c);
	if (f)
		fclose(f);
	return buf;
}

static long status_field(pid_t pid, const char *key)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

long bl_rss_kib(pid_t pid)
{
	return status_field(pid, "VmRSS");
}

double bl_cpu_ms(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (!(f = fopen(path, "re")))
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')' */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) * 1e3 / (double)sysconf(_SC_CLK_TCK);
}

long bl_ctxt_switches(pid_t pid)
{
	char path[64];
	struct dirent *e;
	long total = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path)))
		return -1;
	while ((e = readdir(d))) {
		char p[320], line[128];
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/proc/%d/task/%s/status", (int)pid, e->d_name);
		if (!(f = fopen(p, "re")))
			continue;
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "voluntary_ctxt_switches:", 24) ||
			    !strncmp(line, "nonvoluntary_ctxt_switches:", 27))
				total += strtol(strchr(line, ':') + 1, NULL, 10);
		fclose(f);
	}
	closedir(d);
	return total;
}

long bl_mem_available_mib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "MemAvailable:", 13))
			kib = strtol(line + 13, NULL, 10);
	fclose(f);
	return kib < 0 ? -1 : kib / 1024;
}

int bl_guest_append(const char *dir, char *buf, size_t len)
{
	char path[600], line[512];
	FILE *f;
	int rc = -1;

	snprintf(path, sizeof(path), "%s/append", dir);
	if (!(f = fopen(path, "re")))
		return -1;
	if (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		snprintf(buf, len, "%s", line);
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* $env, else the first build-tree path that runs, else name on PATH. */
static const char *bin_path(const char *env, const char *const *local, const char *name)
{
	const char *e = getenv(env);

	if (e && *e)
		return e;
	for (; *local; local++)
		if (access(*local, X_OK) == 0)
			return *local;
	return name;
}

const char *bl_vmsupd_path(void)
{
	static const char *const local[] = {"src/daemon/vmsupd", NULL};

	return bin_path("VMSUPD", local, "vmsupd");
}

const char *bl_vmctl_path(void)
{
	static const char *const local[] = {"src/cli/.libs/vmctl", "src/cli/vmctl", NULL};

	return bin_path("VMCTL", local, "vmctl");
}

void bl_vmctl_child_env(const char *path)
{
	char lib[4096];

	if (!strncmp(path, "src/cli/.libs/", 14) && realpath("qmp/.libs", lib))
		setenv("LD_LIBRARY_PATH", lib, 1);
}

int bl_parse_opts(int argc, char **argv, const char *usage, struct bl_opts *o)
{
	static const struct option opts[] = {{"quick", no_argument, NULL, 'q'},
					     {"n", required_argument, NULL, 'n'},
					     {"mem", required_argument, NULL, 'm'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "n:m:h", opts, NULL)) != -1) {
		char *end;
		long v;

		switch (c) {
		case 'q':
			o->quick = 1;
			break;
		case 'n':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "%s: -n wants 1..100000, not \"%s\"\n", argv[0],
					optarg);
				return -1;
			}
			o->n = (int)v;
			break;
		case 'm':
			if (!strstr(usage, "-m MIB")) { /* only where the program uses it */
				fprintf(stderr, "usage: %s\n", usage);
				return -1;
			}
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 1048576) {
				fprintf(stderr, "%s: -m wants 1..1048576 (MiB), not \"%s\"\n",
					argv[0], optarg);
				return -1;
			}
			o->mem_mib = (int)v;
			break;
		case 'h':
			printf("usage: %s\n", usage);
			return -2;
		default:
			fprintf(stderr, "usage: %s\n", usage);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\nusage: %s\n", argv[0],
			argv[optind], usage);
		return -1;
	}
	return 0;
}
