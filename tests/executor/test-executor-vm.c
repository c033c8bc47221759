/*
 * End to end: the fake agent drives mesos-vm-executor, which runs each task
 * in a real VM through a real vmsupd (started here in a private directory)
 * and the test guest, with the command run over ssh by vmctl.
 * VMEXEC_FIGURES=1 also measures LAUNCH->RUNNING and LAUNCH->FINISHED.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "tests/executor/vm-harness.h"

TestSuite(executor_vm, .init = setup, .fini = teardown, .timeout = 900);
/* Suites that start vmsupd themselves (or skip before): no .init. */
TestSuite(executor_vm_nocg, .fini = teardown, .timeout = 900);

Test(executor_vm, task_runs_in_its_own_vm_and_finishes)
{
	const char *args[] = {"--scenario", "finish", "--mem", "256", "--cpus", "0.5", VMENV,
			      "--probe", probe, "--command",
			      /* alive while the probe looks at its VM at TASK_RUNNING */
			      "uname -r > guest-uname; sleep 5", NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	struct json_object *vm = probed_vm(r);
	const char *ip = running_ip(fa_update(r, "t1", "TASK_RUNNING"));
	cr_assert_str_eq(ip, fa_str(vm, "ip"), "TASK_RUNNING carries the address vmsupd reports");
	cr_assert_eq(fa_int(vm, "cpu_quota_pct"), 50, "quota = cpus * 100");
	cr_assert_eq(fa_int(vm, "cpus"), 1, "vCPUs = ceil(cpus)");
	cr_assert_eq(fa_int(vm, "mem_mib"), 256);
	cr_assert(strstr(fa_str(fa_update(r, "t1", "TASK_RUNNING"), "message"), ip));
	cr_log_info("TASK_RUNNING: %s (vmsupd: ip %s, quota %d%%)",
		    fa_str(fa_update(r, "t1", "TASK_RUNNING"), "message"), fa_str(vm, "ip"),
		    fa_int(vm, "cpu_quota_pct"));
	json_object_put(vm);
	char p[4300];
	snprintf(p, sizeof(p), "%s/guest-uname", sandbox);
	char *guest = fa_slurp(p);
	struct utsname u;
	uname(&u);
	cr_assert_not_null(guest, "the guest wrote no file into the shared sandbox");
	guest[strcspn(guest, "\n")] = '\0';
	cr_assert(*guest);
	cr_assert_str_neq(guest, u.release, "written from the guest kernel, not the host's");
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	assert_nothing_left();
	free(guest);
	free(states);
	json_object_put(r);
}

/* TASK_RUNNING means the command runs: it is not sent before the launcher in
 * the guest reached the command (its start marker in the shared sandbox,
 * stamped by the host's clock), and the command's first action follows it
 * closely (the old executor sent it 1.3-2.1 s before ssh even connected). */
Test(executor_vm, running_is_sent_once_the_command_has_started)
{
	const char *args[] = {
	    "--scenario", "finish", "--mem", "256", VMENV, "--command", ": > first-action; sleep 1",
	    NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	struct json_object *u = fa_update(r, "t1", "TASK_RUNNING");
	double started = mtime_in_sandbox(".vm-started-t1");
	double first = mtime_in_sandbox("first-action");
	double running = fa_double(u, "wall");
	cr_log_info("launcher reached the command at %.3f, its first action at %.3f, "
		    "TASK_RUNNING received at %.3f (%+.3f s from the first action)",
		    started, first, running, running - first);
	cr_assert_geq(running, started, "TASK_RUNNING arrived %.3f s before the command started",
		      started - running);
	cr_assert_lt(first - running, 0.5,
		     "TASK_RUNNING arrived %.3f s before the command's first action",
		     first - running);
	cr_assert(*running_ip(u), "TASK_RUNNING carries the VM's address");
	assert_nothing_left();
	free(states);
	json_object_put(r);
}

/* A TCP port free on the host's loopback right now. */
static int free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	close(fd);
	return ntohs(a.sin_port);
}

/* The task's "ports" resource is published at the same number on the host
 * (vmsupd's publish_address, 127.0.0.1): a task serving on its assigned port
 * in the guest answers from the host, and TASK_RUNNING's network_infos says
 * host port = container port. */
Test(executor_vm, task_ports_are_published_on_the_host)
{
	int port = free_port();
	char ti[2048], fetch[1024], cmd[512];
	/* Run by the agent at TASK_RUNNING, before it answers: the host fetches
	 * the page (httpd may still be binding), then lets the task end. */
	snprintf(fetch, sizeof(fetch),
		 "import sys,time,urllib.request as u\n"
		 "for i in range(150):\n"
		 "  try:\n"
		 "    print(u.urlopen('http://127.0.0.1:%d/',timeout=2).read().decode().strip());"
		 "break\n"
		 "  except Exception: time.sleep(0.2)\n"
		 "open('%s/done','w').close()\n",
		 port, sandbox);
	struct json_object *pa = json_object_new_array();
	json_object_array_add(pa, json_object_new_string("python3"));
	json_object_array_add(pa, json_object_new_string("-c"));
	json_object_array_add(pa, json_object_new_string(fetch));
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p www && echo served-on-%d > www/index.html && httpd -p %d -h www && "
		 "while [ ! -f done ]; do sleep 0.2; done",
		 port, port);
	struct json_object *c = json_object_new_string(cmd);
	snprintf(ti, sizeof(ti),
		 "{\"name\":\"t\",\"task_id\":{\"value\":\"t1\"},\"resources\":["
		 "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":256}},"
		 "{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":"
		 "[{\"begin\":%d,\"end\":%d}]}}],\"command\":{\"value\":%s}}",
		 port, port, json_object_to_json_string(c));
	const char *args[] = {
	    "--scenario", "finish", "--task", ti, VMENV, "--probe", json_object_to_json_string(pa),
	    NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1"), want[64];
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	snprintf(want, sizeof(want), "served-on-%d\n", port);
	cr_assert_str_eq(fa_str(r, "probe"), want, "the host fetched the task's page on port %d",
			 port);
	struct json_object *u = fa_update(r, "t1", "TASK_RUNNING"), *cs, *ni, *maps, *m;
	running_ip(u);
	cr_assert(
	    json_object_object_get_ex(u, "container_status", &cs) &&
	    json_object_object_get_ex(cs, "network_infos", &ni) &&
	    json_object_object_get_ex(json_object_array_get_idx(ni, 0), "port_mappings", &maps));
	cr_assert_eq(json_object_array_length(maps), 2, "tcp and udp");
	m = json_object_array_get_idx(maps, 0);
	cr_assert_eq(fa_int(m, "host_port"), port);
	cr_assert_eq(fa_int(m, "container_port"), port);
	cr_log_info("port %d: the host got '%s' from the task", port, fa_str(r, "probe"));
	assert_nothing_left();
	json_object_put(pa);
	json_object_put(c);
	free(states);
	json_object_put(r);
}

