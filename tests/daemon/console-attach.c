/*
 * vmctl console (issue 24): a real vmctl on a pseudo-terminal attaches to
 * the test guest's serial console (booted with a shell as init), runs a
 * command at the guest's shell and sees its output; a second attach gets
 * 409 naming the holder; Ctrl-] detaches, the terminal is restored and the
 * VM runs on; the console log has the line; a console whose VM is
 * destroyed ends vmctl with exit 1, and ends vmctl logs -f, which printed
 * the console's new lines meanwhile.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "tests/daemon/service-util.h"
#include "tests/lib/daemon-harness.h"

static struct tdaemon d;
static pid_t child = -1, follower = -1;

static void down(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	if (follower > 0 && waitpid(follower, NULL, WNOHANG) == 0) {
		kill(follower, SIGKILL);
		waitpid(follower, NULL, 0);
	}
	td_stop(&d);
}

TestSuite(console_attach, .fini = down, .timeout = 300);

/* vmctl console NAME on a new pty; the master into *master, the slave
 * (kept open here, to read its modes afterwards) into *slave. */
static void attach(const char *name, int *master, int *slave)
{
	const char *b = getenv("top_builddir");
	char bin[512];
	struct termios t;

	snprintf(bin, sizeof(bin), "%s/src/cli/vmctl", b ? b : ".");
	cr_assert_eq(openpty(master, slave, NULL, NULL, NULL), 0);
	cr_assert_eq(tcgetattr(*slave, &t), 0);
	cr_assert(t.c_lflag & ICANON, "a new pty starts in canonical mode");
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		setsid();
		ioctl(*slave, TIOCSCTTY, 0);
		dup2(*slave, 0);
		dup2(*slave, 1);
		dup2(*slave, 2);
		execl(bin, "vmctl", "--socket", d.sock, "console", name, (char *)NULL);
		_exit(127);
	}
}

