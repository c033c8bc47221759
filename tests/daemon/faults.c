/*
 * Faults around a running daemon, real qemu (guest-less VMs): qemu as an
 * unprivileged user, /dev/kvm absent, the state dir's disk full, a qemu
 * whose monitor stops answering.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/core/reattach-util.h"

static struct tdaemon d;
static pid_t stopped_pid;
static char tiny[192]; /* tmpfs mounted over the state dir */

static void down(void)
{
	if (stopped_pid > 0)
		kill(stopped_pid, SIGCONT);
	stopped_pid = 0;
	if (tiny[0])
		umount2(tiny, MNT_DETACH);
	tiny[0] = '\0';
	td_stop(&d);
}

TestSuite(faults, .fini = down, .timeout = 600);

/* The real uid owning a process, from /proc (what `ps -o user` shows). */
static long proc_uid(pid_t pid)
{
	long ruid, euid;

	td_proc_uids(pid, &ruid, &euid);
	return ruid;
}

Test(faults, qemu_runs_as_qemu_user)
{
	char rundir[256];
	struct stat st;
	struct json_object *vm;
	long code;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root to run qemu as nobody");
	td_start(&d, "qemu_user = nobody\nstop_grace_s = 5");
	pid = rt_create(&d, "asnobody", NULL);
	cr_expect_eq(proc_uid(pid), 65534, "qemu's effective uid");
	snprintf(rundir, sizeof(rundir), "%s/run/vm/asnobody", d.dir);
	cr_assert_eq(stat(rundir, &st), 0);
	cr_expect_eq(st.st_uid, 65534u, "run dir owner");
	cr_expect_eq(st.st_mode & 0777, 0700);
	/* still under control: pause, resume, stop through QMP */
	json_object_put(td_http(&d, "POST", "/v1/vms/asnobody/pause", NULL, &code));
	cr_expect_eq(code, 200);
	json_object_put(td_http(&d, "POST", "/v1/vms/asnobody/resume", NULL, &code));
	cr_expect_eq(code, 200);
	vm = td_http(&d, "POST", "/v1/vms/asnobody/stop", "{\"timeout_s\":5}", &code);
	cr_expect_eq(code, 200);
	json_object_put(vm);
	cr_expect(td_pid_gone(pid, 30000), "qemu gone after stop");
	vm = rt_get(&d, "asnobody");
	cr_expect_str_eq(td_str(vm, "state"), "stopped", "error %s", td_str(vm, "error"));
	json_object_put(vm);
}

/* This machine has no /dev/kvm: --accel kvm fails clearly, kvm:tcg falls back. */
Test(faults, kvm_missing)
{
	struct json_object *vm;
	const char *err, *tail;
	long code;

	if (access("/dev/kvm", R_OK | W_OK) == 0)
		cr_skip_test("/dev/kvm is usable here");
	td_start(&d, "stop_grace_s = 5");
	vm = td_http(&d, "POST", "/v1/vms",
		     "{\"name\":\"kvmonly\",\"guest\":false,\"accel\":\"kvm\"}", &code);
	cr_expect_eq(code, 201);
	json_object_put(vm);
	vm = rt_wait_state(&d, "kvmonly", "failed", 0, 120000);
	err = td_str(vm, "error");
	tail = td_str(vm, "log_tail");
	cr_log_info("accel kvm: error %s; log_tail %s", err, tail);
	cr_expect(tail && strcasestr(tail, "kvm"), "qemu's own words in the status: %s", tail);
	cr_expect(err && strstr(err, "failed to initialize kvm"), "the error says why: %s", err);
	cr_expect_eq(td_int(vm, "pid"), -1);
	json_object_put(vm);

	rt_create(&d, "fallback", "\"accel\":\"kvm:tcg\"");
	vm = rt_get(&d, "fallback");
	cr_expect_str_eq(td_str(vm, "accel"), "tcg");
	cr_expect_str_eq(td_str(vm, "accel_requested"), "kvm:tcg");
	json_object_put(vm);
}

