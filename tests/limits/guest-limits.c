/*
 * The test guest under TCG in a real vmsupd on real cgroups: the balloon
 * really takes memory from the guest (its own MemTotal drops), and the CPU
 * quota really holds for a guest spinning in a busy loop.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/limits/limits-util.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

TestSuite(guest_limits, .fini = down, .timeout = 900);

/* CPU share (percent of one CPU) of pid over seconds s. */
static double share(pid_t pid, double s)
{
	double c0 = lt_proc_cpu(pid), t0 = td_now(), c1, t1;

	usleep((useconds_t)(s * 1e6));
	c1 = lt_proc_cpu(pid);
	t1 = td_now();
	cr_assert(c0 >= 0 && c1 >= 0, "qemu %d gone", (int)pid);
	return 100.0 * (c1 - c0) / (t1 - t0);
}

static void set_quota(int pct)
{
	char body[64];
	struct json_object *r;
	long st;

	snprintf(body, sizeof(body), "{\"quota_pct\":%d}", pct);
	r = td_http(&d, "PUT", "/v1/vms/g/cpu", body, &st);
	cr_assert_eq(st, 200, "quota %d: %s", pct, json_object_to_json_string(r));
	cr_assert_eq(td_int(r, "cpu_quota_pct"), pct);
	json_object_put(r);
}

Test(guest_limits, balloon_and_cpu_quota_hold_in_the_guest)
{
	struct json_object *r, *ret, *a;
	long st, kb0, kb = -1;
	double t0, latency = -1, s25, s50;
	char *cg;
	pid_t pid;
	int port;

	if (geteuid() != 0)
		cr_skip_test("needs root for cgroups");
	if (!lt_guest_dir())
		cr_skip_test("no test guest (scripts/mkguest.sh builds it)");
	td_start(&d, NULL);
	r = td_http(&d, "POST", "/v1/vms", lt_guest_spec("g", 256, 1), &st);
	cr_assert_eq(st, 201, "%s", json_object_to_json_string(r));
	cr_assert_str_eq(td_str(r, "state"), "running");
	pid = (pid_t)td_int(r, "pid");
	port = (int)td_int(r, "ssh_port");
	cr_assert_not_null(td_str(r, "cgroup"));
	cg = strdup(td_str(r, "cgroup"));
	json_object_put(r);
	cr_assert(lt_ssh_wait(port, 240000), "guest sshd did not answer in 240 s");

	/* ---- balloon 256 -> 128 ---- */
	kb0 = lt_guest_memtotal_kb(port);
	cr_assert_gt(kb0, 128 * 1024, "MemTotal before: %ld kB", kb0);
	t0 = td_now();
	r = td_http(&d, "PUT", "/v1/vms/g/memory", "{\"target_mib\":128}", &st);
	cr_assert_eq(st, 200, "%s", json_object_to_json_string(r));
	cr_expect_eq(td_int(r, "balloon_target_mib"), 128);
	json_object_put(r);
	while (td_now() - t0 < 120) {
		kb = lt_guest_memtotal_kb(port);
		/* the guest gave back ~128 MiB (allow 4 MiB of slack) */
		if (kb > 0 && kb0 - kb >= 124 * 1024) {
			latency = td_now() - t0;
			break;
		}
		usleep(200000);
	}
	cr_expect_geq(latency, 0, "guest MemTotal %ld kB -> %ld kB: did not drop by 128 MiB", kb0,
		      kb);
	cr_expect_leq(kb0 - kb, 132 * 1024, "dropped more than asked: %ld -> %ld kB", kb0, kb);
	cr_log_info("balloon 256 -> 128 MiB: guest MemTotal %ld -> %ld kB after %.2f s", kb0, kb,
		    latency);
	fprintf(stderr, "FIGURE balloon_latency_s %.2f memtotal_kb %ld -> %ld\n", latency, kb0, kb);
	r = td_http(&d, "POST", "/v1/vms/g/qmp", "{\"execute\":\"query-balloon\"}", &st);
	cr_assert_eq(st, 200);
	cr_assert(json_object_object_get_ex(r, "return", &ret) &&
		  json_object_object_get_ex(ret, "actual", &a));
	cr_expect_eq(json_object_get_int64(a) / 1048576, 128, "query-balloon actual %lld",
		     (long long)json_object_get_int64(a));
	json_object_put(r);
	/* status follows BALLOON_CHANGE (qemu rate-limits it to one a second) */
	for (t0 = td_now(); td_now() - t0 < 10; usleep(200000)) {
		r = td_http(&d, "GET", "/v1/vms/g", NULL, &st);
		kb = (long)td_int(r, "balloon_mib");
		json_object_put(r);
		if (kb == 128)
			break;
	}
	cr_expect_eq(kb, 128, "status balloon_mib %ld", kb);

	/* ---- CPU quota on a busy guest ---- */
	{
		/* the machine is shared: our parent must win over other jobs, so
		 * the quota is the only limit left */
		char *parent = lt_parent(cg);
		char w[600];
		snprintf(w, sizeof(w), "%s/cpu.weight", parent);
		lt_write(parent, lt_exists(w) ? "cpu.weight" : "cpu.shares",
			 lt_exists(w) ? "10000" : "262144");
		free(parent);
	}
	cr_assert_eq(lt_ssh(port, "sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &", NULL,
			    0, 60000),
		     0, "cannot start the busy loop");
	set_quota(25);
	sleep(1);
	s25 = share(pid, 5);
	set_quota(50);
	sleep(1);
	s50 = share(pid, 5);
	cr_log_info("CPU share at quota 25%%: %.1f%%, at 50%%: %.1f%%", s25, s50);
	fprintf(stderr, "FIGURE cpu_share quota25 %.1f quota50 %.1f\n", s25, s50);
	cr_expect(s25 >= 20 && s25 <= 30, "quota 25%%: share %.1f%%", s25);
	cr_expect(s50 >= 45 && s50 <= 55, "quota 50%%: share %.1f%%", s50);
	free(cg);
}
