/*
 * Real vmsupd, real qemu (guest-less, under -sandbox spawn=deny): QMP that
 * would make qemu spawn a process or open a host path is refused before it
 * reaches qemu, through the API's passthrough and through the ops socket,
 * and the VM keeps running (issue 27, item 5).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "tests/vmsupd/harness.h"

static struct tdaemon d;

static void up(void)
{
	td_start(&d, NULL);
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(qmpguard, .init = up, .fini = down, .timeout = 180);

static struct json_object *create(const char *name, pid_t *pid)
{
	char body[256];
	long st;
	struct json_object *vm;

	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64}", name);
	vm = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create: %ld", st);
	cr_assert_str_eq(td_str(vm, "state"), "running");
	*pid = (pid_t)td_int(vm, "pid");
	cr_assert(td_pid_is_qemu(*pid));
	return vm;
}

/* query-status through the API says running, and qemu's pid lives on */
static void expect_alive(const char *name, pid_t pid)
{
	char path[128];
	long st;
	struct json_object *r, *ret, *s;

	snprintf(path, sizeof(path), "/v1/vms/%s/qmp", name);
	r = td_http(&d, "POST", path, "{\"execute\":\"query-status\"}", &st);
	cr_expect_eq(st, 200, "query-status after the refusal: %ld %s", st,
		     r ? json_object_to_json_string(r) : "");
	cr_expect(r && json_object_object_get_ex(r, "return", &ret) &&
		      json_object_object_get_ex(ret, "status", &s) &&
		      !strcmp(json_object_get_string(s), "running"),
		  "VM not running: %s", r ? json_object_to_json_string(r) : "");
	json_object_put(r);
	usleep(300 * 1000); /* a qemu killed by seccomp takes a moment to go */
	cr_expect(td_pid_is_qemu(pid), "qemu %d died", (int)pid);
}

/* POST the command; expect 403 PermissionDenied whose desc holds needle */
static void expect_refused(const char *name, const char *cmd, const char *needle)
{
	char path[128];
	long st;
	struct json_object *r;

	snprintf(path, sizeof(path), "/v1/vms/%s/qmp", name);
	r = td_http(&d, "POST", path, cmd, &st);
	cr_expect_eq(st, 403, "%s: status %ld %s", cmd, st, r ? json_object_to_json_string(r) : "");
	cr_expect_str_eq(td_err_class(r), "PermissionDenied", "%s", cmd);
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), needle), "%s: desc '%s' lacks '%s'", cmd,
		  td_err_desc(r), needle);
	json_object_put(r);
}

Test(qmpguard, api_refuses_spawn_and_host_paths)
{
	pid_t pid;
	struct json_object *vm = create("g", &pid), *r;
	long st;

	expect_refused("g",
		       "{\"execute\":\"migrate\",\"arguments\":{\"uri\":\"exec:cat > /dev/null\"}}",
		       "exec:");
	expect_alive("g", pid);
	expect_refused("g",
		       "{\"execute\":\"human-monitor-command\",\"arguments\":"
		       "{\"command-line\":\"migrate -d exec:cat>/dev/null\"}}",
		       "HMP command 'migrate'");
	expect_alive("g", pid);
	expect_refused("g",
		       "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":\"file:/tmp/x\"}}",
		       "file:");
	expect_refused("g",
		       "{\"execute\":\"dump-guest-memory\",\"arguments\":"
		       "{\"paging\":false,\"protocol\":\"file:/tmp/vmsup-dump\"}}",
		       "protocol");
	expect_refused("g", "{\"execute\":\"screendump\",\"arguments\":{\"filename\":\"/tmp/s\"}}",
		       "screendump");
	expect_refused("g",
		       "{\"execute\":\"chardev-add\",\"arguments\":{\"id\":\"c\",\"backend\":"
		       "{\"type\":\"file\",\"data\":{\"out\":\"/tmp/c\"}}}}",
		       "'out'");
	expect_refused("g",
		       "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"tap\",\"id\":\"t\"}}",
		       "qemu-ifup");
	expect_refused("g",
		       "{\"execute\":\"object-add\",\"arguments\":{\"qom-type\":"
		       "\"memory-backend-file\",\"id\":\"m\",\"size\":1048576,"
		       "\"mem-path\":\"/tmp/m\"}}",
		       "mem-path");
	expect_refused("g",
		       "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"raw\","
		       "\"node-name\":\"b\",\"file\":{\"driver\":\"file\","
		       "\"filename\":\"/etc/passwd\"}}}",
		       "filename");
	expect_refused("g",
		       "{\"execute\":\"transaction\",\"arguments\":{\"actions\":[{\"type\":"
		       "\"drive-backup\",\"data\":{\"device\":\"x\",\"target\":\"/tmp/b\","
		       "\"sync\":\"full\"}}]}}",
		       "target");
	expect_alive("g", pid);

	/* what neither spawns nor opens a host path still reaches qemu */
	r = td_http(&d, "POST", "/v1/vms/g/qmp",
		    "{\"execute\":\"human-monitor-command\",\"arguments\":"
		    "{\"command-line\":\"info status\"}}",
		    &st);
	cr_expect_eq(st, 200, "HMP info status: %ld", st);
	cr_expect(r && strstr(json_object_to_json_string(r), "running"), "%s",
		  r ? json_object_to_json_string(r) : "");
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/g/qmp",
		    "{\"execute\":\"netdev_add\",\"arguments\":{\"type\":\"user\",\"id\":\"u1\"}}",
		    &st);
	cr_expect_eq(st, 200, "netdev_add user: %ld %s", st,
		     r ? json_object_to_json_string(r) : "");
	json_object_put(r);
	expect_alive("g", pid);
	json_object_put(vm);
}
