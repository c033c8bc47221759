/*
 * The state file is written by a thread of its own, off the event loop;
 * the replies still promise only what is on disk: kill -9 the daemon the
 * moment a 201 create (a 200 PUT autostart, a 200 PUT cpu, a 200 delete)
 * has arrived, and the restarted daemon knows the VM with the change (or
 * has forgotten it). Repeated, as a reply sent before its write would only
 * sometimes beat the disk. (The pool take's owner: tests/pool/test-pool.c,
 * which has the template that takes.)
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>

#include "tests/core/reattach-util.h"

#define ROUNDS 20

static struct tdaemon d;

static void up(void)
{
	td_start(&d, "stop_grace_s = 5");
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(durable, .init = up, .fini = down, .timeout = 900);

/* PUT /v1/vms/NAME/what body (asserted 200), kill -9 at once, restart:
 * the VM as the next daemon has it (new object). */
static struct json_object *put_then_kill9(const char *name, const char *what, const char *body)
{
	json_object_put(rt_put(&d, name, what, body));
	td_kill9(&d);
	td_restart(&d);
	return rt_get(&d, name);
}

Test(durable, kill9_right_after_the_reply)
{
	char name[16], path[64], file[300];
	struct json_object *vm;
	struct stat sb;
	long st;

	for (int k = 0; k < ROUNDS; k++) {
		pid_t pid;

		snprintf(name, sizeof(name), "d%d", k);
		pid = rt_create(&d, name, NULL); /* 201 */
		td_kill9(&d);
		td_restart(&d);
		vm = rt_wait_state(&d, name, "running", 0, 30000);
		cr_expect_eq(td_int(vm, "pid"), pid, "round %d: %s reattached, same qemu", k, name);
		json_object_put(vm);

		/* the autostart flag and a vCPU pin, each on disk with its 200 */
		vm = put_then_kill9(name, "autostart", "{\"autostart\":true}");
		cr_expect(json_object_get_boolean(json_object_object_get(vm, "autostart")),
			  "round %d: %s lost its autostart", k, name);
		json_object_put(vm);
		vm = put_then_kill9(name, "cpu", "{\"pin\":\"0\"}");
		cr_expect_str_eq(td_str(vm, "pin") ? td_str(vm, "pin") : "(null)", "0",
				 "round %d: %s lost its pin", k, name);
		cr_expect_eq(td_int(vm, "pid"), pid, "round %d: %s's qemu changed", k, name);
		json_object_put(vm);

		snprintf(path, sizeof(path), "/v1/vms/%s", name);
		vm = td_http(&d, "DELETE", path, NULL, &st);
		cr_assert_eq(st, 200, "round %d: delete %s: %ld %s", k, name, st, td_err_desc(vm));
		json_object_put(vm);
		td_kill9(&d);
		snprintf(file, sizeof(file), "%s/state/%s.json", d.dir, name);
		cr_expect_neq(stat(file, &sb), 0, "round %d: %s's state file outlived its 200", k,
			      name);
		td_restart(&d);
		vm = td_http(&d, "GET", path, NULL, &st);
		cr_expect_eq(st, 404, "round %d: %s back after its delete", k, name);
		json_object_put(vm);
		cr_expect(td_pid_gone(pid, 10000), "round %d: %s's qemu left running", k, name);
	}
}
