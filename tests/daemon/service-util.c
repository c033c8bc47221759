#include "tests/daemon/service-util.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int sv_vmctl(struct tdaemon *d, char *out, size_t n, ...)
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

double sv_sigterm(struct tdaemon *d)
{
	double t0 = td_now();
	int st = 0;

	cr_assert_eq(kill(d->pid, SIGTERM), 0);
	while (waitpid(d->pid, &st, WNOHANG) == 0) {
		if (td_now() > t0 + 60) {
			kill(d->pid, SIGKILL);
			waitpid(d->pid, &st, 0);
			d->pid = 0;
			cr_assert_fail("vmsupd did not exit within 60 s of SIGTERM");
		}
		usleep(2000);
	}
	d->pid = 0;
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "vmsupd exit status %#x", st);
	return td_now() - t0;
}

int sv_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return -1;
	return json_object_get_boolean(v);
}
