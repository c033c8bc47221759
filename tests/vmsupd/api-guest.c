/* The test guest under TCG: graceful stop is an ACPI power-off. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/vmsupd/harness.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

TestSuite(guest, .fini = down, .timeout = 300);

Test(guest, graceful_stop_is_acpi_poweroff)
{
	const char *gd = getenv("VMSUP_GUEST_DIR");
	char kernel[512], initrd[512], appendf[512], append[512] = "console=ttyS0", body[2048];
	struct json_object *r;
	FILE *f;
	long st;
	int ev;
	pid_t pid;

	if (!gd)
		gd = "/tmp/guest";
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", gd);
	snprintf(appendf, sizeof(appendf), "%s/append", gd);
	if (access(kernel, R_OK) || access(initrd, R_OK))
		cr_skip_test("no test guest in %s (scripts/mkguest.sh builds it)", gd);
	if ((f = fopen(appendf, "r"))) {
		if (fgets(append, sizeof(append), f))
			append[strcspn(append, "\n")] = '\0';
		fclose(f);
	}
	td_start(&d, NULL);
	ev = td_events_open(&d, "g");
	snprintf(body, sizeof(body),
		 "{\"name\":\"g\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\",\"append\":\"%s\"}",
		 kernel, initrd, append);
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201);
	cr_assert_str_eq(td_str(r, "state"), "running");
	pid = (pid_t)td_int(r, "pid");
	json_object_put(r);
	/* the guest's userland (acpid) is up once it opens the agent port */
	cr_assert(td_events_wait(ev, "VSERPORT_CHANGE", 120000), "guest did not boot in 120 s");
	r = td_http(&d, "POST", "/v1/vms/g/stop", "{\"timeout_s\":90}", &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "stopped");
	cr_expect_eq(td_int(r, "exit_status"), 0);
	json_object_put(r);
	/* the guest powered itself off: SHUTDOWN came from the guest, not from quit */
	cr_expect(td_events_wait(ev, "\"guest\":true", 1000),
		  "no guest-initiated SHUTDOWN event (power-off timed out into quit?)");
	cr_expect(td_pid_gone(pid, 5000));
	close(ev);
}
