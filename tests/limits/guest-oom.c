/*
 * The memory ceiling against real guests under TCG, in a real vmsupd on
 * real cgroups (issue 27 item 2):
 * - a 512 MiB Debian systemd guest (scripts/mkdistro.sh) boots to its
 *   agent inside the default ceiling and stays up while it reads every
 *   file under /usr; before the TCG translation cache was sized and
 *   counted, qemu was OOM-killed during that boot;
 * - a VM whose ceiling is made tiny is killed by the kernel, and the daemon
 *   says so: state crashed, exit_reason "oom", the reason in the error and
 *   in the state event.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/limits/limits-util.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

TestSuite(oom, .fini = down, .timeout = 900);

static long long oom_kills(const char *memdir)
{
	char path[512], line[128];
	long long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.oom_control", memdir);
	if (!(f = fopen(path, "re"))) {
		snprintf(path, sizeof(path), "%s/memory.events", memdir);
		if (!(f = fopen(path, "re")))
			return -1;
	}
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "oom_kill %lld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* v1 memory.max_usage_in_bytes or v2 memory.peak, in MiB; -1 if neither */
static long long peak_mib(const char *memdir)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/memory.max_usage_in_bytes", memdir);
	if (lt_exists(path))
		return lt_read_ll(memdir, "memory.max_usage_in_bytes") >> 20;
	snprintf(path, sizeof(path), "%s/memory.peak", memdir);
	if (lt_exists(path))
		return lt_read_ll(memdir, "memory.peak") >> 20;
	return -1;
}

Test(oom, distro_guest_of_512_mib_boots_and_works_inside_the_default_ceiling)
{
	const char *dd = td_distro_dir();
	struct json_object *r, *v;
	char *memdir;
	long st;

	if (geteuid() != 0)
		cr_skip_test("needs root for cgroups");
	if (!dd)
		cr_skip_test("no distro image (VMSUP_DISTRO_DIR; scripts/mkdistro.sh builds it)");
	td_start(&d, NULL);
	/* the image itself is never written: the VM gets an overlay */
	r = td_create_distro(&d, "deb", 512, &st);
	cr_assert_eq(st, 201, "%s", json_object_to_json_string(r));
	cr_assert_not_null(td_str(r, "cgroup_memory"), "no memory cgroup");
	memdir = strdup(td_str(r, "cgroup_memory"));
	/* 512 + mem_overhead_mib 256 + tcg_tb_size_mib 128 */
	cr_expect_eq(td_int(r, "mem_limit_bytes"), (512 + 256 + 128) * 1048576LL);
	json_object_put(r);

	r = td_wait_ip(&d, "deb", 600, &st);
	cr_assert_eq(st, 200, "no agent/IP from the distro guest: %s",
		     json_object_to_json_string(r));
	json_object_put(r);
	cr_log_info("booted: peak %lld MiB", peak_mib(memdir));

	/* an apt-sized workload: every file under /usr read once */
	r = td_http(&d, "POST", "/v1/vms/deb/exec",
		    "{\"argv\":[\"sh\",\"-c\",\"find /usr -type f -exec cat {} + >/dev/null; "
		    "echo done\"],\"timeout_s\":600}",
		    &st);
	cr_expect_eq(st, 200, "exec: %s", json_object_to_json_string(r));
	cr_expect_eq(td_int(r, "exitcode"), 0, "%s", json_object_to_json_string(r));
	json_object_put(r);

	r = td_http(&d, "GET", "/v1/vms/deb", NULL, &st);
	cr_assert_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "running", "%s", json_object_to_json_string(r));
	cr_expect(json_object_object_get_ex(r, "exit_reason", &v) && !v);
	json_object_put(r);
	cr_expect_eq(oom_kills(memdir), 0, "the OOM killer ran in %s", memdir);
	cr_log_info("after reading /usr: peak %lld MiB of a %d MiB ceiling", peak_mib(memdir),
		    512 + 256 + 128);
	free(memdir);
}

Test(oom, a_vm_killed_at_its_ceiling_is_reported_as_such)
{
	struct json_object *r;
	char *memdir, limit[32], out[256], path[512];
	long long usage;
	long st;
	int port, ev;
	bool v1;

	if (geteuid() != 0)
		cr_skip_test("needs root for cgroups");
	if (!lt_guest_dir())
		cr_skip_test("no test guest (scripts/mkguest.sh builds it)");
	td_start(&d, NULL);
	r = td_http(&d, "POST", "/v1/vms", lt_guest_spec("o", 256, 1), &st);
	cr_assert_eq(st, 201, "%s", json_object_to_json_string(r));
	port = (int)td_int(r, "ssh_port");
	cr_assert_not_null(td_str(r, "cgroup_memory"), "no memory cgroup");
	memdir = strdup(td_str(r, "cgroup_memory"));
	json_object_put(r);
	cr_assert(lt_ssh_wait(port, 240000), "guest sshd did not answer in 240 s");
	ev = td_events_open(&d, "o");
	cr_assert_geq(ev, 0);

	/* a ceiling 16 MiB above what the VM uses now, then a guest that
	 * touches 160 MiB more */
	snprintf(path, sizeof(path), "%s/memory.limit_in_bytes", memdir);
	v1 = lt_exists(path);
	usage = lt_read_ll(memdir, v1 ? "memory.usage_in_bytes" : "memory.current");
	snprintf(limit, sizeof(limit), "%lld", usage + (16ll << 20));
	cr_assert_eq(lt_write(memdir, v1 ? "memory.limit_in_bytes" : "memory.max", limit), 0);
	lt_ssh(port, "dd if=/dev/zero of=/dev/null bs=160M count=1; dd if=/dev/zero of=/fill bs=1M",
	       out, sizeof(out), 120000);

	cr_expect(td_events_wait(ev, "OOM killer", 60000),
		  "no crashed event naming the OOM killer");
	close(ev);
	r = td_http(&d, "GET", "/v1/vms/o", NULL, &st);
	cr_assert_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "crashed", "%s", json_object_to_json_string(r));
	cr_expect_str_eq(td_str(r, "exit_reason"), "oom", "%s", json_object_to_json_string(r));
	cr_expect_eq(td_int(r, "exit_signal"), 9);
	cr_expect(td_str(r, "error") && strstr(td_str(r, "error"), "OOM killer"), "error: %s",
		  td_str(r, "error"));
	json_object_put(r);
	free(memdir);
}
