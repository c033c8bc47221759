/*
 * Real vmsupd, real qemu (guest-less VMs): autostart (issue 20). A VM whose
 * spec says "autostart": true (POST /v1/vms, vmctl create --autostart,
 * vmctl autostart NAME on) is started when vmsupd starts, if it does not
 * run then; the others stay as they were. Bad values are refused with 400.
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

TestSuite(autostart, .init = up, .fini = down, .timeout = 300);

static void stop_vm(const char *name)
{
	char path[128];
	struct json_object *r;
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s/stop", name);
	r = td_http(&d, "POST", path, NULL, &st);
	cr_assert_eq(st, 200, "stop %s: %ld %s", name, st, td_err_desc(r));
	cr_assert_str_eq(td_str(r, "state"), "stopped", "stop %s", name);
	json_object_put(r);
}

static void expect_autostart(const char *name, int want)
{
	struct json_object *vm = rt_get(&d, name);

	cr_expect_eq(sv_bool(vm, "autostart"), want, "%s: status autostart %d, want %d", name,
		     sv_bool(vm, "autostart"), want);
	json_object_put(vm);
}

/* The spec in the VM's state file says autostart = want. */
static void expect_state_file(const char *name, int want)
{
	char path[256];
	struct json_object *j, *spec = NULL;

	snprintf(path, sizeof(path), "%s/state/%s.json", d.dir, name);
	j = json_object_from_file(path);
	cr_assert_not_null(j, "%s unreadable", path);
	cr_expect(json_object_object_get_ex(j, "spec", &spec), "%s has no spec", path);
	cr_expect_eq(sv_bool(spec, "autostart"), want, "%s: spec autostart %d, want %d", path,
		     sv_bool(spec, "autostart"), want);
	json_object_put(j);
}

static const char *state_of(const char *name, pid_t *pid)
{
	static char s[32];
	struct json_object *vm = rt_get(&d, name);

	snprintf(s, sizeof(s), "%s", td_str(vm, "state") ? td_str(vm, "state") : "?");
	if (pid)
		*pid = (pid_t)td_int(vm, "pid");
	json_object_put(vm);
	return s;
}

/* a0 (spec) and a2 (vmctl autostart on) are autostart, a1 and a3 (vmctl
 * create --autostart, then autostart off) not; all stopped (a2 never
 * started). After a daemon restart only a0 and a2 run; a second restart
 * with them running reattaches them (same pids) rather than starting them
 * again; a stop afterwards is not undone (autostart is once per start). */
Test(autostart, only_autostart_vms_come_up)
{
	char out[2048];
	pid_t old0, pid0, pid2, again0, again2;
	int rc;

	old0 = rt_create(&d, "a0", "\"autostart\":true");
	rt_create(&d, "a1", NULL);
	rc = td_vmctl(&d, out, sizeof(out), "create", "a2", "--no-guest", "--mem", "64",
		      "--no-start", NULL);
	cr_assert_eq(rc, 0, "vmctl create a2: %d %s", rc, out);
	rc = td_vmctl(&d, out, sizeof(out), "autostart", "a2", "on", NULL);
	cr_assert_eq(rc, 0, "vmctl autostart a2 on: %d %s", rc, out);
	cr_expect(strstr(out, "a2: autostart on"), "vmctl said: %s", out);
	rc = td_vmctl(&d, out, sizeof(out), "create", "a3", "--no-guest", "--mem", "64",
		      "--autostart", NULL);
	cr_assert_eq(rc, 0, "vmctl create a3 --autostart: %d %s", rc, out);
	expect_autostart("a3", 1);
	rc = td_vmctl(&d, out, sizeof(out), "autostart", "a3", "off", NULL);
	cr_assert_eq(rc, 0, "vmctl autostart a3 off: %d %s", rc, out);
	cr_expect(strstr(out, "a3: autostart off"), "vmctl said: %s", out);

	expect_autostart("a0", 1);
	expect_autostart("a1", 0);
	expect_autostart("a2", 1);
	expect_autostart("a3", 0);
	stop_vm("a0");
	stop_vm("a1");
	stop_vm("a3");
	/* on disk when the replies came (no deferred write in between) */
	expect_state_file("a0", 1);
	expect_state_file("a1", 0);
	expect_state_file("a2", 1);
	expect_state_file("a3", 0);

	sv_sigterm(&d);
	td_restart(&d);
	json_object_put(rt_wait_state(&d, "a0", "running", old0, 15000));
	json_object_put(rt_wait_state(&d, "a2", "running", 0, 15000));
	usleep(1000 * 1000); /* time for a wrong start of a1 or a3 to show */
	cr_expect_str_eq(state_of("a0", &pid0), "running");
	cr_expect_str_eq(state_of("a2", &pid2), "running");
	cr_expect_str_eq(state_of("a1", NULL), "stopped", "a1 (no autostart) came up");
	cr_expect_str_eq(state_of("a3", NULL), "stopped", "a3 (autostart off) came up");
	cr_expect(td_pid_is_qemu(pid0) && td_pid_is_qemu(pid2));
	cr_expect_eq(td_count_qemus(&d), 2);
	expect_autostart("a0", 1);
	expect_autostart("a3", 0);

	/* running at the next start: reattached, not started again */
	sv_sigterm(&d);
	td_restart(&d);
	usleep(500 * 1000);
	cr_expect_str_eq(state_of("a0", &again0), "running");
	cr_expect_str_eq(state_of("a2", &again2), "running");
	cr_expect_eq(again0, pid0, "a0: pid %d, was %d", (int)again0, (int)pid0);
	cr_expect_eq(again2, pid2, "a2: pid %d, was %d", (int)again2, (int)pid2);
	cr_expect_eq(td_count_qemus(&d), 2);

	/* once: a stop is not undone while this daemon runs */
	stop_vm("a0");
	usleep(1500 * 1000);
	cr_expect_str_eq(state_of("a0", NULL), "stopped", "a0 came back after its stop");
}

