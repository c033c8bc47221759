/*
 * qemu_sandbox (vmsupd.conf): auto (the default) runs qemu under its
 * seccomp filter when the binary supports it, off never does. Real vmsupd
 * and qemu (guest-less); qemu's command line read from /proc/PID/cmdline.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/daemon-harness.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

/* Create a guest-less VM and read its qemu's command line into buf. */
static void vm_cmdline(const char *name, char *buf, size_t size)
{
	char spec[256];
	struct json_object *o;
	long st;

	snprintf(spec, sizeof(spec),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64}", name);
	o = td_http(&d, "POST", "/v1/vms", spec, &st);
	cr_assert_eq(st, 201);
	td_cmdline((pid_t)td_int(o, "pid"), buf, size);
	json_object_put(o);
}

TestSuite(sandbox, .fini = down, .timeout = 120);

Test(sandbox, auto_uses_it_off_does_not)
{
	char line[8192];

	if (system("qemu-system-x86_64 -sandbox on -version >/dev/null 2>&1") != 0)
		cr_skip_test("this qemu has no -sandbox (built without seccomp)");
	/* qemu as root, by choice (a daemon that is not root ignores it) */
	td_start(&d, "qemu_user = root\n");
	vm_cmdline("a", line, sizeof(line));
	cr_expect(strstr(line, " -sandbox on,obsolete=deny,elevateprivileges=deny,spawn=deny,"
			       "resourcecontrol=deny "),
		  "default: %s", line);
	cr_expect_not(strstr(line, "-runas"), "qemu_user = root: %s", line);
	td_stop(&d);
	if (geteuid() == 0) {
		/* the default qemu_user: -runas changes qemu's ids once, the
		 * sandbox allows that and nothing else more */
		td_start(&d, NULL);
		vm_cmdline("c", line, sizeof(line));
		cr_expect(strstr(line, " -sandbox on,obsolete=deny,elevateprivileges=allow,"
				       "spawn=deny,resourcecontrol=deny ") &&
			      strstr(line, " -runas vmsup-qemu "),
			  "default as root: %s", line);
		td_stop(&d);
	}
	td_start(&d, "qemu_sandbox = off\n");
	vm_cmdline("b", line, sizeof(line));
	cr_expect_not(strstr(line, "-sandbox"), "off: %s", line);
}
