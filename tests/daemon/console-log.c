/*
 * The console log under console_log_max (issue 19): the test guest prints
 * several times the cap to its serial port; console.log never passes the
 * cap, the old part is kept in console.log.1 (one file), and the guest's
 * newest output is in console.log.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/daemon/service-util.h"
#include "tests/lib/daemon-harness.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

TestSuite(console, .fini = down, .timeout = 600);

#define CAP (1024 * 1024)

static long long size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? -1 : (long long)st.st_size;
}

/* The console log's size, looked at every 20 ms while the guest prints. */
struct watch {
	const char *path;
	atomic_bool stop;
	long long biggest;
};

static void *watch_size(void *arg)
{
	struct watch *w = arg;

	while (!atomic_load(&w->stop)) {
		long long sz = size_of(w->path);
		if (sz > w->biggest)
			w->biggest = sz;
		usleep(20000);
	}
	return NULL;
}

/* GET /v1/vms/c/logs and vmctl logs give the guest's last line; running:
 * the VM's qemu is still there (else killed, its logs kept) */
static void logs_are_readable(bool running)
{
	struct json_object *r;
	char out[8192];
	long st;
	int rc;

	r = td_http(&d, "GET", "/v1/vms/c/logs?tail=2", NULL, &st);
	cr_assert_eq(st, 200, "logs: %ld", st);
	cr_expect(strstr(td_str(r, "log"), "chatty-done"), "running %d: last lines '%s'", running,
		  td_str(r, "log"));
	cr_expect_str_eq(td_str(r, "source"), "console");
	json_object_put(r);
	rc = td_vmctl(&d, out, sizeof(out), "logs", "c", "--tail", "3", NULL);
	cr_expect_eq(rc, 0, "vmctl logs: %d %s", rc, out);
	cr_expect(strstr(out, "chatty-done") && strlen(out) < 400, "vmctl logs: '%s'", out);
	r = td_http(&d, "GET", "/v1/vms/c/logs?source=qemu", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "source"), "qemu");
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/vms/c/logs?tail=0", NULL, &st);
	cr_expect_eq(st, 400);
	cr_expect_str_eq(td_err_class(r), "InvalidParameter");
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/vms/c/logs?source=disk", NULL, &st);
	cr_expect_eq(st, 400);
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/vms/nosuch/logs", NULL, &st);
	cr_expect_eq(st, 404);
	json_object_put(r);
	rc = td_vmctl(&d, out, sizeof(out), "logs", "c", "--tail", "x", NULL);
	cr_expect_eq(rc, 2, "vmctl logs --tail x: %d %s", rc, out);
}

Test(console, chatty_guest_stays_under_the_cap)
{
	const char *gd = getenv("VMSUP_GUEST_DIR");
	char kernel[512], initrd[512], console[512] = "", old[600], conf[64];
	struct json_object *r;
	long long biggest = 0, sz;
	long st;
	struct watch watch = {.biggest = 0};
	pthread_t watcher;

	if (!gd)
		gd = "/tmp/guest";
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", gd);
	if (access(kernel, R_OK) || access(initrd, R_OK))
		cr_skip_test("no test guest in %s (scripts/mkguest.sh builds it)", gd);
	snprintf(conf, sizeof(conf), "console_log_max = %d\n", CAP);
	td_start(&d, conf);
	r = td_create_guest(&d, "c", kernel, initrd);
	cr_assert(td_str(r, "console_log"));
	snprintf(console, sizeof(console), "%s", td_str(r, "console_log"));
	snprintf(old, sizeof(old), "%s.1", console);
	json_object_put(r);
	r = td_wait_ip(&d, "c", 180, &st);
	cr_assert_eq(st, 200, "the guest's agent did not come up");
	json_object_put(r);
	/* 40000 lines of 100 bytes: about 4 MB, four times the cap, then a
	 * marker; the exec returns once the guest wrote it all */
	watch.path = console;
	cr_assert_eq(pthread_create(&watcher, NULL, watch_size, &watch), 0);
	r = td_http(&d, "POST", "/v1/vms/c/exec",
		    "{\"argv\":[\"sh\",\"-c\",\"l=0123456789012345678901234567890123456789"
		    "01234567890123456789012345678901234567890123456789012345678; "
		    "i=0; while [ $i -lt 40000 ]; do echo $l; i=$((i+1)); done > /dev/ttyS0; "
		    "echo chatty-done > /dev/ttyS0\"],\"timeout_s\":500}",
		    &st);
	/* the last bytes drain and the timer catches up meanwhile */
	usleep(3000000);
	atomic_store(&watch.stop, true);
	pthread_join(watcher, NULL);
	biggest = watch.biggest;
	cr_assert_eq(st, 200, "exec: %ld", st);
	json_object_put(r);
	cr_expect(biggest > 0, "no console log at %s", console);
	cr_expect(biggest <= CAP, "console.log grew to %lld bytes, cap %d", biggest, CAP);
	sz = size_of(old);
	cr_expect(sz > 0 && sz <= CAP, "console.log.1 is %lld bytes (cap %d)", sz, CAP);
	cr_expect(td_file_has(console, "chatty-done") || td_file_has(old, "chatty-done"),
		  "the guest's last line is in neither log");
	cr_expect(size_of(console) + sz < 4000000, "the logs kept everything: no rotation");
	logs_are_readable(true);
	/* a crashed VM keeps its logs until it is destroyed */
	r = td_http(&d, "POST", "/v1/vms/c/kill", NULL, &st);
	cr_expect_eq(st, 200);
	json_object_put(r);
	logs_are_readable(false);
	r = td_http(&d, "DELETE", "/v1/vms/c", NULL, &st);
	cr_expect_eq(st, 200);
	json_object_put(r);
}

