#include "tests/lib/vmctl-run.h"

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int td_vmctl(struct tdaemon *d, char *out, size_t n, ...)
{
	const char *b = getenv("top_builddir");
	char bin[512], *argv[32];
	int pfd[2], st, argc = 0;
	size_t got = 0;
	va_list ap;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/src/cli/vmctl", b ? b : ".");
	argv[argc++] = "vmctl";
	argv[argc++] = "--socket";
	argv[argc++] = d->sock;
	va_start(ap, n);
	for (char *a; argc < 31 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execv(bin, argv);
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		char buf[512];
		ssize_t r = read(pfd[0], buf, sizeof(buf));
		if (r <= 0)
			break;
		for (ssize_t i = 0; i < r && got + 1 < n; i++)
			out[got++] = buf[i];
	}
	out[got] = '\0';
	close(pfd[0]);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
