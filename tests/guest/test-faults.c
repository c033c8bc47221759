/*
 * Held requests and a hung agent, through the daemon: a real qemu-ga
 * stopped with SIGSTOP in one guest must not slow a second VM, its
 * requests end in a timeout, and the agent resynchronises once it runs
 * again. (Garbage, stale ids and disconnects mid-reply are covered by the
 * module's fake-agent tests, tests/guest/test-agent-fake.c: the daemon's
 * qemu owns the chardev socket, so a fake cannot sit behind it.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/guest/gtest.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

TestSuite(agent_faults, .fini = down, .timeout = 900);

static const char *state_of(struct json_object *vm, const char *key)
{
	const char *s = td_str(vm, key);
	return s ? s : "(null)";
}

Test(agent_faults, held_requests_end_with_the_vm)
{
	struct json_object *r;
	long st;
	int fd, gone;
	double t0;

	td_start(&d, NULL);
	gt_create(&d, "x");
	/* two requests wait for an agent that is not up yet; one client leaves */
	fd = gt_raw_request(&d, "GET", "/v1/vms/x/ip?wait=300");
	gone = gt_raw_request(&d, "GET", "/v1/vms/x/ip?wait=300");
	usleep(200000);
	close(gone);
	t0 = td_now();
	r = td_http(&d, "DELETE", "/v1/vms/x?timeout=0", NULL, &st);
	cr_expect_eq(st, 200);
	json_object_put(r);
	/* the waiter hears that the VM is gone at once, not after 300 s */
	cr_expect_eq(gt_reply_status(fd, 30000), 404, "held ip request: not answered 404");
	cr_expect_lt(td_now() - t0, 30.0);
	close(fd);
	r = td_http(&d, "GET", "/v1/version", NULL, &st);
	cr_expect_eq(st, 200, "daemon died");
	json_object_put(r);
}

Test(agent_faults, hung_agent_does_not_touch_another_vm)
{
	struct json_object *r, *vm;
	struct gt_exec x;
	const char *stop[] = {"sh", "-c",
			      "(sleep 2; kill -STOP $(pidof qemu-ga)) </dev/null >/dev/null 2>&1 &",
			      NULL};
	const char *hello[] = {"echo", "hello", NULL};
	double t0, deadline;
	long st;
	int fd, ok;

	td_start(&d, NULL);
	gt_create(&d, "h");
	gt_create(&d, "o");
	json_object_put(gt_wait_ip(&d, "h"));
	json_object_put(gt_wait_ip(&d, "o"));

	gt_exec(&d, "h", stop, NULL, 0, &x);
	cr_assert_eq(x.http, 200);
	gt_exec_free(&x);
	sleep(4); /* qemu-ga in h is stopped now */

	/* a request to h hangs in the agent... */
	fd = gt_raw_post(&d, "/v1/vms/h/exec", "{\"argv\":[\"true\"]}");
	usleep(300000);
	t0 = td_now();
	gt_exec(&d, "o", hello, NULL, 0, &x);
	cr_expect_eq(x.http, 200);
	cr_expect_str_eq((char *)x.out, "hello\n");
	gt_exec_free(&x);
	r = td_http(&d, "GET", "/v1/vms/o/ip?wait=0", NULL, &st);
	cr_expect_eq(st, 200);
	json_object_put(r);
	cr_expect_lt(td_now() - t0, 5.0, "the other VM took %.1f s", td_now() - t0);

	/* ...and fails with a timeout (the agent's 10 s per command), not forever */
	cr_expect_eq(gt_reply_status(fd, 60000), 504, "held exec on a hung agent: no 504");
	close(fd);
	t0 = td_now();
	gt_exec(&d, "h", hello, NULL, 0, &x);
	cr_expect(x.http == 504 || x.http == 503, "hung agent: %ld %s", x.http,
		  td_err_desc(x.reply));
	cr_expect_lt(td_now() - t0, 60.0);
	gt_exec_free(&x);
	vm = td_http(&d, "GET", "/v1/vms/h", NULL, &st);
	cr_expect_str_neq(state_of(vm, "agent"), "ready", "a hung agent is not ready");
	json_object_put(vm);

	/* wake it through ssh (independent of the agent): it resynchronises */
	vm = td_http(&d, "GET", "/v1/vms/h", NULL, &st);
	{
		char cmd[1024];
		snprintf(cmd, sizeof(cmd),
			 "ssh -F /dev/null -i '%s' -p %lld -o BatchMode=yes -o IdentitiesOnly=yes "
			 "-o StrictHostKeyChecking=accept-new -o UserKnownHostsFile='%s' "
			 "-o ConnectTimeout=60 -o LogLevel=ERROR root@127.0.0.1 "
			 "'kill -CONT $(pidof qemu-ga)'",
			 td_str(vm, "ssh_key"), td_int(vm, "ssh_port"), td_str(vm, "known_hosts"));
		cr_assert_eq(system(cmd), 0, "ssh to h failed");
	}
	json_object_put(vm);
	deadline = td_now() + 90;
	ok = 0;
	while (!ok && td_now() < deadline) {
		gt_exec(&d, "h", hello, NULL, 0, &x);
		ok = x.http == 200 && x.out && !strcmp((char *)x.out, "hello\n");
		gt_exec_free(&x);
		if (!ok)
			usleep(200000);
	}
	cr_expect(ok, "h's agent did not come back after SIGCONT");
	vm = td_http(&d, "GET", "/v1/vms/h", NULL, &st);
	cr_expect_str_eq(state_of(vm, "agent"), "ready");
	json_object_put(vm);

	/* an exec in flight when qemu dies is answered (409), not left hanging */
	fd = gt_raw_post(&d, "/v1/vms/h/exec", "{\"argv\":[\"sleep\",\"120\"]}");
	usleep(500000);
	r = td_http(&d, "POST", "/v1/vms/h/kill", NULL, &st);
	cr_expect_eq(st, 200);
	json_object_put(r);
	st = gt_reply_status(fd, 30000);
	cr_expect_eq(st, 409, "held exec not answered 409 on kill: %ld", st);
	close(fd);
	/* o never noticed */
	gt_exec(&d, "o", hello, NULL, 0, &x);
	cr_expect_eq(x.http, 200);
	gt_exec_free(&x);
}
