/* Small helpers shared by the cgroup/pin tests (header-only, static). */
#ifndef TESTS_CGROUP_UTIL_H
#define TESTS_CGROUP_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static inline void tu_sleep(double s)
{
	struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static inline double tu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whole file as a string (static buffer per call site is enough for tests); NULL on error. */
static inline char *tu_read(const char *path)
{
	static char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return buf;
}

static inline int tu_write(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -1;
}

static inline char *tu_join(const char *a, const char *b)
{
	char *s = NULL;

	if (asprintf(&s, "%s/%s", a, b) < 0)
		return NULL;
	return s;
}

/* utime + stime of a whole process in seconds, -1 on error. */
static inline double tu_proc_cpu(pid_t pid)
{
	char path[64], *buf, *p;
	unsigned long long ut, st;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	buf = tu_read(path);
	if (!buf || !(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A child that spins until killed. */
static inline pid_t tu_spin(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		volatile unsigned long n = 0;

		for (;;)
			n++;
	}
	return pid;
}

/* Wait for pid at most s seconds; returns the status, or -1 on timeout. */
static inline int tu_wait(pid_t pid, double s)
{
	double end = tu_now() + s;
	int st;

	while (tu_now() < end) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0)
			return -1;
		tu_sleep(0.02);
	}
	return -1;
}

static inline void tu_kill(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		waitpid(*pid, NULL, 0);
		*pid = 0;
	}
}

static inline int tu_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

/* rm -r of a test's own mkdtemp() directory. */
static inline void tu_rmtree(const char *dir)
{
	if (dir && strncmp(dir, "/tmp/", 5) == 0)
		nftw(dir, tu_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

#endif
