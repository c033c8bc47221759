#include "src/qemu/probe.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/qemu/argv.h"
#include "src/util/err.h"

extern char **environ;

/* Run argv, collect up to len-1 bytes of stdout; returns the exit status or -1. */
static int run(char *const argv[], char *out, size_t len, char **err)
{
	posix_spawn_file_actions_t fa;
	int p[2], st = 0, rc;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return vmsup_err(err, "pipe: %s", strerror(errno));
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	if (rc != 0) {
		close(p[0]);
		return vmsup_err(err, "%s: %s", argv[0], strerror(rc));
	}
	while ((n = read(p[0], out + got, len - 1 - got)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			got += (size_t)n;
	out[got] = '\0';
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return vmsup_err(err, "waitpid: %s", strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return vmsup_err(err, "%s: could not be executed", argv[0]);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int vm_probe_qemu(const char *qemu, bool *sandbox, char **version, char **err)
{
	char out[512];
	const char *v;
	int rc;
	char *with[] = {(char *)qemu, "-sandbox", VM_SANDBOX_OPTS, "-version", NULL};
	char *without[] = {(char *)qemu, "-version", NULL};

	*sandbox = false;
	*version = NULL;
	rc = run(with, out, sizeof(out), err);
	if (rc < 0)
		return -1;
	if (rc == 0) {
		*sandbox = true;
	} else {
		rc = run(without, out, sizeof(out), err);
		if (rc < 0)
			return -1;
		if (rc != 0)
			return vmsup_err(err, "%s -version exited with status %d", qemu, rc);
	}
	v = strstr(out, "version ");
	if (v) {
		v += strlen("version ");
		*version = strndup(v, strspn(v, "0123456789."));
	} else {
		*version = strdup("unknown");
	}
	return *version ? 0 : vmsup_err(err, "out of memory");
}
