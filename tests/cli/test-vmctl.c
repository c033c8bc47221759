/*
 * vmctl unit tests: remote-shell quoting and the launcher checked by
 * running their output through real shells, the ssh argv, argument
 * parsing errors (exit 2) and the error line format.
 */
#include "config.h"

#include "src/cli/vmctl.h"
#include "src/cli/vmctl-launcher.h"
#include "src/cli/vmctl-shell.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *hostile[] = {
    "",
    " ",
    "a b",
    "'",
    "''",
    "it's",
    "\"dq\"",
    "$HOME",
    "${PATH}",
    "$(touch /tmp/vmctl-pwned)",
    "`touch /tmp/vmctl-pwned`",
    "; touch /tmp/vmctl-pwned",
    "a\nb",
    "\n",
    "back\\slash\\",
    "\\'",
    "*",
    "~",
    "a|b&c>d<e",
    "-n",
    "#comment",
    "\t tab",
    "!bang",
    "\xc3\xa9t\xc3\xa9",
};
#define NH (sizeof(hostile) / sizeof(hostile[0]))

/* Runs argv, returns its stdout (malloc'd) and *len; asserts exit 0. */
static char *capture(char *const argv[], size_t *len)
{
	int p[2], st;
	pid_t pid;
	size_t cap = 4096, n = 0;
	char *out = malloc(cap);
	ssize_t r;

	cr_assert(pipe(p) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((r = read(p[0], out + n, cap - n)) > 0) {
		n += r;
		if (n == cap)
			out = realloc(out, cap *= 2);
	}
	close(p[0]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s exited with %d", argv[0], st);
	*len = n;
	return out;
}

/* The NUL-separated words in out equal want[0..n). */
static void assert_words(const char *out, size_t len, const char **want, size_t n)
{
	size_t i, off = 0;

	for (i = 0; i < n; i++) {
		cr_assert(off < len || (off == len && i == n), "word %zu missing", i);
		cr_assert_str_eq(out + off, want[i], "word %zu", i);
		off += strlen(out + off) + 1;
	}
	cr_assert_eq(off, len, "extra output");
}

static void roundtrip(const char *shell)
{
	char *joined, *script, *out;
	size_t len;

	if (access(shell, X_OK) != 0)
		cr_skip_test("%s not installed", shell);
	unlink("/tmp/vmctl-pwned");
	joined = vmctl_shell_join((char *const *)hostile, NH);
	cr_assert_not_null(joined);
	cr_assert(asprintf(&script, "printf '%%s\\0' %s", joined) > 0);
	{
		char *argv[] = {(char *)shell, "-c", script, NULL};

		out = capture(argv, &len);
	}
	assert_words(out, len, hostile, NH);
	cr_assert(access("/tmp/vmctl-pwned", F_OK) != 0, "injection ran");
	free(out);
	free(script);
	free(joined);
}

Test(quote, roundtrip_sh)
{
	roundtrip("/bin/sh");
}

Test(quote, roundtrip_bash)
{
	roundtrip("/bin/bash");
}

Test(quote, roundtrip_busybox_ash)
{
	/* The test guest's shell. */
	char *joined, *script, *out;
	size_t len;

	if (access("/bin/busybox", X_OK) != 0)
		cr_skip_test("busybox not installed");
	joined = vmctl_shell_join((char *const *)hostile, NH);
	cr_assert(asprintf(&script, "printf '%%s\\0' %s", joined) > 0);
	{
		char *argv[] = {"/bin/busybox", "sh", "-c", script, NULL};

		out = capture(argv, &len);
	}
	assert_words(out, len, hostile, NH);
	free(out);
	free(script);
	free(joined);
}

Test(quote, shapes)
{
	char *q = vmctl_shell_quote("");

	cr_assert_str_eq(q, "''");
	free(q);
	q = vmctl_shell_quote("it's");
	cr_assert_str_eq(q, "'it'\\''s'");
	free(q);
}

Test(ssh, argv_pins_host_keys_and_passes_one_command)
{
	struct vmctl_ssh s = {.key = "/k",
			      .known_hosts = "/kh",
			      .host_alias = "vmsup-a-1",
			      .user = "root",
			      .port = 40022,
			      .remote = "'a b'; exit $?"};
	char **a = vmctl_ssh_argv(&s);
	int i, n, strict = 0, batch = 0, kh = 0, port = 0;

	cr_assert_not_null(a);
	for (n = 0; a[n]; n++) {
		cr_assert_neq(strcmp(a[n], "StrictHostKeyChecking=no"), 0);
		strict |= strcmp(a[n], "StrictHostKeyChecking=accept-new") == 0;
		batch |= strcmp(a[n], "BatchMode=yes") == 0;
		kh |= strcmp(a[n], "UserKnownHostsFile=/kh") == 0;
		if (strcmp(a[n], "-p") == 0)
			port = strcmp(a[n + 1], "40022") == 0;
	}
	cr_assert(strict && batch && kh && port);
	cr_assert_str_eq(a[0], "/usr/bin/ssh");
	cr_assert_str_eq(a[n - 1], "'a b'; exit $?");
	cr_assert_str_eq(a[n - 3], "root@127.0.0.1");
	for (i = 0; i < n; i++)
		if (strcmp(a[i], "-i") == 0)
			cr_assert_str_eq(a[i + 1], "/k");
	vmctl_ssh_argv_free(a);
	/* mode bridge: to the guest's own address (issue 22) */
	s.host = "10.77.0.50";
	a = vmctl_ssh_argv(&s);
	cr_assert_not_null(a);
	for (n = 0; a[n]; n++)
		;
	cr_assert_str_eq(a[n - 3], "root@10.77.0.50");
	vmctl_ssh_argv_free(a);
}

Test(spawn, exit_and_signal_statuses)
{
	char *ok[] = {"/bin/sh", "-c", "exit 7", NULL};
	char *sig[] = {"/bin/sh", "-c", "kill -9 $$", NULL};
	char *missing[] = {"/nonexistent/vmctl-test", NULL};

	cr_assert_eq(vmctl_spawn_wait(ok), 7);
	cr_assert_eq(vmctl_spawn_wait(sig), 137);
	cr_assert_eq(vmctl_spawn_wait(missing), 127);
}

/* Renders and runs the launcher on this host with sh: shares already
 * mounted (/proc), a hostile workdir name, environment and argv. */
Test(launcher, renders_values_as_words_only)
{
	char dir[] = "/tmp/vmctl-launch-XXXXXX", *wd, *script, *err = NULL, *out;
	char *env[] = {"A=it's $HOME; `x`", "B=a\nb", "EMPTY=", "MESOS_TASK_ID=t 1"};
	const char *args[] = {"/bin/sh",
			      "-c",
			      "printf '%s\\0' \"$@\" \"$A\" \"$B\" \"$EMPTY\" \"$MESOS_TASK_ID\" "
			      "\"$(pwd)\"",
			      "x",
			      "a b",
			      "'",
			      "$(touch /tmp/vmctl-pwned)",
			      "; exit 3",
			      ""};
	struct vmctl_share sh[] = {{"t'; touch /tmp/vmctl-pwned; '", "/proc", 1}};
	struct vmctl_launch l = {.task_id = "task'$(id)",
				 .env = env,
				 .nenv = 4,
				 .shares = sh,
				 .nshares = 1,
				 .argv = (char *const *)args,
				 .argc = 9};
	size_t len;

	unlink("/tmp/vmctl-pwned");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert(asprintf(&wd, "%s/work dir $x 'q'", dir) > 0);
	cr_assert(mkdir(wd, 0700) == 0);
	l.workdir = wd;
	script = vmctl_launcher_render(vmctl_launcher_template, &l, &err);
	cr_assert_not_null(script, "%s", err);
	{
		char *argv[] = {"/bin/sh", "-c", script, "vm-launcher", NULL};

		out = capture(argv, &len);
	}
	{
		const char *want[] = {"a b",	  "'", "$(touch /tmp/vmctl-pwned)",
				      "; exit 3", "",  "it's $HOME; `x`",
				      "a\nb",	  "",  "t 1",
				      wd};

		assert_words(out, len, want, 10);
	}
	cr_assert(access("/tmp/vmctl-pwned", F_OK) != 0, "injection ran");
	rmdir(wd);
	rmdir(dir);
	free(out);
	free(script);
	free(wd);
}

Test(launcher, passes_exit_status_and_signal_death)
{
	const char *a7[] = {"/bin/sh", "-c", "exit 7"};
	const char *a9[] = {"/bin/sh", "-c", "kill -9 $$"};
	const char **cases[] = {a7, a9};
	int want[] = {7, 137}, i;

	for (i = 0; i < 2; i++) {
		struct vmctl_launch l = {
		    .task_id = "t", .argv = (char *const *)cases[i], .argc = 3};
		char *err = NULL,
		     *script = vmctl_launcher_render(vmctl_launcher_template, &l, &err);
		char *argv[] = {"/bin/sh", "-c", script, "vm-launcher", NULL};

		cr_assert_not_null(script);
		cr_assert_eq(vmctl_spawn_wait(argv), want[i]);
		free(script);
	}
}

Test(launcher, missing_workdir_fails_with_125)
{
	const char *a[] = {"true"};
	struct vmctl_launch l = {
	    .task_id = "t", .workdir = "/nonexistent/vmctl", .argv = (char *const *)a, .argc = 1};
	char *err = NULL, *script = vmctl_launcher_render(vmctl_launcher_template, &l, &err);
	char *argv[] = {"/bin/sh", "-c", script, "vm-launcher", NULL};

	cr_assert_eq(vmctl_spawn_wait(argv), 125);
	free(script);
}

Test(launcher, rejects_bad_env_names_and_empty_command)
{
	const char *a[] = {"true"};
	char *bad[] = {"A;B=1", "=v", "1A=2", "A B=1", "NOEQUALS", "$(x)=1"};
	size_t i;
	char *err = NULL, *s;
	struct vmctl_launch l = {.task_id = "t", .argv = (char *const *)a, .argc = 0};

	s = vmctl_launcher_render(vmctl_launcher_template, &l, &err);
	cr_assert_null(s);
	cr_assert_not_null(err);
	free(err);
	l.argc = 1;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		l.env = &bad[i];
		l.nenv = 1;
		s = vmctl_launcher_render(vmctl_launcher_template, &l, &err);
		cr_assert_null(s, "%s accepted", bad[i]);
		cr_assert_not_null(err);
		free(err);
	}
}

static struct vmctl g = {.sock = "/nonexistent/vmctl-test.sock"};

static int call(int (*fn)(const struct vmctl *, int, char **), char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return fn(&g, argc, argv);
}

/* Every one is refused before any request: exit 2 (the socket does not
 * exist, so a request would have given 1). */
Test(args, usage_errors_exit_2, .init = cr_redirect_stderr)
{
	char *c1[] = {"create", NULL};
	char *c2[] = {"create", "a/b", NULL};
	char *c3[] = {"create", "x", "--mem", "12x", NULL};
	char *c4[] = {"create", "x", "--accel", "xen", NULL};
	char *c5[] = {"create", "x", "y", NULL};
	char *c6[] = {"create", "x", "--cpus", NULL};
	char *c7[] = {"create", "x", "--bogus", NULL};
	char *s1[] = {"status", NULL};
	char *s2[] = {"status", "-bad", NULL};
	char *s3[] = {"status", "../v1", NULL};
	char *m1[] = {"memory", "x", NULL};
	char *m2[] = {"memory", "x", "-5", NULL};
	char *p1[] = {"cpu", "x", NULL};
	char *p2[] = {"cpu", "x", "--quota", "0", NULL};
	char *p3[] = {"cpu", "x", "--pin", "0;rm", NULL};
	char *i1[] = {"ip", "x", "--wait", "soon", NULL};
	char *e1[] = {"exec", "x", NULL};
	char *e2[] = {"exec", "x", "--via", "telnet", "--", "true", NULL};
	char *r1[] = {"run", NULL};
	char *r2[] = {"run", "--env", "NOEQ", "--", "true", NULL};
	char *r3[] = {"run", "--workdir", "rel", "--", "true", NULL};
	char *q1[] = {"qmp", "x", "{not json", NULL};
	char *q2[] = {"qmp", "x", "[1]", NULL};
	char *t1[] = {"stop", "x", "--timeout", "-1", NULL};
	char *l1[] = {"list", "extra", NULL};

	cr_assert_eq(call(vmctl_cmd_create, c1), 2);
	cr_assert_eq(call(vmctl_cmd_create, c2), 2);
	cr_assert_eq(call(vmctl_cmd_create, c3), 2);
	cr_assert_eq(call(vmctl_cmd_create, c4), 2);
	cr_assert_eq(call(vmctl_cmd_create, c5), 2);
	cr_assert_eq(call(vmctl_cmd_create, c6), 2);
	cr_assert_eq(call(vmctl_cmd_create, c7), 2);
	cr_assert_eq(call(vmctl_cmd_status, s1), 2);
	cr_assert_eq(call(vmctl_cmd_status, s2), 2);
	cr_assert_eq(call(vmctl_cmd_status, s3), 2);
	cr_assert_eq(call(vmctl_cmd_memory, m1), 2);
	cr_assert_eq(call(vmctl_cmd_memory, m2), 2);
	cr_assert_eq(call(vmctl_cmd_cpu, p1), 2);
	cr_assert_eq(call(vmctl_cmd_cpu, p2), 2);
	cr_assert_eq(call(vmctl_cmd_cpu, p3), 2);
	cr_assert_eq(call(vmctl_cmd_ip, i1), 2);
	cr_assert_eq(call(vmctl_cmd_exec, e1), 2);
	cr_assert_eq(call(vmctl_cmd_exec, e2), 2);
	cr_assert_eq(call(vmctl_cmd_run, r1), 2);
	cr_assert_eq(call(vmctl_cmd_run, r2), 2);
	cr_assert_eq(call(vmctl_cmd_run, r3), 2);
	cr_assert_eq(call(vmctl_cmd_qmp, q1), 2);
	cr_assert_eq(call(vmctl_cmd_qmp, q2), 2);
	cr_assert_eq(call(vmctl_cmd_stop, t1), 2);
	cr_assert_eq(call(vmctl_cmd_list, l1), 2);
}

Test(args, options_after_dashdash_belong_to_the_command, .init = cr_redirect_stderr)
{
	/* Parsed fine, then fails only at the (absent) daemon: exit 1. */
	char *e[] = {"exec", "x", "--via", "agent", "--", "ls", "-l", "--help", NULL};
	char *r[] = {"run", "--mem", "64", "--", "sh", "-c", "exit 3", NULL};

	cr_assert_eq(call(vmctl_cmd_exec, e), 1);
	cr_assert_eq(call(vmctl_cmd_run, r), 1);
}

Test(errors, one_line_name_reason, .init = cr_redirect_stderr)
{
	char *s[] = {"status", "web-1", NULL};

	cr_assert_eq(call(vmctl_cmd_status, s), 1);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmctl: web-1: cannot connect to vmsupd at "
				"/nonexistent/vmctl-test.sock (is it running?)\n");
}

