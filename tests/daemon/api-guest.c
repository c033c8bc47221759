/*
 * The test guest under TCG: graceful stop is an ACPI power-off, a kernel
 * given no command line still writes its console to console.log, and an
 * agent exec's output is cut at exec_output_max (flagged), even when
 * qemu-ga's reply is over the QMP default of 16 MiB.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/util/b64.h"
#include "tests/lib/daemon-harness.h"

#define OUT_MAX 65536

static struct tdaemon d;

/* POST exec of a shell line: stdout's length and stdout_truncated. */
static void exec_out(const char *line, size_t *len, bool *cut)
{
	char body[512];
	struct json_object *r, *v;
	unsigned char *out;
	long st;

	snprintf(body, sizeof(body), "{\"argv\":[\"sh\",\"-c\",\"%s\"],\"timeout_s\":120}", line);
	r = td_http(&d, "POST", "/v1/vms/g/exec", body, &st);
	cr_assert_eq(st, 200, "exec %s: %ld %s", line, st, td_err_desc(r) ? td_err_desc(r) : "");
	cr_assert(td_str(r, "stdout_b64"));
	out = b64_decode(td_str(r, "stdout_b64"), strlen(td_str(r, "stdout_b64")), len);
	cr_assert_not_null(out);
	free(out);
	cr_assert(json_object_object_get_ex(r, "stdout_truncated", &v));
	*cut = json_object_get_boolean(v);
	json_object_put(r);
}


static void down(void)
{
	td_stop(&d);
}

TestSuite(guest, .fini = down, .timeout = 300);

/* No "append" and no default_append: the console still reaches console.log. */
Test(guest, graceful_stop_is_acpi_poweroff)
{
	const char *gd = getenv("VMSUP_GUEST_DIR");
	char kernel[512], initrd[512], body[2048], console[512] = "";
	struct json_object *r;
	long st;
	int ev;
	pid_t pid;

	if (!gd)
		gd = "/tmp/guest";
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", gd);
	if (access(kernel, R_OK) || access(initrd, R_OK))
		cr_skip_test("no test guest in %s (scripts/mkguest.sh builds it)", gd);
	td_start(&d, "exec_output_max = 65536"); /* OUT_MAX */
	/* every VM's events (g is this daemon's only VM): a stream filtered on
	 * a VM that does not exist yet is 404 */
	ev = td_events_open(&d, NULL);
	snprintf(body, sizeof(body),
		 "{\"name\":\"g\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\"}",
		 kernel, initrd);
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201);
	cr_assert_str_eq(td_str(r, "state"), "running");
	pid = (pid_t)td_int(r, "pid");
	if (td_str(r, "console_log"))
		snprintf(console, sizeof(console), "%s", td_str(r, "console_log"));
	json_object_put(r);
	/* the guest's userland (acpid) is up once it opens the agent port */
	cr_assert(td_events_wait(ev, "VSERPORT_CHANGE", 120000), "guest did not boot in 120 s");
	/* the kernel's first line, and the init script's last (via /dev/console) */
	cr_expect(*console && td_file_has(console, "Linux version"),
		  "no kernel messages in the console log '%s'", console);
	cr_expect(*console && td_file_has(console, "rc: guest up"),
		  "no init output in the console log '%s'", console);
	json_object_put(td_wait_ip(&d, "g", 120, &st));
	cr_assert_eq(st, 200, "the guest's agent did not come up");
	{
		size_t len;
		bool cut;
		double t0;

		exec_out("head -c 1000 /dev/zero", &len, &cut);
		cr_expect(len == 1000 && !cut, "1000 bytes: %zu back, truncated %d", len, cut);
		exec_out("head -c 100000 /dev/zero", &len, &cut);
		cr_expect(len == OUT_MAX && cut, "100000 bytes: %zu back, truncated %d", len, cut);
		/* qemu-ga's reply (base64) over 16 MiB: was a 502 */
		t0 = td_now();
		exec_out("head -c 13000000 /dev/zero", &len, &cut);
		cr_expect(len == OUT_MAX && cut, "13 MB: %zu back, truncated %d", len, cut);
		cr_log_info("13 MB of output through the agent in %.1f s", td_now() - t0);
	}
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
