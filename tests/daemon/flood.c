/*
 * The daemon out of file descriptors: accept() fails with EMFILE while
 * clients pile up. With log_format = json every line of the log stays
 * JSON; the failure is said, at most ten times a second; the daemon does
 * not spin on the listener (it pauses accepting: its CPU time over the
 * flood stays small); and it serves again once the clients are gone,
 * its VM (guest-less) running on, untouched. A create that runs out of
 * descriptors, wherever in its path, is told 503 ResourceExhausted and
 * leaves nothing behind (no VM, state file, run dir, qemu or descriptor).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "src/util/proc.h"
#include "tests/lib/daemon-harness.h"

#define NCLIENTS 96 /* under the listen backlog (128): every connect completes */

static struct tdaemon d;
static int clients[NCLIENTS];

static void down(void)
{
	for (int i = 0; i < NCLIENTS; i++)
		if (clients[i] > 0)
			close(clients[i]);
	memset(clients, 0, sizeof(clients));
	td_stop(&d);
}

TestSuite(flood, .fini = down, .timeout = 120);

static int open_fds(pid_t pid)
{
	char path[64];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	cr_assert_not_null(dir = opendir(path));
	while ((e = readdir(dir)))
		if (e->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

/* user + system CPU seconds of pid */
static double cpu_s(pid_t pid)
{
	double s = -1;
	char *err = NULL;

	cr_assert_eq(vmsup_proc_cpu_seconds(pid, &s, &err), 0, "%s", err);
	return s;
}

Test(flood, emfile_keeps_the_json_log_json)
{
	struct rlimit lim;
	struct json_object *o;
	char line[8192];
	long st = 0;
	pid_t vm_pid;
	int nlines = 0, naccept = 0, first_bad = 0;
	double deadline, t0, t1, c0, c1;
	FILE *f;

	td_start(&d, "log_format = json");
	o = td_http(&d, "POST", "/v1/vms",
		    "{\"name\":\"bystander\",\"guest\":false,\"accel\":\"tcg\"}", &st);
	cr_assert_eq(st, 201);
	cr_assert_str_eq(td_str(o, "state"), "running");
	vm_pid = (pid_t)td_int(o, "pid");
	json_object_put(o);
	/* a few descriptors to spare, then none */
	lim.rlim_cur = lim.rlim_max = (rlim_t)open_fds(d.pid) + 4;
	cr_assert_eq(prlimit(d.pid, RLIMIT_NOFILE, &lim, NULL), 0, "prlimit");
	t0 = td_now();
	c0 = cpu_s(d.pid);
	for (int i = 0; i < NCLIENTS; i++)
		clients[i] = td_connect(&d);
	/* two seconds of a daemon that cannot accept: more than one rate window */
	usleep(2200 * 1000);
	c1 = cpu_s(d.pid);
	for (int i = 0; i < NCLIENTS; i++) {
		close(clients[i]);
		clients[i] = 0;
	}

	/* serves again once the clients are gone, without its limit raised */
	deadline = td_now() + 10;
	do {
		o = td_http(&d, "GET", "/v1/version", NULL, &st);
		json_object_put(o);
		if (st == 200)
			break;
		usleep(100 * 1000);
	} while (td_now() < deadline);
	t1 = td_now();
	cr_expect_eq(st, 200, "the daemon serves after the flood (last status %ld)", st);
	o = td_http(&d, "GET", "/v1/vms/bystander", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(o, "state") ? td_str(o, "state") : "", "running",
			 "the VM is not running after the flood");
	cr_expect_eq(td_int(o, "pid"), vm_pid, "the VM's qemu changed");
	json_object_put(o);
	cr_expect(td_pid_is_qemu(vm_pid), "the VM's qemu %d is gone", (int)vm_pid);
	/* the log's last lines: the suppressed count is written when the next window opens */
	usleep(1500 * 1000);

	cr_assert_not_null(f = fopen(d.log, "r"));
	while (fgets(line, sizeof(line), f)) {
		struct json_object *m;
		const char *msg;

		nlines++;
		line[strcspn(line, "\n")] = '\0';
		o = json_tokener_parse(line);
		if (!o || !json_object_is_type(o, json_type_object)) {
			if (!first_bad++)
				cr_log_error("line %d is not a JSON object: %.200s", nlines, line);
			json_object_put(o);
			continue;
		}
		msg = json_object_object_get_ex(o, "msg", &m) ? json_object_get_string(m) : "";
		if (strstr(msg, "accept") && strstr(msg, "Too many open files"))
			naccept++;
		json_object_put(o);
	}
	fclose(f);
	cr_log_info("%d log lines: %d accept errors, %d not JSON; daemon CPU %.2f s in %.1f s",
		    nlines, naccept, first_bad, c1 - c0, 2.2);
	cr_expect_eq(first_bad, 0, "%d of %d log lines are not JSON", first_bad, nlines);
	cr_expect_gt(naccept, 0, "the accept() error is in the log");
	/* spinning on the listener costs a whole core (about 2 s here) */
	cr_expect_lt(c1 - c0, 0.5, "the daemon used %.2f s of CPU in 2.2 s of EMFILE", c1 - c0);
	/* rate-limited: 10 a second for as long as the flood can have lasted
	 * (each second it touched, partial ones at both ends); unlimited, it
	 * is tens of thousands of lines a second */
	cr_expect_leq(naccept, 10 * ((int)(t1 - t0) + 2),
		      "%d accept-error lines in %.1f s: not rate-limited", naccept, t1 - t0);
}

/* Live processes whose command line names dir (the daemon's qemus do: their
 * sockets and logs live under it), the daemon itself left out. */
static int procs_under(const char *dir, pid_t daemon)
{
	DIR *p = opendir("/proc");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(p);
	while ((e = readdir(p))) {
		char path[300], buf[8192];
		ssize_t len;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9' || atoi(e->d_name) == (int)daemon)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		for (ssize_t i = 0; i < len; i++)
			buf[i] = buf[i] ? buf[i] : ' ';
		buf[len] = '\0';
		n += strstr(buf, dir) != NULL;
	}
	closedir(p);
	return n;
}

/* Interfaces named like the bridge mode's taps (vmsup-XXXXXXXX). */
static int taps(void)
{
	DIR *dir = opendir("/sys/class/net");
	struct dirent *e;
	int n = 0;

	while (dir && (e = readdir(dir)))
		n += !strncmp(e->d_name, "vmsup-", 6);
	if (dir)
		closedir(dir);
	return n;
}

/* Wait (bounded) until the daemon holds want descriptors; what it holds. */
static int fds_settle(pid_t pid, int want)
{
	double end = td_now() + 5;
	int n;

	while ((n = open_fds(pid)) != want && td_now() < end)
		usleep(20 * 1000);
	return n;
}

/* After a refused create of "starved": no record, state file, run dir,
 * qemu, tap, or descriptor (the daemon back to base) is left. */
static void nothing_left(int base, int ntaps, int spare)
{
	struct json_object *o;
	struct stat sb;
	char path[300];
	long st;
	int held;

	o = td_http(&d, "GET", "/v1/vms/starved", NULL, &st);
	cr_expect_eq(st, 404, "the VM record is left (%ld)", st);
	json_object_put(o);
	snprintf(path, sizeof(path), "%s/state/starved.json", d.dir);
	cr_expect_neq(stat(path, &sb), 0, "%s is left", path);
	snprintf(path, sizeof(path), "%s/run/vm/starved", d.dir);
	cr_expect_neq(stat(path, &sb), 0, "%s is left", path);
	for (int i = 0; i < 50 && procs_under(d.dir, d.pid); i++)
		usleep(100 * 1000);
	cr_expect_eq(procs_under(d.dir, d.pid), 0, "a qemu of the failed create runs on");
	cr_expect_eq(taps(), ntaps, "a tap is left");
	held = fds_settle(d.pid, base);
	cr_expect_eq(held, base, "%d descriptors leaked (%d to spare)", held - base, spare);
}

#define LIMIT_ROOM 48 /* descriptors above the daemon's own at the limit */

/*
 * With the daemon at its RLIMIT_NOFILE, eaten by idle connections, a
 * create of spec (VM "starved") is given 0, 1, 2 ... descriptors to
 * spare, so its failure moves along the create path (port probe, kernel
 * check, spawn pipe, QMP and ops sockets ...) until it has enough. Every
 * answer is 503 ResourceExhausted with nothing left behind, or 201
 * running. How many were refused.
 */
static int starve_creates(const char *spec)
{
	struct rlimit lim;
	struct json_object *o;
	long st = 0;
	int base, ntaps = taps(), refused = 0, spare;

	usleep(200 * 1000); /* td_start's probe connection is gone */
	base = open_fds(d.pid);
	lim.rlim_cur = lim.rlim_max = (rlim_t)(base + LIMIT_ROOM);
	cr_assert_eq(prlimit(d.pid, RLIMIT_NOFILE, &lim, NULL), 0, "prlimit");
	for (spare = 0; spare < LIMIT_ROOM - 4; spare++) {
		/* the create's own connection takes one more */
		int idle = LIMIT_ROOM - 1 - spare, held;

		for (int i = 0; i < idle; i++)
			clients[i] = td_connect(&d);
		held = fds_settle(d.pid, base + idle);
		cr_assert_eq(held, base + idle, "the daemon holds %d descriptors, not %d", held,
			     base + idle);
		o = td_http(&d, "POST", "/v1/vms", spec, &st);
		cr_log_info("%d to spare: %ld %s %s", spare, st,
			    st == 201 ? td_str(o, "state") : td_err_class(o),
			    st == 201	     ? ""
			    : td_err_desc(o) ? td_err_desc(o)
					     : "");
		for (int i = 0; i < idle; i++) {
			close(clients[i]);
			clients[i] = 0;
		}
		if (st == 201) {
			cr_expect_str_eq(td_str(o, "state"), "running", "a create at the limit: %s",
					 td_str(o, "error") ? td_str(o, "error") : "");
			json_object_put(o);
			break;
		}
		cr_assert_eq(st, 503, "a create out of descriptors answered %ld", st);
		cr_expect_str_eq(td_err_class(o), "ResourceExhausted");
		cr_expect(strstr(td_err_desc(o), "file descriptors"), "desc: %s", td_err_desc(o));
		json_object_put(o);
		refused++;
		nothing_left(base, ntaps, spare);
	}
	cr_log_info("%d creates refused before one had enough descriptors", refused);
	cr_expect_eq(st, 201, "no create succeeded with %d descriptors to spare", spare);
	cr_expect_eq(td_destroy(&d, "starved"), 200);

	/* the descriptors back: a create succeeds */
	o = td_http(&d, "POST", "/v1/vms", spec, &st);
	cr_expect_eq(st, 201);
	cr_expect_str_eq(td_str(o, "state") ? td_str(o, "state") : "", "running");
	json_object_put(o);
	return refused;
}

Test(flood, create_out_of_fds_is_503_and_leaves_nothing)
{
	int refused;

	td_start(&d, "max_connections = 1000");
	refused = starve_creates("{\"name\":\"starved\",\"guest\":false,\"accel\":\"tcg\"}");
	/* port probe, spawn pipe, the child's stdin */
	cr_expect_geq(refused, 3, "only %d creates failed for want of descriptors", refused);
}

/* The test guest's kernel and initrd are opened too (checked as the caller). */
Test(flood, guest_create_out_of_fds_is_503_and_leaves_nothing)
{
	char kernel[512], initrd[512], spec[1400];
	int refused;

	if (!td_guest_files(kernel, initrd, sizeof(kernel))) {
		cr_skip_test("no test guest (VMSUP_GUEST_DIR)");
		return;
	}
	snprintf(spec, sizeof(spec),
		 "{\"name\":\"starved\",\"accel\":\"tcg\",\"mem_mib\":128,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\"}",
		 kernel, initrd);
	td_start(&d, "max_connections = 1000");
	refused = starve_creates(spec);
	cr_expect_geq(refused, 3, "only %d creates failed for want of descriptors", refused);
}

/*
 * The descriptors go while a create is under way: its request is sent,
 * then a flood of connections fills the table before the daemon's next
 * turn, so what fails is what comes after the spawn (the QMP connect, the
 * ops socket) or, when the flood is accepted first, the spawn itself.
 * Either way: 503 with nothing left, or 201 running.
 */
Test(flood, create_overtaken_by_a_flood_leaves_nothing)
{
	static const char req[] = "POST /v1/vms HTTP/1.1\r\nHost: x\r\nContent-Type: "
				  "application/json\r\nContent-Length: 46\r\n\r\n"
				  "{\"name\":\"starved\",\"guest\":false,\"accel\":\"tcg\"}";
	struct rlimit lim;
	int base, ntaps = taps(), after_spawn = 0;

	td_start(&d, "max_connections = 1000");
	usleep(200 * 1000);
	base = open_fds(d.pid);
	lim.rlim_cur = lim.rlim_max = (rlim_t)(base + LIMIT_ROOM);
	cr_assert_eq(prlimit(d.pid, RLIMIT_NOFILE, &lim, NULL), 0, "prlimit");
	for (int round = 0; round < 6; round++) {
		struct json_object *o = NULL;
		char buf[8192] = "", *body;
		int c = td_connect(&d), status = 0;
		ssize_t n, got = 0;

		cr_assert_eq(fds_settle(d.pid, base + 1), base + 1);
		cr_assert_eq(write(c, req, strlen(req)), (ssize_t)strlen(req));
		for (int i = 0; i < LIMIT_ROOM; i++)
			clients[i] = td_connect(&d);
		while (got < (ssize_t)sizeof(buf) - 1 &&
		       (n = read(c, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += n;
			buf[got] = '\0';
			if ((body = strstr(buf, "\r\n\r\n")) && strchr(body + 4, '\n'))
				break;
		}
		close(c);
		for (int i = 0; i < LIMIT_ROOM; i++) {
			close(clients[i]);
			clients[i] = 0;
		}
		cr_assert(sscanf(buf, "HTTP/1.1 %d", &status) == 1, "no answer: '%s'", buf);
		cr_assert_not_null(body = strstr(buf, "\r\n\r\n"));
		cr_assert_not_null(o = json_tokener_parse(body + 4), "%s", body);
		if (status == 201) {
			cr_log_info("round %d: 201 %s", round, td_str(o, "state"));
			cr_expect_str_eq(td_str(o, "state"), "running");
			json_object_put(o);
			cr_expect_eq(td_destroy(&d, "starved"), 200);
			cr_expect_eq(fds_settle(d.pid, base), base);
			continue;
		}
		cr_log_info("round %d: %d %s", round, status, td_err_desc(o));
		cr_expect_eq(status, 503, "%s", body);
		cr_expect_str_eq(td_err_class(o) ? td_err_class(o) : "", "ResourceExhausted");
		after_spawn += td_err_desc(o) && (strstr(td_err_desc(o), "QMP connect") ||
						  strstr(td_err_desc(o), "ops socket"));
		json_object_put(o);
		nothing_left(base, ntaps, 0);
	}
	cr_log_info("%d of 6 creates failed after their qemu was spawned", after_spawn);
	/* the request is read before the flood is accepted (it was sent first) */
	cr_expect_geq(after_spawn, 1, "no create failed after its spawn: the path is untested");
}
