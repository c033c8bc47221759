/*
 * Real vmsupd; in place of qemu, tests/fakes/fake-qemu (the fake QMP
 * server behind a qemu command line) sends what QEMU 7.2 sends when KVM
 * fails (STOP, query-status internal-error) or a guest panics
 * (GUEST_PANICKED with action pause or poweroff, SHUTDOWN reason
 * guest-panic): the VM is crashed with the reason in error, the crash is
 * an event, and the restart policy applies.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/core/reattach-util.h"

static struct tdaemon d;

static void up(void)
{
	char conf[PATH_MAX + 64], bin[PATH_MAX], real[PATH_MAX];
	const char *top = getenv("top_builddir");

	snprintf(bin, sizeof(bin), "%s/tests/fakes/fake-qemu", top ? top : ".");
	cr_assert_eq(access(bin, X_OK), 0, "%s: build it with make check", bin);
	cr_assert_not_null(realpath(bin, real));
	snprintf(conf, sizeof(conf), "qemu = %s\nstop_grace_s = 2\nrestart_burst = 5", real);
	td_start(&d, conf);
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(fatal, .init = up, .fini = down, .timeout = 120);

/* The VM crashes by itself: error and event say why. */
static void expect_crash(const char *name, const char *extra, const char *why)
{
	char needle[128];
	struct json_object *vm;
	int ev = td_events_open(&d, NULL); /* ?vm= wants an existing VM */
	pid_t pid = rt_create(&d, name, extra);

	snprintf(needle, sizeof(needle), "\"vm\":\"%s\",\"type\":\"state\",\"state\":\"crashed\"",
		 name);
	cr_expect(td_events_wait(ev, needle, 15000), "%s: a crashed state event", name);
	close(ev);
	vm = rt_wait_state(&d, name, "crashed", 0, 15000);
	cr_expect(td_str(vm, "error") && strstr(td_str(vm, "error"), why), "%s: error %s", name,
		  td_str(vm, "error"));
	json_object_put(vm);
	cr_expect(td_pid_gone(pid, 5000), "%s: its qemu is gone", name);
}

Test(fatal, internal_error_is_crashed)
{
	expect_crash("ierr", NULL, "internal-error");
}

Test(fatal, guest_panic_pause_is_crashed)
{
	expect_crash("panicp", NULL, "panicked");
}

Test(fatal, guest_panic_shutdown_is_crashed)
{
	expect_crash("pshut", NULL, "panicked");
}

Test(fatal, restart_policy_applies)
{
	struct json_object *vm;
	double deadline;

	expect_crash("ierr2", "\"restart\":\"on-failure\"", "internal-error");
	/* between the crash and the attempt: the health says the VM is down */
	deadline = td_now() + 10;
	while (!rt_health_says(&d, "restart_pending", "ierr2") && td_now() < deadline)
		usleep(20000);
	cr_expect_lt(td_now(), deadline, "health: restart_pending for ierr2");
	/* restarted (and crashing again: the fake does the same each time) */
	deadline = td_now() + 20;
	do {
		vm = rt_get(&d, "ierr2");
		if (td_int(vm, "restarts") >= 1)
			break;
		json_object_put(vm);
		vm = NULL;
		usleep(50000);
	} while (td_now() < deadline);
	cr_expect_not_null(vm, "restarted after the crash");
	json_object_put(vm);
}
