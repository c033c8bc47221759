/*
 * Real vmsupd, vmctl and qemu: `vmctl shutdown --all` (POST /v1/shutdown,
 * issue 20), what vmsupd-guests.service runs at host shutdown. A booted
 * test guest powers off through ACPI, guest-less VMs are quit at once, all
 * in parallel, well under stop_grace_s; the daemon serves on.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/core/reattach-util.h"
#include "tests/daemon/service-util.h"

static struct tdaemon d;

static void up(void)
{
	td_start(&d, "stop_grace_s = 30\non_exit = keep");
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(shutdown, .init = up, .fini = down, .timeout = 300);

static void expect_stopped(const char *name, pid_t pid)
{
	struct json_object *vm = rt_get(&d, name);

	cr_expect_str_eq(td_str(vm, "state"), "stopped", "%s: %s (%s)", name, td_str(vm, "state"),
			 td_str(vm, "error"));
	cr_expect(td_pid_gone(pid, 2000), "%s: qemu %d still runs", name, (int)pid);
	json_object_put(vm);
}

/* 1 booted test guest (agent and address up) and 3 guest-less VMs. */
Test(shutdown, guest_acpi_guestless_quit)
{
	const char *gd = getenv("VMSUP_GUEST_DIR");
	char kernel[512], initrd[512], body[2048], out[4096], want[64], append[512] = "";
	struct json_object *r;
	pid_t gpid, pids[3];
	double t0, secs;
	long st;
	int ev, rc;

	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd ? gd : "");
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", gd ? gd : "");
	if (!gd || access(kernel, R_OK) || access(initrd, R_OK))
		cr_skip_test("no test guest (VMSUP_GUEST_DIR; scripts/mkguest.sh builds it)");
	/* the guest's own command line: without its no_timer_check a loaded
	 * TCG host can panic the kernel's IO-APIC timer check (scripts/mkguest.sh) */
	td_guest_append(gd, append, sizeof(append));
	snprintf(body, sizeof(body),
		 "{\"name\":\"g\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\",\"append\":\"%s\"}",
		 kernel, initrd, append);
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create g: %ld %s", st, td_err_desc(r));
	cr_assert_str_eq(td_str(r, "state"), "running", "%s", td_str(r, "error"));
	gpid = (pid_t)td_int(r, "pid");
	json_object_put(r);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "q%d", i);
		pids[i] = rt_create(&d, name, NULL);
	}
	/* fully booted: agent ready and an address */
	r = td_http(&d, "GET", "/v1/vms/g/ip?wait=120", NULL, &st);
	cr_assert_eq(st, 200, "g: no address in 120 s: %ld %s", st, td_err_desc(r));
	cr_assert_not_null(td_str(r, "ip"), "g: no ip");
	json_object_put(r);
	r = rt_get(&d, "g");
	cr_assert_str_eq(td_str(r, "agent"), "ready");
	json_object_put(r);

	ev = td_events_open(&d, "g");
	t0 = td_now();
	rc = td_vmctl(&d, out, sizeof(out), "shutdown", "--all", NULL);
	secs = td_now() - t0;
	fprintf(stderr,
		"measured: vmctl shutdown --all (1 booted guest, 3 guest-less, "
		"stop_grace_s = 30): %.3f s\n%s",
		secs, out);
	cr_expect_eq(rc, 0, "vmctl shutdown --all: exit %d: %s", rc, out);
	cr_expect_lt(secs, 15.0, "took %.2f s (grace 30 s)", secs);
	cr_expect(strstr(out, "g: stopped (acpi)"), "g not powered off by ACPI: %s", out);
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "q%d: stopped (quit)", i);
		cr_expect(strstr(out, want), "no '%s' in: %s", want, out);
	}
	cr_expect(strstr(out, "4 stopped, 0 failed"), "%s", out);
	/* the guest powered itself off: SHUTDOWN came from the guest */
	cr_expect(td_events_wait(ev, "\"guest\":true", 2000),
		  "no guest-initiated SHUTDOWN event for g");
	close(ev);
	expect_stopped("g", gpid);
	r = rt_get(&d, "g");
	cr_expect_eq(td_int(r, "exit_status"), 0, "g exit status");
	cr_expect_eq(td_int(r, "exit_signal"), -1, "g was killed");
	json_object_put(r);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof(name), "q%d", i);
		expect_stopped(name, pids[i]);
	}
	cr_expect_eq(td_count_qemus(&d), 0);
	/* the daemon serves on; a second shutdown has nothing to do */
	rc = td_vmctl(&d, out, sizeof(out), "shutdown", "--all", NULL);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "0 stopped, 0 failed"), "%s", out);
}

/* Guest-less VMs only: quit at once, in parallel (grace 30 s, none waited). */
Test(shutdown, guestless_at_once)
{
	char out[4096];
	pid_t pids[6];
	double t0, secs;
	struct json_object *r, *vms;
	long st;
	int rc;

	for (int i = 0; i < 6; i++) {
		char name[16];
		snprintf(name, sizeof(name), "n%d", i);
		pids[i] = rt_create(&d, name, NULL);
	}
	r = td_http(&d, "POST", "/v1/vms", "{\"name\":\"def\",\"guest\":false,\"start\":false}",
		    &st);
	cr_assert_eq(st, 201);
	json_object_put(r);
	t0 = td_now();
	rc = td_vmctl(&d, out, sizeof(out), "-o", "json", "shutdown", "--all", "--timeout", "20",
		      NULL);
	secs = td_now() - t0;
	fprintf(stderr, "measured: vmctl shutdown --all (6 guest-less): %.3f s\n", secs);
	cr_expect_eq(rc, 0, "exit %d: %s", rc, out);
	cr_expect_lt(secs, 3.0, "took %.2f s", secs);
	r = json_tokener_parse(out);
	cr_assert_not_null(r, "not JSON: %s", out);
	cr_expect_eq(td_int(r, "stopped"), 6);
	cr_expect_eq(td_int(r, "failed"), 0);
	cr_assert(json_object_object_get_ex(r, "vms", &vms));
	cr_expect_eq(json_object_array_length(vms), 6, "the defined VM is not in: %s", out);
	for (size_t i = 0; i < json_object_array_length(vms); i++)
		cr_expect_str_eq(td_str(json_object_array_get_idx(vms, i), "stopped_by"), "quit");
	json_object_put(r);
	for (int i = 0; i < 6; i++)
		cr_expect(td_pid_gone(pids[i], 2000), "n%d still runs", i);
}

Test(shutdown, bad_requests)
{
	static const char *const bad[] = {"{\"timeout_s\":-1}", "{\"timeout_s\":\"5\"}",
					  "{\"timeout_s\":86401}", "{\"all\":true}", "[]"};
	char out[1024];
	struct json_object *r;
	long st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = td_http(&d, "POST", "/v1/shutdown", bad[i], &st);
		cr_expect_eq(st, 400, "%s: %ld", bad[i], st);
		cr_expect_str_eq(td_err_class(r), "InvalidParameter", "%s", bad[i]);
		json_object_put(r);
	}
	r = td_http(&d, "GET", "/v1/shutdown", NULL, &st);
	cr_expect_eq(st, 405);
	json_object_put(r);
	cr_expect_eq(td_vmctl(&d, out, sizeof(out), "shutdown", NULL), 2, "%s", out);
	cr_expect(strstr(out, "--all is required"), "%s", out);
	cr_expect_eq(td_vmctl(&d, out, sizeof(out), "shutdown", "--all", "--timeout", "x", NULL), 2,
		     "%s", out);
}
