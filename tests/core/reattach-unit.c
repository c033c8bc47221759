/* The pure parts of the restart policy, of the /proc identity check and of
 * reading a state file back. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/core/module.h"
#include "src/core/reattach.h"
#include "src/core/restart.h"
#include "src/core/supervisor.h"
#include "tests/lib/sup-tmp.h"

Test(restart_unit, backoff_doubles_and_caps)
{
	cr_expect_eq(vm_restart_backoff_ms(0), 1000);
	cr_expect_eq(vm_restart_backoff_ms(1), 2000);
	cr_expect_eq(vm_restart_backoff_ms(4), 16000);
	cr_expect_eq(vm_restart_backoff_ms(5), 30000);
	cr_expect_eq(vm_restart_backoff_ms(1000), 30000, "no overflow");
}

Test(restart_unit, policies)
{
	cr_expect_not(vm_restart_wanted("never", VM_CRASHED, false));
	cr_expect(vm_restart_wanted("on-failure", VM_CRASHED, false));
	cr_expect(vm_restart_wanted("on-failure", VM_FAILED, false));
	cr_expect_not(vm_restart_wanted("on-failure", VM_STOPPED, false));
	cr_expect(vm_restart_wanted("always", VM_STOPPED, false));
	cr_expect(vm_restart_wanted("always", VM_CRASHED, false));
	cr_expect_not(vm_restart_wanted("always", VM_STOPPED, true), "an API stop wins");
	cr_expect_not(vm_restart_wanted("on-failure", VM_CRASHED, true));
	cr_expect_not(vm_restart_wanted("always", VM_RUNNING, false));
	cr_expect_not(vm_restart_wanted(NULL, VM_CRASHED, false));
}

/* pid + start time + command line: a reused pid is not taken for ours */
Test(reattach_unit, proc_identity)
{
	char *sock = "/tmp/vsr-unit-XXXXXX/qmp.sock";
	pid_t c = fork();
	unsigned long long st;

	cr_assert_geq(c, 0);
	if (c == 0) {
		/* the socket path rides on the command line, as on qemu's */
		execlp("sh", "sh", "-c", "sleep 30; :", sock, (char *)NULL);
		_exit(127);
	}
	usleep(200000);
	st = vm_proc_start_time(c);
	cr_expect_gt(st, 0);
	cr_expect(vm_proc_is_our_qemu(c, st, sock));
	cr_expect_not(vm_proc_is_our_qemu(c, st + 1, sock), "another start time");
	cr_expect_not(vm_proc_is_our_qemu(c, st, "/tmp/other/qmp.sock"), "another socket");
	kill(c, SIGKILL);
	/* a zombie is gone already */
	usleep(100000);
	cr_expect_not(vm_proc_is_our_qemu(c, st, sock));
	waitpid(c, NULL, 0);
	cr_expect_not(vm_proc_is_our_qemu(c, st, sock));
	cr_expect_eq(vm_proc_start_time(c), 0);
}

static char sf_dir[] = "/tmp/vsr-sf-XXXXXX";

static void sf_rm_dir(void)
{
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf --one-file-system %s", sf_dir);
	cr_expect_eq(system(cmd), 0);
}

/* Every state file reattach cannot use is refused with a reason for the
 * log: fuzz-statefile found one without "spec" refused with none (the
 * log said "?"). No qemu is involved: /bin/true answers the probe. */
Test(statefile_unit, refusals_say_why, .fini = sf_rm_dir)
{
	static const char *const bad[] = {
	    "{\"version\":1,\"state\":\"defined\"}",
	    "{\"version\":2,\"spec\":{\"name\":\"sf\",\"guest\":false},\"state\":\"defined\"}",
	    "{\"version\":1,\"spec\":{\"name\":\"other\",\"guest\":false},\"state\":\"defined\"}",
	    "{\"version\":1,\"spec\":{\"name\":\"sf\",\"guest\":false},\"state\":\"sleeping\"}",
	    "{\"version\":1,\"spec\":[],\"state\":\"defined\"}",
	};
	struct event_base *base = event_base_new();
	struct json_object *j;
	struct vmsup *sup;
	struct vm *vm;
	char *err = NULL;

	cr_assert(mkdtemp(sf_dir));
	cr_assert(sup = test_sup_new(base, sf_dir, "/bin/true", &err), "vmsup_new: %s", err);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		cr_assert(j = json_tokener_parse(bad[i]));
		cr_expect_null(vm_from_state(sup, "sf", j, &err), "accepted %s", bad[i]);
		cr_expect(err && *err, "refused without a reason: %s", bad[i]);
		free(err);
		json_object_put(j);
	}
	/* and the smallest file it does take */
	err = NULL;
	j = json_tokener_parse(
	    "{\"version\":1,\"spec\":{\"name\":\"sf\",\"guest\":false},\"state\":\"stopped\"}");
	vm = vm_from_state(sup, "sf", j, &err);
	cr_assert(vm, "refused: %s", err);
	cr_expect_eq(vm->state, VM_STOPPED);
	vmsup_modules_release(vm);
	vm_release_fields(vm);
	free(vm);
	json_object_put(j);
	vmsup_free(sup);
	event_base_free(base);
}
