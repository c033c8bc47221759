/*
 * The daemon out of file descriptors: accept() fails with EMFILE while
 * clients pile up. With log_format = json every line of the log stays
 * JSON; the failure is said, at most ten times a second; the daemon does
 * not spin on the listener (it pauses accepting: its CPU time over the
 * flood stays small); and it serves again once the clients are gone,
 * its VM (guest-less) running on, untouched.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
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
