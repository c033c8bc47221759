/* The pure parts of the restart policy and of the /proc identity check. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/core/reattach.h"
#include "src/core/restart.h"

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
