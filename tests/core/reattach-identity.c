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
static pid_t qemus[4];

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
	char kernel_away[300], share_away[300];
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
	cr_expect(rt_health_says(&d, NULL, NULL), "healthy before");
	qemus[0] = pid = (pid_t)td_int(vm, "pid");
	json_object_put(vm);

	/* moved away, not deleted: the same files come back below (a start
	 * after a restart takes only the very files the VM was made with) */
	snprintf(kernel_away, sizeof(kernel_away), "%s.away", kernel);
	snprintf(share_away, sizeof(share_away), "%s.away", share);
	td_kill9(&d);
	cr_assert_eq(rename(kernel, kernel_away), 0);
	cr_assert_eq(rename(share, share_away), 0);
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
	cr_expect(rt_health_says(&d, "missing_files", "m"), "health degraded: files missing");
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
	cr_assert_eq(rename(kernel_away, kernel), 0);
	cr_assert_eq(rename(share_away, share), 0);
	vm = td_http(&d, "POST", "/v1/vms/m/start", NULL, &st);
	cr_expect_eq(st, 200, "start: %ld %s", st, td_err_desc(vm));
	cr_expect_str_eq(td_str(vm, "state"), "running");
	cr_expect_eq(array_len(vm, "missing"), 0);
	json_object_put(vm);
	cr_expect(rt_health_says(&d, NULL, NULL), "healthy again");
}

/* A process that is not qemu, alive until the suite's end. */
static pid_t spawn_sleep(void)
{
	pid_t p = fork();

	cr_assert_geq(p, 0);
	if (p == 0) {
		execlp("sleep", "sleep", "300", (char *)NULL);
		_exit(127);
	}
	return p;
}

/* Rewrite NAME's state file: "pid" set to pid (if > 0), "start_time"
 * dropped (if drop_start), as an older daemon or a hand would leave it. */
static void edit_state(const char *name, pid_t pid, bool drop_start)
{
	char path[256];
	struct json_object *j;

	snprintf(path, sizeof(path), "%s/state/%s.json", d.dir, name);
	j = json_object_from_file(path);
	cr_assert_not_null(j, "%s", path);
	if (pid > 0)
		json_object_object_add(j, "pid", json_object_new_int64(pid));
	if (drop_start)
		json_object_object_del(j, "start_time");
	cr_assert_eq(json_object_to_file(path, j), 0);
	json_object_put(j);
}

static long long state_pid(const char *name)
{
	char path[256];
	struct json_object *j;
	long long pid;

	snprintf(path, sizeof(path), "%s/state/%s.json", d.dir, name);
	j = json_object_from_file(path);
	cr_assert_not_null(j, "%s", path);
	pid = td_int(j, "pid");
	json_object_put(j);
	return pid;
}

Test(identity, wrong_pid_in_state_file)
{
	pid_t a, b, c, e;
	struct json_object *vm;

	td_start(&d, "stop_grace_s = 2");
	qemus[0] = a = rt_create(&d, "a", NULL);
	qemus[1] = b = rt_create(&d, "b", NULL);
	qemus[2] = c = rt_create(&d, "c", NULL);
	qemus[3] = e = rt_create(&d, "e", NULL);
	td_kill9(&d);
	sleepers[0] = spawn_sleep();
	sleepers[1] = spawn_sleep();
	/* a: the file points at another live process; its qemu runs on */
	edit_state("a", sleepers[0], false);
	/* b: the same, and its qemu died meanwhile */
	edit_state("b", sleepers[1], false);
	kill(b, SIGKILL);
	cr_assert(td_pid_gone(b, 10000));
	/* c: a state file from before start times */
	edit_state("c", 0, true);
	/* e: pid 1 */
	edit_state("e", 1, false);
	td_restart(&d);

	vm = rt_wait_state(&d, "a", "running", 0, 30000);
	cr_expect_eq(td_int(vm, "pid"), a, "the real qemu is adopted, not pid %d",
		     (int)sleepers[0]);
	json_object_put(vm);
	vm = rt_wait_state(&d, "b", "crashed", 0, 30000);
	cr_expect_eq(td_int(vm, "pid"), -1);
	json_object_put(vm);
	vm = rt_wait_state(&d, "c", "running", 0, 30000);
	cr_expect_eq(td_int(vm, "pid"), c, "an old state file's qemu is adopted");
	json_object_put(vm);
	vm = rt_wait_state(&d, "e", "running", 0, 30000);
	cr_expect_eq(td_int(vm, "pid"), e, "pid 1 in the file: the real qemu is adopted");
	json_object_put(vm);
	cr_expect_eq(kill(sleepers[0], 0), 0, "the process the file named is not killed");
	cr_expect_eq(kill(sleepers[1], 0), 0, "the process the file named is not killed");
	cr_expect(td_pid_is_qemu(a));
	cr_expect(td_pid_is_qemu(c));
	/* the file is put right */
	cr_expect_eq(state_pid("a"), a);

	/* the adopted qemu is managed: a destroy takes it down, the sleep stays */
	{
		long st;
		json_object_put(td_http(&d, "DELETE", "/v1/vms/a", NULL, &st));
		cr_expect_eq(st, 200);
	}
	cr_expect(td_pid_gone(a, 10000), "destroy reached the real qemu");
	cr_expect_eq(kill(sleepers[0], 0), 0);
}
