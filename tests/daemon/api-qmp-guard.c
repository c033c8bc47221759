/*
 * Real vmsupd, real qemu (guest-less, under -sandbox spawn=deny): QMP that
 * would make qemu spawn a process or open a host path is refused before it
 * reaches qemu, through the API's passthrough and through the ops socket,
 * and the VM keeps running (issue 27, item 5).
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "tests/lib/daemon-harness.h"

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

/* Read from fd until needle has been seen (or 10 s); the bytes in buf. */
static bool read_until(int fd, char *buf, size_t size, size_t *len, const char *needle)
{
	double end = td_now() + 10;

	while (!strstr(buf, needle) && td_now() < end && *len < size - 1) {
		struct pollfd p = {fd, POLLIN, 0};
		ssize_t n;
		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((n = read(fd, buf + *len, size - 1 - *len)) <= 0)
			break;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
	return strstr(buf, needle) != NULL;
}

Test(qmpguard, ops_socket_refuses_like_qemu)
{
	pid_t pid;
	struct json_object *vm = create("o", &pid), *ret = NULL;
	const char *ops = td_str(vm, "qmp_ops_socket");
	struct qmp_error e;
	struct qmp_sync *c;
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	char buf[8192] = "", *line;
	size_t len = 0;
	int fd;

	/* a QMP client (libqmp) gets qemu's error form, matched by its id */
	c = qmp_sync_open(ops, QMP_KIND_QMP, 10000, &e);
	cr_assert_not_null(c, "ops socket %s: %s", ops, e.desc);
	cr_expect_neq(qmp_sync_call(c, "migrate",
				    json_tokener_parse("{\"uri\":\"exec:cat > /dev/null\"}"), 10000,
				    &ret, &e),
		      0, "migrate exec: went through the ops socket");
	cr_expect_str_eq(e.cls, "GenericError");
	cr_expect(strstr(e.desc, "exec:"), "desc: %s", e.desc);
	cr_expect_neq(qmp_sync_call(c, "human-monitor-command",
				    json_tokener_parse("{\"command-line\":\"migrate exec:true\"}"),
				    10000, &ret, &e),
		      0, "HMP migrate exec: went through the ops socket");
	cr_expect_str_eq(e.cls, "GenericError");
	/* the same connection still reaches qemu, which still runs */
	cr_expect_eq(qmp_sync_call(c, "query-status", NULL, 10000, &ret, &e), 0, "%s", e.desc);
	cr_expect(ret && strstr(json_object_to_json_string(ret), "running"));
	json_object_put(ret);
	qmp_sync_close(c);
	expect_alive("o", pid);

	/* byte for byte as qemu writes an error: id first, ", " and ": ", CRLF;
	 * and in its place: after the answers to what was sent before it */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(un.sun_path, sizeof(un.sun_path), "%s", ops);
	cr_assert_eq(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	cr_assert(read_until(fd, buf, sizeof(buf), &len, "\r\n"), "no greeting: %s", buf);
	cr_expect(!strncmp(buf, "{\"QMP\": {", 9), "greeting: %s", buf);
	len = 0;
	buf[0] = '\0';
	dprintf(fd, "{\"execute\":\"qmp_capabilities\"}\n"
		    "{\"execute\":\"query-status\",\"id\":1}\n"
		    "{\"execute\":\"migrate\",\"id\":\"m/1\",\"arguments\":{\"uri\":\"exec:true\"}}"
		    "{\"execute\":\"query-status\",\"id\":7}\n");
	cr_assert(read_until(fd, buf, sizeof(buf), &len, "\"id\": 7}\r\n"), "got: %s", buf);
	line =
	    strstr(buf, "{\"id\": \"m/1\", \"error\": {\"class\": \"GenericError\", \"desc\": \"");
	cr_expect_not_null(line, "refusal not in qemu's form: %s", buf);
	cr_expect(line && strstr(line, "\"}}\r\n"), "%s", buf);
	cr_expect(strstr(buf, "{\"return\": {\"status\": \"running\""), "%s", buf);
	cr_expect(line && strstr(buf, "\"id\": 1}\r\n") && strstr(buf, "\"id\": 1}\r\n") < line,
		  "the refusal overtook the answer to the command before it: %s", buf);
	cr_expect(line && strstr(buf, "\"id\": 7}\r\n") > line, "%s", buf);
	close(fd);

	/* sent before qemu's greeting came: the refusal still follows it */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&un, sizeof(un)), 0);
	dprintf(fd,
		"{\"execute\":\"migrate\",\"id\":\"early\",\"arguments\":{\"uri\":\"exec:x\"}}\n");
	len = 0;
	buf[0] = '\0';
	cr_assert(read_until(fd, buf, sizeof(buf), &len, "\"early\""), "got: %s", buf);
	cr_expect(!strncmp(buf, "{\"QMP\": {", 9), "the refusal came before the greeting: %s", buf);
	close(fd);
	expect_alive("o", pid);
	json_object_put(vm);
}

/* after a kill -9 and restart of the daemon, the reattached VM's ops socket
 * is relayed (and checked) again */
Test(qmpguard, ops_socket_after_reattach)
{
	pid_t pid;
	struct json_object *vm = create("r", &pid), *ret = NULL, *cur = NULL;
	const char *ops = td_str(vm, "qmp_ops_socket");
	struct qmp_error e;
	struct qmp_sync *c;
	double end;
	long st;

	td_kill9(&d);
	cr_assert(td_pid_is_qemu(pid), "qemu died with the daemon");
	td_restart(&d);
	for (end = td_now() + 30; td_now() < end; usleep(100 * 1000)) {
		json_object_put(cur);
		cur = td_http(&d, "GET", "/v1/vms/r", NULL, &st);
		if (td_str(cur, "qmp") && !strcmp(td_str(cur, "qmp"), "ok"))
			break;
	}
	cr_assert(td_str(cur, "qmp") && !strcmp(td_str(cur, "qmp"), "ok"), "not reattached");
	json_object_put(cur);
	c = qmp_sync_open(ops, QMP_KIND_QMP, 10000, &e);
	cr_assert_not_null(c, "ops socket after reattach: %s", e.desc);
	cr_expect_neq(qmp_sync_call(c, "migrate", json_tokener_parse("{\"uri\":\"exec:true\"}"),
				    10000, &ret, &e),
		      0, "migrate exec: went through after reattach");
	cr_expect_str_eq(e.cls, "GenericError");
	cr_expect_eq(qmp_sync_call(c, "query-status", NULL, 10000, &ret, &e), 0, "%s", e.desc);
	json_object_put(ret);
	qmp_sync_close(c);
	expect_alive("r", pid);
	json_object_put(vm);
}