Test(errors, fail_format, .init = cr_redirect_stderr)
{
	cr_assert_eq(vmctl_fail("a", "bad %d", 3), 1);
	fflush(stderr);
	cr_assert_stderr_eq_str("vmctl: a: bad 3\n");
}

Test(names, validation)
{
	cr_assert(vmctl_valid_name("a"));
	cr_assert(vmctl_valid_name("A9_.-x"));
	cr_assert(!vmctl_valid_name(""));
	cr_assert(!vmctl_valid_name("-a"));
	cr_assert(!vmctl_valid_name(".a"));
	cr_assert(!vmctl_valid_name("a/b"));
	cr_assert(!vmctl_valid_name("a b"));
	cr_assert(
	    vmctl_valid_name("a23456789012345678901234567890123456789012345678901234567890123"));
	cr_assert(
	    !vmctl_valid_name("a234567890123456789012345678901234567890123456789012345678901234"));
}

#include "src/client/client.h"
#include "src/cli/vmctl-inproc.h"

#include <dirent.h>
#include <sys/socket.h>
#include <sys/un.h>

static int listen_unix(const char *path, int do_listen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	cr_assert(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	if (do_listen)
		cr_assert(listen(fd, 1) == 0);
	return fd;
}

/* In-process mode applies to "nobody there", never to a daemon we may not
 * use. */
Test(inproc, reachability)
{
	char dir[] = "/tmp/vmctl-test-XXXXXX", p[128];
	int fd;

	cr_assert(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/none.sock", dir);
	cr_assert_eq(vmctl_daemon_reachable(p), 0, "missing socket");
	snprintf(p, sizeof(p), "%s/file/x.sock", dir);
	cr_assert_eq(vmctl_daemon_reachable(p), 0, "missing directory");
	snprintf(p, sizeof(p), "%s/dead.sock", dir);
	fd = listen_unix(p, 0);
	cr_assert_eq(vmctl_daemon_reachable(p), 0, "bound, not listening: refused");
	close(fd);
	unlink(p);
	snprintf(p, sizeof(p), "%s/live.sock", dir);
	fd = listen_unix(p, 1);
	cr_assert_eq(vmctl_daemon_reachable(p), 1);
	close(fd);
	unlink(p);
	rmdir(dir);
}

static int dir_entries(const char *d)
{
	DIR *dd = opendir(d);
	struct dirent *e;
	int n = 0;

	cr_assert(dd);
	while ((e = readdir(dd)))
		n += e->d_name[0] != '.';
	closedir(dd);
	return n;
}

/* The real supervisor core in a child, on a private 0700 directory: it
 * answers the API, and stopping it leaves nothing behind. */
Test(inproc, serves_the_api_then_leaves_nothing)
{
	char tmp[] = "/tmp/vmctl-tXXXXXX", conf[64];
	struct vmctl_inproc p;
	struct json_object *reply = NULL;
	struct stat st;
	char *err = NULL;
	long status = 0;
	pid_t pid;
	FILE *f;

	cr_assert(mkdtemp(tmp));
	snprintf(conf, sizeof(conf), "%s/c.conf", tmp);
	f = fopen(conf, "w");
	cr_assert(f);
	fputs("stop_grace_s = 2\n", f);
	fclose(f);
	setenv("VMSUP_CONFIG", conf, 1);
	setenv("TMPDIR", tmp, 1);
	cr_assert_eq(vmctl_inproc_start(&p, "test", NULL), 0);
	cr_assert(p.pid > 0 && p.dir && p.sock);
	cr_assert_eq(strncmp(p.dir, tmp, strlen(tmp)), 0, "under $TMPDIR: %s", p.dir);
	cr_assert_eq(stat(p.dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700);
	cr_assert_eq(vmctl_daemon_reachable(p.sock), 1);
	cr_assert_eq(vmsup_request(p.sock, "GET", "/v1/vms", NULL, 10000, &status, &reply, &err), 0,
		     "%s", err ? err : "");
	cr_assert_eq(status, 200);
	json_object_put(reply);
	pid = p.pid;
	vmctl_inproc_stop(&p);
	cr_assert(kill(pid, 0) < 0, "the supervisor child is gone");
	cr_assert_null(p.dir);
	cr_assert_eq(dir_entries(tmp), 1, "only our config is left");
	unlink(conf);
	rmdir(tmp);
	unsetenv("VMSUP_CONFIG");
	unsetenv("TMPDIR");
}

/* A config the supervisor refuses: a one-line error, nothing left. */
Test(inproc, bad_config_is_an_error, .init = cr_redirect_stderr)
{
	char tmp[] = "/tmp/vmctl-tXXXXXX", conf[64];
	struct vmctl_inproc p;
	FILE *f;

	cr_assert(mkdtemp(tmp));
	snprintf(conf, sizeof(conf), "%s/c.conf", tmp);
	f = fopen(conf, "w");
	cr_assert(f);
	fputs("no_such_key = 1\n", f);
	fclose(f);
	setenv("VMSUP_CONFIG", conf, 1);
	setenv("TMPDIR", tmp, 1);
	cr_assert_eq(vmctl_inproc_start(&p, "test", NULL), VMCTL_EXIT_ERR);
	cr_assert_eq(dir_entries(tmp), 1);
	{
		FILE *e;
		char line[512] = "";

		fflush(stderr);
		e = cr_get_redirected_stderr();
		cr_assert(fgets(line, sizeof(line), e));
		cr_assert_eq(strncmp(line, "vmctl: test: in-process supervisor: ", 36), 0, "%s",
			     line);
		cr_assert(strstr(line, "c.conf:1"), "names file:line: %s", line);
	}
	unlink(conf);
	rmdir(tmp);
}