/* PUT with body; expects status want and, for an error, desc containing needle. */
static void put_autostart(const char *name, const char *body, long want, const char *needle)
{
	char path[128];
	struct json_object *r;
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s/autostart", name);
	r = td_http(&d, "PUT", path, body, &st);
	cr_expect_eq(st, want, "PUT %s %s: %ld %s", path, body ? body : "-", st, td_err_desc(r));
	if (needle)
		cr_expect(td_err_desc(r) && strstr(td_err_desc(r), needle),
			  "PUT %s %s: error '%s' does not say '%s'", path, body ? body : "-",
			  td_err_desc(r), needle);
	json_object_put(r);
}

Test(autostart, bad_values_refused)
{
	static const char *const bad[] = {"\"yes\"", "1", "[true]", "{}"};
	struct json_object *r;
	char body[256], out[1024];
	long st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body), "{\"name\":\"b%zu\",\"guest\":false,\"autostart\":%s}",
			 i, bad[i]);
		r = td_http(&d, "POST", "/v1/vms", body, &st);
		cr_expect_eq(st, 400, "%s: %ld", body, st);
		cr_expect_str_eq(td_err_class(r), "InvalidParameter", "%s", body);
		cr_expect(td_err_desc(r) &&
			      strstr(td_err_desc(r), "'autostart' must be true or false"),
			  "%s: %s", body, td_err_desc(r));
		json_object_put(r);
	}
	r = td_http(&d, "GET", "/v1/vms", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect(!strstr(json_object_to_json_string(r), "\"b"), "a refused VM exists: %s",
		  json_object_to_json_string(r));
	json_object_put(r);

	r = td_http(&d, "POST", "/v1/vms", "{\"name\":\"v\",\"guest\":false,\"start\":false}", &st);
	cr_assert_eq(st, 201, "%ld %s", st, td_err_desc(r));
	cr_expect_eq(sv_bool(r, "autostart"), 0, "default autostart");
	json_object_put(r);
	put_autostart("v", "{\"autostart\":\"on\"}", 400, "'autostart' must be true or false");
	put_autostart("v", "{\"autostart\":1}", 400, "'autostart' must be true or false");
	put_autostart("v", "{}", 400, "'autostart' is required");
	put_autostart("v", NULL, 400, "JSON object");
	put_autostart("v", "[true]", 400, "JSON object");
	put_autostart("v", "{\"autostart\":true,\"now\":true}", 400, "unknown field 'now'");
	put_autostart("nope", "{\"autostart\":true}", 404, "no VM named 'nope'");
	expect_autostart("v", 0); /* nothing of the refused requests stuck */
	put_autostart("v", "{\"autostart\":true}", 200, NULL);
	expect_autostart("v", 1);
	r = td_http(&d, "POST", "/v1/vms/v/autostart", "{\"autostart\":true}", &st);
	cr_expect_eq(st, 405, "POST autostart: %ld", st);
	json_object_put(r);
	cr_expect_eq(td_vmctl(&d, out, sizeof(out), "autostart", "v", "maybe", NULL), 2,
		     "vmctl autostart v maybe: %s", out);
	cr_expect(strstr(out, "'maybe' is not on or off"), "%s", out);
	cr_expect_eq(td_vmctl(&d, out, sizeof(out), "autostart", "v", NULL), 2, "%s", out);
	cr_expect_eq(td_vmctl(&d, out, sizeof(out), "autostart", "nope", "on", NULL), 1, "%s", out);
	cr_expect(strstr(out, "vmctl: nope: "), "%s", out);
}
