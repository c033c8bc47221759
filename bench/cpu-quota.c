/*
 * bench/cpu-quota: how closely a cgroup CPU quota holds. A busy process (a
 * forked spin loop, or --pid PID, e.g. a qemu whose guest runs a busy loop)
 * is put in a VM cgroup and its CPU share is measured at each quota, from
 * the cgroup's usage counter and from /proc/PID/stat.
 *
 *   bench/cpu-quota [--seconds S] [--quotas 10,25,50,100] [--pid PID] [--no-boost]
 *
 * Prints a Markdown table. Needs root and a writable cgroupfs.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "src/limits/cgroup.h"

#define MAX_QUOTAS 16

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* utime + stime of the whole process, in seconds. */
static int proc_cpu_s(pid_t pid, double *s)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: fields restart after the last ')'. */
	p = strrchr(buf, ')');
	if (!p ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	*s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	return 0;
}

static void sleep_s(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Put an outside process back where it was (the lines of its /proc/PID/cgroup). */
static void restore(struct cg *cg, pid_t pid, const char *saved)
{
	static const char *const ctl[] = {"cpu", "cpuacct", "memory"};
	char *copy = strdup(saved), *line, *save = NULL;

	for (line = copy ? strtok_r(copy, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;

		if (!c2)
			continue;
		*c2 = '\0';
		for (size_t i = 0; i < 3; i++) {
			int v2 = cg_mode(cg) == CG_MODE_V2;
			char *list = c1 + 1, *tok, *s2 = NULL, *par, *slash, *f = NULL;
			int hit = 0;

			for (tok = strtok_r(list, ",", &s2); tok; tok = strtok_r(NULL, ",", &s2))
				hit |= strcmp(tok, ctl[i]) == 0;
			if (!(v2 ? *list == '\0' && i == 0 : hit))
				continue;
			/* hierarchy mount = parent path minus our parent component */
			par = cg_parent_path(cg, ctl[i]);
			slash = par ? strrchr(par, '/') : NULL;
			if (slash) {
				*slash = '\0';
				if (asprintf(&f, "%s%s/cgroup.procs", par, c2 + 1) < 0)
					f = NULL;
			}
			if (f) {
				FILE *fp = fopen(f, "we");

				if (fp) {
					fprintf(fp, "%d", (int)pid);
					fclose(fp);
				}
			}
			free(f);
			free(par);
		}
	}
	free(copy);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"seconds", required_argument, NULL, 's'},
					     {"quotas", required_argument, NULL, 'q'},
					     {"pid", required_argument, NULL, 'p'},
					     {"no-boost", no_argument, NULL, 'n'},
					     {NULL, 0, NULL, 0}};
	int quotas[MAX_QUOTAS] = {10, 25, 50, 100}, nq = 4, c, rc = 1, boost = 1;
	double seconds = 3;
	pid_t pid = 0, child = 0;
	char parent[64], *err = NULL, *saved = NULL, path[64];
	struct cg *cg = NULL;
	FILE *f;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end, *tok, *save = NULL;

		switch (c) {
		case 's':
			seconds = strtod(optarg, &end);
			if (*end || seconds < 0.5 || seconds > 600) {
				fprintf(stderr, "cpu-quota: --seconds wants 0.5..600\n");
				return 2;
			}
			break;
		case 'q':
			nq = 0;
			for (tok = strtok_r(optarg, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save)) {
				long v = strtol(tok, &end, 10);

				if (*end || v < 1 || v > 100 * 1024 || nq == MAX_QUOTAS) {
					fprintf(stderr, "cpu-quota: bad --quotas item \"%s\"\n",
						tok);
					return 2;
				}
				quotas[nq++] = (int)v;
			}
			break;
		case 'n':
			boost = 0;
			break;
		case 'p': {
			long v = strtol(optarg, &end, 10);

			if (*end || v <= 0 || kill((pid_t)v, 0) < 0) {
				fprintf(stderr, "cpu-quota: --pid %s: no such process\n", optarg);
				return 2;
			}
			pid = (pid_t)v;
			break;
		}
		default:
			fprintf(stderr, "usage: cpu-quota [--seconds S] [--quotas 10,25,...] "
					"[--pid PID] [--no-boost]\n");
			return 2;
		}
	}
	snprintf(parent, sizeof(parent), "vmsup-bench-%d", (int)getpid());
	if (cg_open(&cg, NULL, parent, &err) < 0 || cg_vm_create(cg, "bench", &err) < 0)
		goto out;
	if (pid) {
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
		f = fopen(path, "re");
		if (f) {
			size_t len = 0;

			if (getdelim(&saved, &len, '\0', f) < 0) {
				free(saved);
				saved = NULL;
			}
			fclose(f);
		}
	} else {
		child = fork();
		if (child < 0) {
			perror("cpu-quota: fork");
			goto out;
		}
		if (child == 0) {
			volatile unsigned long spin = 0;

			for (;;)
				spin++;
		}
		pid = child;
	}
	if (cg_vm_attach(cg, "bench", pid, &err) < 0)
		goto out;
	/*
	 * The machine is shared: a large weight for our parent makes the quota,
	 * not the neighbours, the limit being measured (--no-boost to see both).
	 */
	if (boost) {
		char *par = cg_parent_path(cg, "cpu"), *wf = NULL;
		int v2 = cg_mode(cg) == CG_MODE_V2;

		if (par && asprintf(&wf, "%s/%s", par, v2 ? "cpu.weight" : "cpu.shares") > 0) {
			f = fopen(wf, "we");
			if (f) {
				fputs(v2 ? "10000" : "20480", f);
				fclose(f);
			}
		}
		free(wf);
		free(par);
	}
	printf("cgroup %s, pid %d, %.1f s per quota, parent weight %s, loadavg at start: ",
	       cg_mode_name(cg), (int)pid, seconds, boost ? "boosted" : "default");
	f = fopen("/proc/loadavg", "re");
	if (f) {
		char la[64] = "";

		if (fgets(la, sizeof(la), f))
			fputs(la, stdout);
		fclose(f);
	}
	printf("\n| quota %% | share %% (cgroup usage) | share %% (/proc/PID/stat) | "
	       "error (points) |\n|---:|---:|---:|---:|\n");
	for (int i = 0; i < nq; i++) {
		uint64_t u0, u1;
		double t0, t1, p0, p1, share;

		if (cg_vm_set_cpu(cg, "bench", quotas[i], 0, &err) < 0)
			goto out;
		sleep_s(0.5); /* let a period or two pass under the new quota */
		if (cg_vm_cpu_usage_ns(cg, "bench", &u0, &err) < 0 || proc_cpu_s(pid, &p0) < 0)
			goto out;
		t0 = now_s();
		sleep_s(seconds);
		if (cg_vm_cpu_usage_ns(cg, "bench", &u1, &err) < 0 || proc_cpu_s(pid, &p1) < 0)
			goto out;
		t1 = now_s();
		share = (double)(u1 - u0) / 1e9 / (t1 - t0) * 100;
		printf("| %d | %.1f | %.1f | %+.1f |\n", quotas[i], share,
		       (p1 - p0) / (t1 - t0) * 100, share - quotas[i]);
		fflush(stdout);
	}
	rc = 0;
out:
	if (err)
		fprintf(stderr, "cpu-quota: %s\n", err);
	free(err);
	err = NULL;
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	} else if (cg && pid > 0) {
		cg_vm_set_cpu(cg, "bench", CG_CPU_UNLIMITED, 0, NULL);
		if (saved)
			restore(cg, pid, saved);
	}
	if (cg) {
		if (cg_vm_destroy(cg, "bench", &err) < 0) {
			fprintf(stderr, "cpu-quota: %s\n", err);
			rc = 1;
		}
		cg_close(cg);
	}
	free(err);
	free(saved);
	return rc;
}