/* vmctl logs NAME -f --tail 3 with its stdout on a pipe (read end in *rd). */
static pid_t follow_logs(const char *name, int *rd)
{
	const char *b = getenv("top_builddir");
	char bin[512];
	int p[2];
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/src/cli/vmctl", b ? b : ".");
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl(bin, "vmctl", "--socket", d.sock, "logs", name, "-f", "--tail", "3",
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*rd = p[0];
	return pid;
}

/* Read the master into buf (appending) until needle shows or timeout_ms. */
static bool read_until(int master, char *buf, size_t size, const char *needle, int timeout_ms)
{
	double end = td_now() + timeout_ms / 1000.0;
	size_t n = strlen(buf);

	while (!strstr(buf, needle) && td_now() < end) {
		struct pollfd p = {.fd = master, .events = POLLIN};
		if (poll(&p, 1, 200) <= 0)
			continue;
		ssize_t r = read(master, buf + n, size - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
	}
	return strstr(buf, needle) != NULL;
}

static void type_line(int master, const char *line)
{
	cr_assert_eq(write(master, line, strlen(line)), (ssize_t)strlen(line));
	cr_assert_eq(write(master, "\r", 1), 1);
}

/*
 * The busybox shell drops what is typed before it sets up line editing
 * (the tty echoes it, the shell never reads it), which under heavy load
 * can be after its prompt shows. Wait for that as for a boot: a probe
 * line every 2 s until the shell answers one; the test's own lines are
 * then typed once each.
 */
static void shell_ready(int master, char *out, size_t size)
{
	for (int i = 0; i < 30; i++) {
		type_line(master, "echo ready-$((20+1))");
		if (read_until(master, out, size, "ready-21", 2000))
			return;
	}
	cr_assert_fail("the guest's shell answered no line typed on the console: '%s'", out);
}

/* Type cmd and Enter at the guest's shell and read until want shows. */
static bool at_shell(int master, char *out, size_t size, const char *cmd, const char *want)
{
	type_line(master, cmd);
	return read_until(master, out, size, want, 20000);
}

/* vmctl's exit status, waiting up to timeout_ms; -1 if it did not exit. */
static int reap(int timeout_ms)
{
	int st;

	for (int i = 0; i < timeout_ms / 50; i++) {
		if (waitpid(child, &st, WNOHANG) == child) {
			child = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(50000);
	}
	return -1;
}

Test(console_attach, shell_on_the_serial_console)
{
	char kernel[512], initrd[512], body[2048], log[512], out[65536] = "", msg[4096];
	struct json_object *r;
	struct termios t;
	char flog[65536] = "";
	int master, slave, rc, frd, fst = 0;
	long st;

	if (!td_guest_files(kernel, initrd, sizeof(kernel)))
		cr_skip_test("no test guest at %s (scripts/mkguest.sh builds it)", kernel);
	td_start(&d, NULL);
	/* a shell as init: the test guest runs none on its console; quiet: the
	 * kernel's late lines (the TSC's refined calibration, ~1.6 s into a
	 * boot that now reaches the shell before it) would interleave with the
	 * shell's and push them out of the last lines logs -f prints */
	snprintf(body, sizeof(body),
		 "{\"name\":\"k\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\",\"append\":\"console=ttyS0 panic=-1 quiet rdinit=/bin/sh\"}",
		 kernel, initrd);
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	cr_assert_eq(st, 201, "create: %ld", st);
	snprintf(log, sizeof(log), "%s", td_str(r, "console_log"));
	json_object_put(r);
	cr_assert(td_file_wait(log, "job control turned off", 60000), "no shell on the console");
	/* its prompt: the shell reads the console from now on */
	td_file_wait(log, "/ # ", 30000);

	attach("k", &master, &slave);
	cr_assert(read_until(master, out, sizeof(out), "Escape character is ^]", 10000),
		  "no attach message: '%s'", out);
	/* the shell's arithmetic: the output is the guest's, not the echo */
	shell_ready(master, out, sizeof(out));
	cr_expect(at_shell(master, out, sizeof(out), "echo hello-$((1000+234))", "hello-1234"),
		  "no output from the guest: '%s'", out);

	/* one client at a time */
	r = td_http(&d, "GET", "/v1/vms/k/console", NULL, &st);
	cr_expect_eq(st, 409, "second attach: %ld", st);
	cr_expect(strstr(td_err_desc(r), "in use by pid"), "%s", td_err_desc(r));
	json_object_put(r);
	rc = td_vmctl(&d, msg, sizeof(msg), "console", "k", NULL);
	cr_expect_eq(rc, 1, "second vmctl console: %d %s", rc, msg);
	cr_expect(strstr(msg, "in use by pid"), "%s", msg);
	r = td_http(&d, "GET", "/v1/vms/nosuch/console", NULL, &st);
	cr_expect_eq(st, 404);
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms/k/console", NULL, &st);
	cr_expect_eq(st, 405);
	json_object_put(r);

	/* Ctrl-]: vmctl leaves, the terminal is as it was, the VM runs */
	cr_assert_eq(write(master, "\x1d", 1), 1);
	rc = reap(10000);
	cr_expect_eq(rc, 0, "vmctl console after Ctrl-]: %d", rc);
	cr_assert_eq(tcgetattr(slave, &t), 0);
	cr_expect((t.c_lflag & (ICANON | ECHO)) == (ICANON | ECHO), "the terminal stayed raw");
	close(master);
	close(slave);
	r = td_http(&d, "GET", "/v1/vms/k", NULL, &st);
	cr_expect_str_eq(td_str(r, "state"), "running");
	json_object_put(r);
	cr_expect(td_file_has(log, "hello-1234"), "the console log lacks the guest's line");

	/* logs -f: the last lines at once (the last one, the prompt, waits
	 * for its newline), then what the console adds */
	follower = follow_logs("k", &frd);
	cr_expect(read_until(frd, flog, sizeof(flog), "hello-1234\n", 20000),
		  "logs -f did not print the last lines: '%s'", flog);

	/* free again; a VM destroyed under the console ends it (exit 1) */
	out[0] = '\0';
	attach("k", &master, &slave);
	cr_assert(read_until(master, out, sizeof(out), "Escape character", 10000), "%s", out);
	/* the new session goes both ways, the line typed once, as soon as
	 * the banner shows (vmctl used to flush it going raw after the
	 * banner); logs -f prints what the console gains */
	cr_expect(at_shell(master, out, sizeof(out), "echo again-$((40+2))", "again-42"), "'%s'",
		  out);
	cr_expect(read_until(frd, flog, sizeof(flog), "again-42", 10000),
		  "logs -f printed nothing new: '%s'", flog);
	r = td_http(&d, "DELETE", "/v1/vms/k?force=1", NULL, &st);
	cr_expect_eq(st, 200, "destroy: %ld", st);
	json_object_put(r);
	rc = reap(10000);
	cr_expect_eq(rc, 1, "vmctl console of a destroyed VM: %d", rc);
	read_until(master, out, sizeof(out), "console closed", 2000);
	cr_expect(strstr(out, "console closed"), "'%s'", out);
	cr_assert_eq(tcgetattr(slave, &t), 0);
	cr_expect(t.c_lflag & ICANON, "the terminal stayed raw after the VM went");
	/* and ends logs -f */
	for (int i = 0; i < 100 && waitpid(follower, &fst, WNOHANG) == 0; i++)
		usleep(50000);
	if (waitpid(follower, NULL, WNOHANG) == 0) {
		kill(follower, SIGKILL);
		waitpid(follower, &fst, 0);
		cr_expect_fail("logs -f still runs after the VM was destroyed");
	} else {
		cr_expect(WIFEXITED(fst) && WEXITSTATUS(fst) == 0, "logs -f: status %d", fst);
	}
	follower = -1;
	close(frd);
	close(master);
	close(slave);
}