/* issue 24: a guest that never starts its agent (a kernel without its
 * initrd panics: no root) fails the run at once with the console's last
 * lines, not after the whole wait */
Test(console, run_without_initrd_fails_fast)
{
	const char *gd = getenv("VMSUP_GUEST_DIR");
	char kernel[512], out[16384];
	double t0;
	int rc;

	if (!gd)
		gd = "/tmp/guest";
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd);
	if (access(kernel, R_OK))
		cr_skip_test("no test guest in %s (scripts/mkguest.sh builds it)", gd);
	td_start(&d, NULL);
	t0 = td_now();
	/* no panic=-1: the panicked kernel hangs on, qemu does not exit */
	rc = td_vmctl(&d, out, sizeof(out), "run", "--kernel", kernel, "--accel", "tcg", "--mem",
		      "256", "--append", "console=ttyS0", "--via", "agent", "--", "true", NULL);
	cr_expect_eq(rc, 1, "vmctl run: %d %s", rc, out);
	cr_expect(strstr(out, "kernel panicked"), "no reason: %s", out);
	cr_expect(strstr(out, "Kernel panic"), "no console tail: %s", out);
	cr_expect(td_now() - t0 < 100, "took %.0f s (the wait is 120 s)", td_now() - t0);
	/* run destroyed its VM */
	cr_expect_eq(td_count_qemus(&d), 0);
}

/* Appends n bytes of 'x' lines to path (as a serial port writing would). */
static void append_bytes(const char *path, long n)
{
	char line[101];
	FILE *f = fopen(path, "a");

	cr_assert(f, "cannot append to %s", path);
	memset(line, 'x', 100);
	line[100] = '\n';
	for (long done = 0; done < n; done += sizeof(line))
		fwrite(line, 1, sizeof(line), f);
	cr_assert_eq(fclose(f), 0);
}

/* True once path exists and console is under limit, within timeout_ms. */
static bool rotated_within(const char *old, const char *console, long long limit, int timeout_ms)
{
	for (int waited = 0; waited < timeout_ms; waited += 20) {
		if (size_of(old) > 0 && size_of(console) < limit)
			return true;
		usleep(20000);
	}
	return false;
}

/* The logs are looked at when written to (inotify), not on a timer over
 * every VM: a log that grows past 3/4 of the cap is still rotated, for a
 * VM started after the daemon and for one a restarted daemon reattached;
 * and one that is not written to is left alone. Guest-less: the test
 * writes to console.log itself. */
Test(console, written_log_rotated_also_after_reattach)
{
	char console[512], old[600], conf[96];
	struct json_object *r;
	long st;

	snprintf(conf, sizeof(conf), "console_log_max = %d\non_exit = keep\n", CAP);
	td_start(&d, conf);
	r = td_http(&d, "POST", "/v1/vms", "{\"name\":\"q\",\"mem_mib\":64,\"guest\":false}", &st);
	cr_assert_eq(st, 201, "create: %ld", st);
	cr_assert(td_str(r, "console_log"));
	snprintf(console, sizeof(console), "%s", td_str(r, "console_log"));
	snprintf(old, sizeof(old), "%s.1", console);
	json_object_put(r);

	append_bytes(console, CAP / 2);
	usleep(600000); /* three checks' worth: under 3/4 of the cap, nothing to do */
	cr_expect_lt(size_of(old), 0, "console.log.1 made for a log under 3/4 of the cap");
	append_bytes(console, CAP / 2);
	cr_expect(rotated_within(old, console, CAP / 4, 10000),
		  "a log past 3/4 of the cap was not rotated: console.log %lld, .1 %lld bytes",
		  size_of(console), size_of(old));

	/* the restarted daemon follows the log of the VM it reattached */
	sv_sigterm(&d); /* on_exit = keep: the VM runs on */
	td_restart(&d);
	cr_assert_eq(unlink(old), 0);
	append_bytes(console, CAP);
	cr_expect(rotated_within(old, console, CAP / 4, 10000),
		  "after a restart, the log was not rotated: console.log %lld, .1 %lld bytes",
		  size_of(console), size_of(old));
	cr_expect_eq(td_destroy(&d, "q"), 200);
}
