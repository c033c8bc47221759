/*
 * The executor on a bridge (issue 22): vmsupd's default network is a bridge
 * in the test's own namespace, with dnsmasq handing out addresses
 * (tests/lib/bridge-net.h). TASK_RUNNING's container_status.network_infos
 * (checked against mesos.proto by the fake agent) must carry the guest's
 * real address: the one dnsmasq leased to the VM's MAC, on which the
 * namespace reaches the task's own service. Root only, skipped otherwise.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/executor/vm-harness.h"
#include "tests/lib/bridge-net.h"

static struct tbridge net;

static void up(void)
{
	tb_up(&net);
	start_vmsupd_as(true, "net_mode = bridge\nbridge = " TB_BRIDGE "\n");
	sandbox = fa_sandbox();
}

static void down(void)
{
	teardown();
	tb_down(&net);
}

TestSuite(executor_bridge, .init = up, .fini = down, .timeout = 900);

/* Run by the fake agent at TASK_RUNNING (in the namespace, as its child):
 * the VM as vmsupd has it, then the first line of the task's service on
 * the VM's address, as JSON; then the task may end. */
static const char probe_py[] =
    "import json,socket,subprocess,sys,time\n"
    "vm=json.loads(subprocess.check_output([sys.argv[1],'--socket',sys.argv[2],'-o','json',"
    "'status','mesos-t1']))\n"
    "got=''\n"
    "for i in range(150):\n"
    "  try:\n"
    "    s=socket.create_connection((vm['ip'],7000),timeout=2)\n"
    "    got=s.makefile().readline().strip(); s.close()\n"
    "    if got: break\n"
    "  except OSError: pass\n"
    "  time.sleep(0.2)\n"
    "print(json.dumps({'mac':vm['mac'],'ip':vm['ip'],'net_mode':vm['net_mode'],'got':got}))\n"
    "open(sys.argv[3]+'/done','w').close()\n";

Test(executor_bridge, running_carries_the_leased_address)
{
	const char *b = getenv("top_builddir");
	char vmctl[4300], done_dir[4300], lease[64];
	struct json_object *pa = json_object_new_array(), *r, *vm, *u;
	char *states;
	const char *ip;

	snprintf(vmctl, sizeof(vmctl), "%s/src/cli/vmctl", b && *b ? b : ".");
	snprintf(done_dir, sizeof(done_dir), "%s", sandbox);
	json_object_array_add(pa, json_object_new_string("python3"));
	json_object_array_add(pa, json_object_new_string("-c"));
	json_object_array_add(pa, json_object_new_string(probe_py));
	json_object_array_add(pa, json_object_new_string(vmctl));
	json_object_array_add(pa, json_object_new_string(sock));
	json_object_array_add(pa, json_object_new_string(done_dir));
	const char *args[] = {"--scenario", "finish", "--mem", "256", VMENV, "--probe",
			      json_object_to_json_string(pa), "--command",
			      /* a service of the task's own, until the probe has read it */
			      "(while [ ! -f done ]; do echo served-by-t1 | nc -l -p 7000; done "
			      ">/dev/null 2>&1 &); while [ ! -f done ]; do sleep 0.2; done",
			      NULL};
	r = run(args);
	states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	u = fa_update(r, "t1", "TASK_RUNNING");
	ip = running_ip(u); /* labels and network_infos[0].ip_addresses[0] agree */
	vm = probed_vm(r);
	cr_assert_str_eq(fa_str(vm, "net_mode"), "bridge");
	tb_lease_of(&net, fa_str(vm, "mac"), lease, sizeof(lease));
	cr_log_info("TASK_RUNNING: %s; dnsmasq leased %s to %s; the namespace got '%s'", ip, lease,
		    fa_str(vm, "mac"), fa_str(vm, "got"));
	cr_expect(*lease, "dnsmasq has no lease for the VM's MAC %s", fa_str(vm, "mac"));
	cr_expect_str_eq(ip, lease, "network_infos says %s, dnsmasq leased %s", ip, lease);
	cr_expect(!strncmp(ip, TB_PREFIX, strlen(TB_PREFIX)), "address %s", ip);
	cr_expect_str_eq(fa_str(vm, "ip"), ip, "vmsupd reports %s", fa_str(vm, "ip"));
	cr_expect_str_eq(fa_str(vm, "got"), "served-by-t1", "%s:7000 from the namespace gave '%s'",
			 ip, fa_str(vm, "got"));
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	assert_nothing_left();
	json_object_put(vm);
	json_object_put(pa);
	free(states);
	json_object_put(r);
}
