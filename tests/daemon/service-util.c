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