/* Fill a filesystem up; returns the open filler path's fd (for freeing). */
static void fill(const char *dir, char *path, size_t size)
{
	static char block[4096];
	int fd;

	snprintf(path, size, "%s/filler", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	while (write(fd, block, sizeof(block)) > 0)
		;
	cr_assert_eq(errno, ENOSPC, "filling %s: %s", dir, strerror(errno));
	close(fd);
}

/*
 * Until the status has (want) a state file error, or has none. A write
 * that straddled the test's mount fails otherwise (ENOENT on the rename):
 * only the disk-full error counts, which the next change brings.
 */
static struct json_object *wait_save_error(const char *name, bool want, int timeout_ms)
{
	double deadline = td_now() + timeout_ms / 1000.0;

	for (;;) {
		struct json_object *vm = rt_get(&d, name);
		const char *e = td_str(vm, "state_file_error");
		bool has = e && strstr(e, "No space left");
		if ((want ? has : !e) || td_now() > deadline)
			return vm;
		json_object_put(vm);
		usleep(50000);
	}
}

/* One unlabelled sample from GET /metrics, or -1. */
static double metric(struct tdaemon *td, const char *name)
{
	char cmd[512], line[512];
	double v = -1;
	size_t n = strlen(name);
	FILE *p;

	snprintf(cmd, sizeof(cmd), "curl -s --max-time 10 --unix-socket %s http://x/metrics",
		 td->sock);
	if (!(p = popen(cmd, "r")))
		return -1;
	while (fgets(line, sizeof(line), p))
		if (!strncmp(line, name, n) && line[n] == ' ')
			v = strtod(line + n + 1, NULL);
	pclose(p);
	return v;
}

/*
 * A daemon with one VM (name) whose state dir is about to get a mount over
 * it (tiny); skips unless root. The mount namespace is private: whatever is
 * mounted dies with this test process.
 */
static pid_t daemon_with_state_mount(const char *name)
{
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root to mount over the state dir");
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		cr_skip_test("no private mount namespace: %s", strerror(errno));
	td_start(&d, "stop_grace_s = 5");
	pid = rt_create(&d, name, NULL);
	snprintf(tiny, sizeof(tiny), "%s/state", d.dir);
	return pid;
}

/* The state dir's filesystem fills up under running VMs: the write
 * failure shows in the status and the log, the VMs run on and answer. */
Test(faults, state_dir_disk_full)
{
	char filler[256], logbuf[1 << 16] = "";
	struct json_object *vm;
	pid_t a, b;
	long code;
	FILE *f;

	a = daemon_with_state_mount("full-a");
	cr_assert_eq(mount("tmpfs", tiny, "tmpfs", 0, "size=64k,mode=0700"), 0, "%s",
		     strerror(errno));
	fill(tiny, filler, sizeof(filler));

	json_object_put(td_http(&d, "POST", "/v1/vms/full-a/pause", NULL, &code));
	cr_expect_eq(code, 200, "a VM is controllable with the disk full");
	vm = wait_save_error("full-a", true, 30000);
	cr_expect(td_str(vm, "state_file_error") &&
		      strstr(td_str(vm, "state_file_error"), "No space left"),
		  "status: %s", td_str(vm, "state_file_error"));
	cr_expect_str_eq(td_str(vm, "state"), "paused");
	json_object_put(vm);

	b = rt_create(&d, "full-b", NULL);
	vm = wait_save_error("full-b", true, 30000);
	cr_expect_not_null(td_str(vm, "state_file_error"), "a new VM runs, unsaved, and says so");
	json_object_put(vm);
	cr_expect(td_pid_is_qemu(a) && td_pid_is_qemu(b), "the VMs are untouched");

	f = fopen(d.log, "r");
	cr_assert_not_null(f);
	logbuf[fread(logbuf, 1, sizeof(logbuf) - 1, f)] = '\0';
	fclose(f);
	cr_expect(strstr(logbuf, "No space left"), "the log says so too");

	vm = rt_get(&d, "full-b");
	cr_expect(json_object_get_boolean(json_object_object_get(vm, "state_unsaved")),
		  "state_unsaved in the status");
	json_object_put(vm);
	cr_expect_eq(metric(&d, "vmsup_vms_state_unsaved"), 2, "both VMs counted unsaved");
	cr_expect(rt_health_says(&d, "state_unsaved", "full-b"), "health degraded: unsaved");

	/* space again: the daemon retries by itself, with no change to the VM */
	cr_assert_eq(unlink(filler), 0);
	vm = wait_save_error("full-b", false, 10000);
	cr_expect_null(td_str(vm, "state_file_error"), "not retried: %s",
		       td_str(vm, "state_file_error"));
	cr_expect_not(json_object_get_boolean(json_object_object_get(vm, "state_unsaved")));
	json_object_put(vm);
	{
		char p[256];
		struct stat st;
		snprintf(p, sizeof(p), "%s/full-b.json", tiny);
		cr_expect_eq(stat(p, &st), 0, "full-b's state file written by the retry");
	}
	json_object_put(td_http(&d, "POST", "/v1/vms/full-a/resume", NULL, &code));
	cr_expect_eq(code, 200);
	vm = wait_save_error("full-a", false, 30000);
	cr_expect_null(td_str(vm, "state_file_error"), "still %s", td_str(vm, "state_file_error"));
	json_object_put(vm);
	{
		char p[256];
		struct stat st;
		snprintf(p, sizeof(p), "%s/full-a.json", tiny);
		cr_expect_eq(stat(p, &st), 0, "state file written once there is room");
	}
	cr_expect_eq(metric(&d, "vmsup_vms_state_unsaved"), 0);
	cr_expect(rt_health_says(&d, NULL, NULL), "healthy once saved");

	/* a restart finds both VMs and kills neither */
	td_kill9(&d);
	td_restart(&d);
	cr_expect(td_pid_is_qemu(a) && td_pid_is_qemu(b), "a restart killed a VM");
	vm = rt_get(&d, "full-a");
	cr_expect_str_eq(td_str(vm, "state"), "running");
	cr_expect_eq(td_int(vm, "pid"), a);
	json_object_put(vm);
	vm = rt_get(&d, "full-b");
	cr_expect_str_eq(td_str(vm, "state"), "running");
	cr_expect_eq(td_int(vm, "pid"), b);
	json_object_put(vm);
}

/* A read-only state dir: DELETE is refused with 500 before anything is
 * stopped, the VM runs on, and once writable it can be destroyed. */
Test(faults, state_dir_readonly_delete)
{
	struct json_object *o;
	char p[256];
	struct stat st;
	pid_t a;
	long code;

	a = daemon_with_state_mount("ro-a");
	cr_assert_eq(mount(tiny, tiny, NULL, MS_BIND, NULL), 0, "%s", strerror(errno));
	cr_assert_eq(mount(NULL, tiny, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL), 0, "%s",
		     strerror(errno));

	o = td_http(&d, "DELETE", "/v1/vms/ro-a", NULL, &code);
	cr_expect_eq(code, 500, "DELETE on a read-only state dir");
	cr_expect(td_err_desc(o) && strstr(td_err_desc(o), "state file"), "error: %s",
		  td_err_desc(o));
	json_object_put(o);
	o = rt_get(&d, "ro-a");
	cr_expect_str_eq(td_str(o, "state"), "running", "the VM is kept");
	json_object_put(o);
	cr_expect(td_pid_is_qemu(a), "qemu untouched");

	cr_assert_eq(umount2(tiny, 0), 0, "%s", strerror(errno));
	tiny[0] = '\0';
	o = td_http(&d, "DELETE", "/v1/vms/ro-a", NULL, &code);
	cr_expect_eq(code, 200, "DELETE once writable");
	json_object_put(o);
	cr_expect(td_pid_gone(a, 30000));
	snprintf(p, sizeof(p), "%s/state/ro-a.json", d.dir);
	cr_expect_neq(stat(p, &st), 0, "state file removed");
	o = td_http(&d, "GET", "/v1/vms/ro-a", NULL, &code);
	cr_expect_eq(code, 404);
	json_object_put(o);
}

/* qemu stops answering its monitor: the status says so, the daemon does
 * not hang, and it clears when qemu answers again. */
Test(faults, unresponsive_qmp_marked)
{
	struct json_object *vm;
	pid_t hung;
	long code;
	double t0;

	td_start(&d, "stop_grace_s = 5");
	hung = rt_create(&d, "mute", NULL);
	rt_create(&d, "talk", NULL);
	vm = rt_get(&d, "mute");
	cr_expect_str_eq(td_str(vm, "qmp"), "ok");
	json_object_put(vm);

	cr_assert_eq(kill(hung, SIGSTOP), 0);
	stopped_pid = hung;
	t0 = td_now();
	vm = td_http(&d, "POST", "/v1/vms/mute/qmp", "{\"execute\":\"query-status\"}", &code);
	cr_expect_eq(code, 504, "QMP to a stopped qemu: %ld", code);
	cr_log_info("504 after %.1f s", td_now() - t0);
	json_object_put(vm);
	vm = rt_get(&d, "mute");
	cr_expect_str_eq(td_str(vm, "qmp"), "unresponsive");
	cr_expect_str_eq(td_str(vm, "state"), "running", "unresponsive is not a state change");
	json_object_put(vm);
	vm = td_http(&d, "POST", "/v1/vms/talk/pause", NULL, &code);
	cr_expect_eq(code, 200, "the other VM is served");
	json_object_put(vm);
	vm = rt_get(&d, "talk");
	cr_expect_str_eq(td_str(vm, "qmp"), "ok");
	json_object_put(vm);

	kill(hung, SIGCONT);
	stopped_pid = 0;
	vm = td_http(&d, "POST", "/v1/vms/mute/qmp", "{\"execute\":\"query-status\"}", &code);
	cr_expect_eq(code, 200);
	json_object_put(vm);
	vm = rt_get(&d, "mute");
	cr_expect_str_eq(td_str(vm, "qmp"), "ok", "an answer clears the mark");
	json_object_put(vm);
}
