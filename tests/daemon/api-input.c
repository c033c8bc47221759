/* Bad input: each a 4xx with a clear message; the daemon and VMs unaffected. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/daemon-harness.h"

static struct tdaemon d;
static pid_t witness;

static void up(void)
{
	long st;
	struct json_object *r;

	td_start(&d, NULL);
	r = td_http(&d, "POST", "/v1/vms", "{\"name\":\"witness\",\"guest\":false}", &st);
	cr_assert_eq(st, 201);
	witness = (pid_t)td_int(r, "pid");
	json_object_put(r);
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(input, .init = up, .fini = down, .timeout = 120);

static void expect(const char *method, const char *path, const char *body, long status,
		   const char *cls, const char *needle)
{
	long st;
	struct json_object *r = td_http(&d, method, path, body, &st);

	cr_expect_eq(st, status, "%s %s %s: got %ld", method, path, body ? body : "", st);
	cr_expect_str_eq(td_err_class(r), cls, "%s %s %s", method, path, body ? body : "");
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), needle), "%s %s: desc '%s' lacks '%s'",
		  method, path, td_err_desc(r), needle);
	json_object_put(r);
}

static void still_serving(void)
{
	long st;
	struct json_object *r = td_http(&d, "GET", "/v1/vms/witness", NULL, &st);

	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "running");
	cr_expect_eq(td_int(r, "pid"), witness, "the witness VM was not touched");
	cr_expect(td_pid_is_qemu(witness));
	json_object_put(r);
}

Test(input, malformed_json)
{
	expect("POST", "/v1/vms", "{\"name\":", 400, "InvalidParameter", "malformed JSON");
	expect("POST", "/v1/vms", "{\"name\":\"x\"} trailing", 400, "InvalidParameter",
	       "malformed JSON");
	expect("POST", "/v1/vms", "{'name':'x'}", 400, "InvalidParameter", "malformed JSON");
	expect("POST", "/v1/vms", "", 400, "InvalidParameter", "spec is required");
	expect("POST", "/v1/vms/witness/qmp", "{\"execute\":", 400, "InvalidParameter",
	       "malformed JSON");
	still_serving();
}

Test(input, unknown_fields_and_wrong_types)
{
	expect("POST", "/v1/vms", "{\"name\":\"x\",\"memory\":512}", 400, "InvalidParameter",
	       "unknown field 'memory'");
	expect("POST", "/v1/vms", "{\"name\":\"x\",\"mem_mib\":\"512\"}", 400, "InvalidParameter",
	       "'mem_mib' must be an integer");
	expect("POST", "/v1/vms", "{\"name\":\"x\",\"cpus\":1000}", 400, "InvalidParameter",
	       "'cpus' is 1000");
	expect("POST", "/v1/vms", "{\"name\":[\"x\"]}", 400, "InvalidParameter",
	       "'name' must be a string");
	expect("POST", "/v1/vms", "[1,2]", 400, "InvalidParameter", "JSON object");
	expect("POST", "/v1/vms/witness/stop", "{\"timeout\":3}", 400, "InvalidParameter",
	       "unknown field 'timeout'");
	expect("POST", "/v1/vms/witness/stop", "{\"timeout_s\":\"3\"}", 400, "InvalidParameter",
	       "timeout_s");
	expect("DELETE", "/v1/vms/witness?timeout=soon", NULL, 400, "InvalidParameter", "timeout");
	still_serving();
}

Test(input, duplicates_and_names)
{
	expect("POST", "/v1/vms", "{\"name\":\"witness\",\"guest\":false}", 409, "Conflict",
	       "already exists");
	expect("POST", "/v1/vms", "{\"name\":\"../../etc/passwd\"}", 400, "InvalidParameter",
	       "'name'");
	expect("POST", "/v1/vms", "{\"name\":\"a/b\"}", 400, "InvalidParameter", "'name'");
	expect("POST", "/v1/vms", "{\"name\":\".hidden\"}", 400, "InvalidParameter", "'name'");
	expect("GET", "/v1/vms/..%2F..%2Fetc", NULL, 400, "InvalidParameter", "bad VM name");
	expect("GET", "/v1/vms/nosuch", NULL, 404, "NotFound", "no VM named 'nosuch'");
	expect("POST", "/v1/vms/nosuch/pause", NULL, 404, "NotFound", "nosuch");
	/* not a stream that waits forever for a VM that is not there */
	expect("GET", "/v1/events?vm=nosuch", NULL, 404, "NotFound", "no VM named 'nosuch'");
	still_serving();
}

Test(input, paths_and_methods)
{
	expect("GET", "/v2/vms", NULL, 404, "NotFound", "no such path");
	expect("GET", "/v1/vms/witness/frobnicate", NULL, 404, "NotFound", "no such path");
	expect("PUT", "/v1/vms", "{}", 405, "MethodNotAllowed", "PUT");
	expect("GET", "/v1/vms/witness/pause", NULL, 405, "MethodNotAllowed", "POST");
	expect("POST", "/v1/version", NULL, 405, "MethodNotAllowed", "GET");
	expect("POST", "/v1/vms/witness/start", NULL, 409, "Conflict", "it is running");
	expect("POST", "/v1/vms/witness/resume", NULL, 409, "Conflict", "it is running");
	expect("GET", "/v1/vms/witness/ip", NULL, 503, "AgentNotReady", "agent not ready");
	still_serving();
}

Test(input, oversize_bodies)
{
	size_t n = 1024 * 1024 + 100;
	char *big = malloc(n);
	long st;
	struct json_object *r;

	memset(big, ' ', n);
	memcpy(big, "{\"name\":\"x\"}", 12);
	r = td_http_raw(&d, "POST", "/v1/vms", big, n, &st);
	cr_expect_eq(st, 413);
	cr_expect_str_eq(td_err_class(r), "TooLarge");
	json_object_put(r);
	/* far over: refused before it is read */
	big = realloc(big, 8 * 1024 * 1024);
	memset(big, ' ', 8 * 1024 * 1024);
	r = td_http_raw(&d, "POST", "/v1/vms", big, 8 * 1024 * 1024, &st);
	cr_expect_eq(st, 413);
	json_object_put(r);
	free(big);
	still_serving();
}
