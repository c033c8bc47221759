#include "tests/limits/limits-util.h"

#include "src/util/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

long long lt_read_ll(const char *dir, const char *file)
{
	char path[512];
	long long v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!(f = fopen(path, "re")))
		return -2;
	if (fscanf(f, "%lld", &v) != 1)
		v = -2;
	fclose(f);
	return v;
}

int lt_write(const char *dir, const char *file, const char *text)
{
	char path[512];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (!(f = fopen(path, "we")))
		return -1;
	if (fputs(text, f) < 0)
		ret = -1;
	if (fclose(f) != 0)
		ret = -1;
	return ret;
}

char *lt_parent(const char *path)
{
	char *p = strdup(path), *s = p ? strrchr(p, '/') : NULL;

	if (s)
		*s = '\0';
	return p;
}

bool lt_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

double lt_proc_cpu(pid_t pid)
{
	double s;

	return vmsup_proc_cpu_seconds(pid, &s, NULL) ? -1 : s;
}

const char *lt_guest_dir(void)
{
	static char kernel[512];
	const char *gd = getenv("VMSUP_GUEST_DIR");

	if (!gd)
		gd = "/tmp/guest";
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd);
	if (access(kernel, R_OK))
		return NULL;
	return gd;
}

const char *lt_guest_spec(const char *name, int mem_mib, int cpus)
{
	static char body[2048];
	char append[512] = "console=ttyS0";
	const char *gd = lt_guest_dir();

	td_guest_append(gd, append, sizeof(append));
	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"accel\":\"tcg\",\"mem_mib\":%d,\"cpus\":%d,"
		 "\"kernel\":\"%s/vmlinuz\",\"initrd\":\"%s/initrd.img\",\"append\":\"%s\"}",
		 name, mem_mib, cpus, gd, gd, append);
	return body;
}

int lt_ssh(int port, const char *cmd, char *out, size_t outlen, int timeout_ms)
{
	char ports[16], key[512];
	int pfd[2], st = 0;
	size_t used = 0;
	double deadline = td_now() + timeout_ms / 1000.0;
	pid_t pid;

	snprintf(ports, sizeof(ports), "%d", port);
	snprintf(key, sizeof(key), "%s/test_key", lt_guest_dir());
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	if ((pid = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(null, 2);
		execlp("ssh", "ssh", "-i", key, "-p", ports, "-o", "StrictHostKeyChecking=no", "-o",
		       "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o",
		       "ConnectTimeout=15", "-o", "LogLevel=ERROR", "root@127.0.0.1", cmd,
		       (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = {pfd[0], POLLIN, 0};
		char buf[4096];
		int left = (int)((deadline - td_now()) * 1000);
		ssize_t n;

		if (left <= 0 || poll(&p, 1, left) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			close(pfd[0]);
			return -1;
		}
		n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out && used + 1 < outlen) {
			size_t k = (size_t)n < outlen - 1 - used ? (size_t)n : outlen - 1 - used;
			memcpy(out + used, buf, k);
			used += k;
		}
	}
	close(pfd[0]);
	if (out && outlen)
		out[used] = '\0';
	/* a background job in the guest may keep the session: bounded wait */
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (td_now() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		usleep(20000);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

bool lt_ssh_wait(int port, int timeout_ms)
{
	double deadline = td_now() + timeout_ms / 1000.0;

	while (td_now() < deadline) {
		if (lt_ssh(port, "true", NULL, 0, 30000) == 0)
			return true;
		sleep(2);
	}
	return false;
}

long lt_guest_memtotal_kb(int port)
{
	char out[4096], *p;
	long kb;

	if (lt_ssh(port, "cat /proc/meminfo", out, sizeof(out), 30000) != 0)
		return -1;
	if (!(p = strstr(out, "MemTotal:")) || sscanf(p + 9, "%ld", &kb) != 1)
		return -1;
	return kb;
}