/* LAUNCH_GROUP: one VM sized by the sum of the tasks' resources; each task
 * its own command and updates; they share the network (g1 fetches g2's page
 * over 127.0.0.1) and the sandbox; g1 finishing leaves g2 running, which
 * ends on its KILL. */
Test(executor_vm, task_group_runs_in_one_vm)
{
	char gprobe[8800];
	snprintf(gprobe, sizeof(gprobe), "%s", probe);
	char *t1 = strstr(gprobe, "mesos-t1");
	cr_assert_not_null(t1);
	memcpy(t1, "mesos-g1", 8);
	const char *args[] = {
	    "--scenario",
	    "group",
	    "--mem",
	    "128",
	    "--cpus",
	    "0.5",
	    VMENV,
	    "--probe",
	    gprobe,
	    "--command",
	    "cat /proc/sys/kernel/random/boot_id > boot-g1; i=0; "
	    "until wget -q -O seen-by-g1 http://127.0.0.1:8080/; do "
	    "i=$((i+1)); [ $i -gt 150 ] && exit 3; sleep 0.2; done",
	    "--command2",
	    "cat /proc/sys/kernel/random/boot_id > boot-g2; mkdir -p www2 && "
	    "echo from-g2 > www2/index.html && exec httpd -f -p 127.0.0.1:8080 -h www2",
	    NULL};
	struct json_object *r = run(args);
	char *s1 = fa_states(r, "g1"), *s2 = fa_states(r, "g2"), p[4300];
	cr_assert_str_eq(s1, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	cr_assert_str_eq(s2, "TASK_STARTING,TASK_RUNNING,TASK_KILLED");
	struct json_object *vm = probed_vm(r);
	cr_assert_eq(fa_int(vm, "mem_mib"), 256, "the sum of 2 x 128 MiB");
	cr_assert_eq(fa_int(vm, "cpu_quota_pct"), 100, "the sum of 2 x 0.5 CPUs");
	json_object_put(vm);
	snprintf(p, sizeof(p), "%s/boot-g1", sandbox);
	char *b1 = fa_slurp(p);
	snprintf(p, sizeof(p), "%s/boot-g2", sandbox);
	char *b2 = fa_slurp(p);
	snprintf(p, sizeof(p), "%s/seen-by-g1", sandbox);
	char *seen = fa_slurp(p);
	cr_assert(b1 && b2 && *b1, "each task wrote its boot id into the shared sandbox");
	cr_assert_str_eq(b1, b2, "both tasks ran in one VM (same boot_id)");
	cr_assert(seen && strncmp(seen, "from-g2", 7) == 0, "g1 reached g2 over 127.0.0.1");
	cr_assert_str_eq(running_ip(fa_update(r, "g1", "TASK_RUNNING")),
			 running_ip(fa_update(r, "g2", "TASK_RUNNING")), "one address");
	double fin = fa_double(fa_update(r, "g1", "TASK_FINISHED"), "t"),
	       killed = fa_double(fa_update(r, "g2", "TASK_KILLED"), "t");
	cr_assert_lt(fin, killed, "g2 outlived g1");
	cr_log_info("group: g1 finished at %.2f s, g2 killed at %.2f s", fin, killed);
	assert_nothing_left();
	free(b1);
	free(b2);
	free(seen);
	free(s1);
	free(s2);
	json_object_put(r);
}

/* Mesos's default executor policy: a task of the group failing kills the
 * others (no KILL is sent for g2 here), each with TASK_KILLING first for a
 * framework that takes it. */
Test(executor_vm, a_failing_group_task_kills_the_group)
{
	const char *args[] = {"--scenario", "group",	       "--group-no-kill",    "--mem",
			      "128",	    "--capability",    "TASK_KILLING_STATE", VMENV,
			      "--command",  "sleep 5; exit 4", "--command2",	     "sleep 600",
			      NULL};
	struct json_object *r = run(args);
	char *s1 = fa_states(r, "g1"), *s2 = fa_states(r, "g2");
	cr_assert_str_eq(s1, "TASK_STARTING,TASK_RUNNING,TASK_FAILED");
	cr_assert_str_eq(s2, "TASK_STARTING,TASK_RUNNING,TASK_KILLING,TASK_KILLED");
	cr_assert(strstr(fa_str(fa_update(r, "g1", "TASK_FAILED"), "message"), "status 4"));
	assert_nothing_left();
	free(s1);
	free(s2);
	json_object_put(r);
}

/* A KILL of one task of a group (here the leader, whose VM the group
 * shares): it ends TASK_KILLED, and the group policy then kills the other;
 * each still running says TASK_KILLING before its TASK_KILLED (Mesos's
 * default executor: killTask, then waited() kills the rest of the group). */
Test(executor_vm, kill_of_a_group_task_says_killing_for_each)
{
	const char *args[] = {"--scenario", "group",	 "--group-kill", "g1",
			      "--mem",	    "128",	 "--capability", "TASK_KILLING_STATE",
			      VMENV,	    "--command", "sleep 600",	 "--command2",
			      "sleep 600",  NULL};
	struct json_object *r = run(args);
	char *s1 = fa_states(r, "g1"), *s2 = fa_states(r, "g2");
	cr_assert_str_eq(s1, "TASK_STARTING,TASK_RUNNING,TASK_KILLING,TASK_KILLED");
	cr_assert_str_eq(s2, "TASK_STARTING,TASK_RUNNING,TASK_KILLING,TASK_KILLED");
	assert_nothing_left();
	free(s1);
	free(s2);
	json_object_put(r);
}

Test(executor_vm, failing_command_reports_exit_status)
{
	const char *args[] = {"--scenario", "finish",	 "--mem",  "256",
			      VMENV,	    "--command", "exit 7", NULL};
	struct json_object *r = run(args);
	struct json_object *u = fa_update(r, "t1", "TASK_FAILED");
	cr_assert_not_null(u);
	cr_assert(strstr(fa_str(u, "message"), "status 7"), "%s", fa_str(u, "message"));
	assert_nothing_left();
	json_object_put(r);
}

Test(executor_vm, kill_stops_the_vm)
{
	const char *args[] = {
	    "--scenario",	  "kill", "--mem",     "256",	    "--capability",
	    "TASK_KILLING_STATE", VMENV,  "--command", "sleep 600", NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	/* The framework declared TASK_KILLING_STATE (shutdown_kills_and_exits
	 * covers one that did not). */
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_KILLING,TASK_KILLED");
	assert_nothing_left();
	free(states);
	json_object_put(r);
}

/* KILL: SIGTERM to the task in the guest; a task that traps it finishes its
 * cleanup (a file in the sandbox, 1 s later) before the VM goes. */
Test(executor_vm, kill_lets_a_term_trapping_task_clean_up)
{
	const char *args[] = {"--scenario",
			      "kill",
			      "--mem",
			      "256",
			      "--kill-grace-s",
			      "10",
			      "--kill-after-s",
			      "1",
			      VMENV,
			      "--command",
			      "trap 'sleep 1; echo cleaned > term-trapped; exit 0' TERM; "
			      "while :; do sleep 0.2; done",
			      NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_KILLED");
	char p[4300];
	snprintf(p, sizeof(p), "%s/term-trapped", sandbox);
	char *got = fa_slurp(p);
	cr_assert(got && strncmp(got, "cleaned", 7) == 0, "the TERM trap did not run");
	double took = fa_double(fa_update(r, "t1", "TASK_KILLED"), "t") - fa_double(r, "kill_t");
	cr_log_info("KILL -> TASK_KILLED for a TERM-trapping task (1 s cleanup): %.3f s", took);
	cr_assert_geq(took, 1.0, "the VM went before the trap's 1 s cleanup");
	cr_assert_lt(took, 10.0, "it waited for the whole grace period");
	assert_nothing_left();
	free(got);
	free(states);
	json_object_put(r);
}

/* A task that ignores TERM is killed once the grace period is over. */
Test(executor_vm, kill_after_the_grace_period_when_term_is_ignored)
{
	const char *args[] = {"--scenario",
			      "kill",
			      "--mem",
			      "256",
			      "--kill-grace-s",
			      "3",
			      "--kill-after-s",
			      "1",
			      VMENV,
			      "--command",
			      "trap '' TERM; while :; do sleep 0.2; done",
			      NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_KILLED");
	double took = fa_double(fa_update(r, "t1", "TASK_KILLED"), "t") - fa_double(r, "kill_t");
	cr_log_info("KILL -> TASK_KILLED for a task ignoring TERM, grace 3 s: %.3f s", took);
	cr_assert_geq(took, 3.0, "killed before the grace period was over");
	cr_assert_lt(took, 20.0);
	assert_nothing_left();
	free(states);
	json_object_put(r);
}

Test(executor_vm, shutdown_kills_and_exits)
{
	const char *args[] = {"--scenario", "shutdown", "--mem",     "256",	  "--grace",
			      "30secs",	    VMENV,	"--command", "sleep 600", NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_KILLED");
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	cr_assert_lt(fa_double(r, "exit_after_shutdown_s"), 30.0);
	assert_nothing_left();
	free(states);
	json_object_put(r);
}

Test(executor_vm, reconnect_keeps_the_task)
{
	const char *args[] = {
	    "--scenario", "reconnect", "--checkpoint", "--mem",
	    "256",	  VMENV,       "--command",    "sleep 5; uname -r > guest-uname",
	    NULL};
	struct json_object *r = run(args);
	struct json_object *subs, *last, *ups;
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	json_object_object_get_ex(r, "subscribes", &subs);
	last = json_object_array_get_idx(subs, json_object_array_length(subs) - 1);
	json_object_object_get_ex(last, "updates", &ups);
	cr_assert_geq(json_object_array_length(ups), 1, "unacknowledged updates resent");
	char p[4300];
	snprintf(p, sizeof(p), "%s/guest-uname", sandbox);
	char *g = fa_slurp(p);
	cr_assert_not_null(g, "the task survived the disconnect and finished");
	free(g);
	assert_nothing_left();
	free(states);
	json_object_put(r);
}

/* A host without cgroup CPU control: the quota cannot be set (503
 * CgroupUnavailable); the task still runs, and TASK_RUNNING says so. */
Test(executor_vm_nocg, quota_unavailable_is_logged_and_the_task_runs)
{
	start_vmsupd_as(false, NULL);
	sandbox = fa_sandbox();
	const char *args[] = {"--scenario", "finish",	 "--mem", "256",
			      VMENV,	    "--command", "true",  NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	const char *m = fa_str(fa_update(r, "t1", "TASK_RUNNING"), "message");
	cr_assert(strstr(m, "CPU quota not enforced"), "TASK_RUNNING says so: %s", m);
	cr_log_info("TASK_RUNNING: %s", m);
	char p[4300];
	snprintf(p, sizeof(p), "%s/stderr", sandbox);
	char *log = fa_slurp(p);
	cr_assert(log && strstr(log, "CPU quota not enforced"), "and the executor logs it");
	free(log);
	assert_nothing_left();
	free(states);
	json_object_put(r);
}

/*
 * A quota the host cannot give: the VM's cgroup parent (vmsupd's) is capped
 * at half a CPU, so the kernel refuses a full CPU for the task's VM (cgroup
 * v1 EINVAL; v2 has no such check, so the test needs v1). TASK_ERROR, with
 * the reason, and no VM or qemu left behind.
 */
Test(executor_vm, quota_refused_is_a_task_error)
{
	char logp[4300], parent[4300] = "", q[4400];
	FILE *f;
	snprintf(logp, sizeof(logp), "%s/vmsupd.log", dir);
	char *log = fa_slurp(logp);
	const char *p = log ? strstr(log, "cgroups v1") : NULL;
	if (!p || !(p = strstr(p, "parent ")))
		cr_skip_test("needs vmsupd on cgroup v1 (log: %s)", log ? log : "none");
	sscanf(p + 7, "%4299s", parent);
	free(log);
	snprintf(q, sizeof(q), "%s/cpu.cfs_quota_us", parent);
	f = fopen(q, "we");
	cr_assert_not_null(f, "cannot open %s: %s", q, strerror(errno));
	fputs("50000\n", f);
	cr_assert_eq(fclose(f), 0, "cannot cap %s", q);
	const char *args[] = {"--scenario", "error", "--cpus", "1", "--mem", "256", VMENV, NULL};
	struct json_object *r = run(args);
	f = fopen(q, "we");
	if (f) {
		fputs("-1\n", f);
		fclose(f);
	}
	char *states = fa_states(r, "t1");
	cr_assert(strstr(states, "TASK_ERROR"), "states %s", states);
	cr_assert_null(fa_update(r, "t1", "TASK_RUNNING"));
	const char *m = fa_str(fa_update(r, "t1", "TASK_ERROR"), "message");
	cr_assert(strstr(m, "cgroup") || strstr(m, "quota"), "the reason: %s", m);
	cr_log_info("TASK_ERROR: %s", m);
	assert_nothing_left();
	free(states);
	json_object_put(r);
}

/* ---- the warm pool (VMEXEC_POOL=1) ---- */

TestSuite(executor_vm_pool, .init = vm_setup_pool, .fini = teardown, .timeout = 900);

Test(executor_vm_pool, task_takes_a_warm_vm_with_the_sandbox_bound_in)
{
	const char *args[] = {"--scenario", "finish", "--mem", "200", "--cpus", "0.5", VMENV,
			      "--env", "VMEXEC_POOL=1", "--command",
			      /* alive while the probe looks at its VM at TASK_RUNNING */
			      "uname -r > guest-uname; sleep 5", NULL};
	struct json_object *r = run(args), *p;
	char *states = fa_states(r, "t1"), *guest, path[4300], name[64] = "";
	const char *msg = fa_str(fa_update(r, "t1", "TASK_RUNNING"), "message"), *v;
	struct utsname u;

	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	cr_expect(strstr(fa_str(fa_update(r, "t1", "TASK_STARTING"), "message"), "warm pool"), "%s",
		  fa_str(fa_update(r, "t1", "TASK_STARTING"), "message"));
	cr_assert((v = strstr(msg, "pool-")), "TASK_RUNNING names no pool VM: %s", msg);
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(v, " "), v);
	/* the command wrote into the sandbox, bound into the pool VM at take time */
	snprintf(path, sizeof(path), "%s/guest-uname", sandbox);
	guest = fa_slurp(path);
	cr_assert_not_null(guest, "the guest wrote no file into the sandbox");
	guest[strcspn(guest, "\n")] = '\0';
	uname(&u);
	cr_assert(*guest && strcmp(guest, u.release), "not the guest kernel: '%s'", guest);
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	/* taken once, and destroyed with its task: the pool's next VM is another one */
	p = vm_pool_status();
	cr_expect_eq(fa_int(p, "hits"), 1, "%s", json_object_to_json_string(p));
	cr_expect(!strstr(json_object_to_json_string(p), name), "%s is back in the pool", name);
	json_object_put(p);
	{
		const char *la[] = {"list", NULL};
		static char buf[65536];
		vmctl_json(la, buf, sizeof(buf));
		cr_expect(!strstr(buf, name), "the task's VM %s outlived the task", name);
	}
	free(guest);
	free(states);
	json_object_put(r);
}
