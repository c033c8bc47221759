/*
 * Real vmsupd, real qemu: what a restarted daemon trusts in a state file.
 * A file the VM was created with that went away while the daemon was down
 * (kernel, share) does not cost the running VM its qemu; a pid in the file
 * that is not the VM's qemu (reused, edited) is never adopted nor killed:
 * the real qemu is found by its pid file and QMP socket, or the VM crashed.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/core/reattach-util.h"

static struct tdaemon d;
static pid_t sleepers[2];
/* qemus a failing daemon may leave without a run dir td_stop would find */
static pid_t qemus[3];

static void down(void)
{
	for (size_t i = 0; i < sizeof(sleepers) / sizeof(sleepers[0]); i++)
		if (sleepers[i] > 0) {
			kill(sleepers[i], SIGKILL);
			waitpid(sleepers[i], NULL, 0);
			sleepers[i] = 0;
		}
	td_stop(&d);
	for (size_t i = 0; i < sizeof(qemus) / sizeof(qemus[0]); i++)
		if (qemus[i] > 0 && td_pid_is_qemu(qemus[i]))
			kill(qemus[i], SIGKILL);
	memset(qemus, 0, sizeof(qemus));
}

TestSuite(identity, .fini = down, .timeout = 300);

/* Whether the array at key holds a string equal to want. */
static bool has_str(struct json_object *o, const char *key, const char *want)
{
	struct json_object *a;

	if (!json_object_object_get_ex(o, key, &a) || !json_object_is_type(a, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(a); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), want))
			return true;
	return false;
}

static size_t array_len(struct json_object *o, const char *key)
{
	struct json_object *a;

	return json_object_object_get_ex(o, key, &a) && json_object_is_type(a, json_type_array)
		   ? json_object_array_length(a)
		   : (size_t)-1;
}

Test(identity, files_gone_while_down_keep_the_vm)
{
	const char *gd = td_guest_dir();
	char kernel[256], initrd[256], share[256], body[1024], want[300], state[256];
	struct json_object *vm;
	struct stat sb;
	long st;
	pid_t pid;

	if (!gd)
		cr_skip_test("no test guest ($VMSUP_GUEST_DIR; scripts/mkguest.sh builds it)");
	td_start(&d, "stop_grace_s = 2");
	/* the VM's own copies, removed below */
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", d.dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", d.dir);
	snprintf(share, sizeof(share), "%s/share", d.dir);
	td_sh_ok("cp %s/vmlinuz %s && cp %s/initrd.img %s && mkdir %s", gd, kernel, gd, initrd,
		 share);
	snprintf(body, sizeof(body),
		 "{\"name\":\"m\",\"accel\":\"tcg\",\"mem_mib\":128,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\",\"shares\":[{\"path\":\"%s\"}]}",
		 kernel, initrd, share);
	vm = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "%ld %s", st, td_err_desc(vm));
	cr_assert_str_eq(td_str(vm, "state"), "running");
	cr_expect_eq(array_len(vm, "missing"), 0, "nothing missing yet");
	qemus[0] = pid = (pid_t)td_int(vm, "pid");
	json_object_put(vm);

	td_kill9(&d);
	cr_assert_eq(unlink(kernel), 0);
	cr_assert_eq(rmdir(share), 0);
	td_restart(&d);

	vm = rt_wait_state(&d, "m", "running", 0, 30000);
	cr_expect_eq(td_int(vm, "pid"), pid, "the same qemu");
	cr_expect(td_pid_is_qemu(pid), "qemu %d still runs", (int)pid);
	snprintf(want, sizeof(want), "kernel: %s", kernel);
	cr_expect(has_str(vm, "missing", want), "missing names the kernel: %s",
		  json_object_to_json_string(vm));
	snprintf(want, sizeof(want), "shares[0]: %s", share);
	cr_expect(has_str(vm, "missing", want), "missing names the share");
	cr_expect_eq(array_len(vm, "missing"), 2, "the initrd is still there");
	json_object_put(vm);
	snprintf(state, sizeof(state), "%s/state/m.json", d.dir);
	cr_expect_eq(stat(state, &sb), 0, "the state file stays (not set aside as .bad)");

	/* it is managed: a stop works, a start names what is gone */
	vm = td_http(&d, "POST", "/v1/vms/m/stop", "{\"timeout_s\":1}", &st);
	cr_expect_eq(st, 200, "stop: %ld %s", st, td_err_desc(vm));
	json_object_put(vm);
	cr_expect(td_pid_gone(pid, 10000));
	vm = td_http(&d, "POST", "/v1/vms/m/start", NULL, &st);
	cr_expect_eq(st, 409, "start without its kernel: %ld", st);
	cr_expect_str_eq(td_err_class(vm), "Conflict");
	cr_expect(td_err_desc(vm) && strstr(td_err_desc(vm), kernel), "the error names %s: %s",
		  kernel, td_err_desc(vm));
	json_object_put(vm);
	vm = rt_get(&d, "m");
	cr_expect_str_eq(td_str(vm, "state"), "stopped", "a refused start changes nothing");
	json_object_put(vm);

	/* the files back: it starts again */
	td_sh_ok("cp %s/vmlinuz %s && mkdir %s", gd, kernel, share);
	vm = td_http(&d, "POST", "/v1/vms/m/start", NULL, &st);
	cr_expect_eq(st, 200, "start: %ld %s", st, td_err_desc(vm));
	cr_expect_str_eq(td_str(vm, "state"), "running");
	cr_expect_eq(array_len(vm, "missing"), 0);
	json_object_put(vm);
}
