/*
 * mesos-vm-executor --wrap end to end: a framework's own executor
 * (tests/executor/py-executor.py, stdlib Python) runs inside the distro
 * image and talks to the fake agent on the host's 127.0.0.1 through the
 * rewritten MESOS_AGENT_ENDPOINT (10.0.2.2, user networking with egress).
 * Also the wrapper's refusals, which need no VM.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "src/executor/wrap.h"
#include "tests/executor/vm-harness.h"
#include "tests/lib/bridge-net.h"

extern char **environ;

TestSuite(executor_wrap, .fini = teardown, .timeout = 1500);
TestSuite(executor_wrap_usage);

static const char *builddir(void)
{
	const char *v = getenv("top_builddir");
	return v && *v ? v : ".";
}

/* The distro image's directory, or skip: the test guest has no python3. */
static const char *distro_or_skip(void)
{
	const char *dd = getenv("VMSUP_DISTRO_DIR");
	char p[4200];

	snprintf(p, sizeof(p), "%s/disk.raw", dd ? dd : "");
	if (!dd || !*dd || access(p, R_OK) != 0)
		cr_skip_test("no distro image (VMSUP_DISTRO_DIR; scripts/mkdistro.sh builds it): "
			     "the framework's executor needs its python3");
	return dd;
}

/* Contents of path with the trailing newline cut (malloc'd, "" if none). */
static char *first_line(const char *path)
{
	char *s = fa_slurp(path);
	if (!s)
		return strdup("");
	s[strcspn(s, "\n")] = '\0';
	return s;
}

/* py-executor.py in the distro image through --wrap (net: the extra vmctl
 * run options, NULL-terminated), against the fake agent listening on
 * listen: it must subscribe from the guest with MESOS_AGENT_ENDPOINT's host
 * want_host, run t1 and finish; then no VM is left. vmsupd runs already. */
static void py_executor_in_vm(const char *const *net, const char *listen, const char *want_host)
{
	const char *dd = distro_or_skip();
	char p[4300], src[4300], kernel[4300], initrd[4300], disk[4300], append[512], key[4300];
	char *s, *cmd, *append_f, *states, *out, *host_boot, want[64];
	struct json_object *xa = json_object_new_array(), *r;

	/* The executor reaches the guest through the shared sandbox, as a
	 * framework's executor arrives in it from its URIs. */
	snprintf(src, sizeof(src), "%s/tests/executor/py-executor.py",
		 getenv("top_srcdir") ? getenv("top_srcdir") : ".");
	s = fa_slurp(src);
	cr_assert_not_null(s, "cannot read %s", src);
	snprintf(p, sizeof(p), "%s/py-executor.py", sandbox);
	FILE *f = fopen(p, "we");
	cr_assert_not_null(f);
	fputs(s, f);
	fclose(f);
	free(s);

	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dd);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", dd);
	snprintf(disk, sizeof(disk), "%s/disk.raw:raw", dd);
	snprintf(p, sizeof(p), "%s/append", dd);
	append_f = first_line(p);
	snprintf(append, sizeof(append), "%s", *append_f ? append_f : "root=/dev/vda rw");
	free(append_f);
	snprintf(key, sizeof(key), "VMSUP_SSH_KEY=%s/test_key", dd);
	snprintf(p, sizeof(p), "%s/py-executor.py", sandbox);
	const char *wrap[] = {"--wrap",	  "--kernel",  kernel,	 "--initrd", initrd,
			      "--append", append,      "--disk", disk,	     "--mem",
			      "512",	  "--timeout", "600",	 NULL};
	for (size_t i = 0; wrap[i]; i++)
		json_object_array_add(xa, json_object_new_string(wrap[i]));
	for (; *net; net++)
		json_object_array_add(xa, json_object_new_string(*net));
	json_object_array_add(xa, json_object_new_string("--"));
	json_object_array_add(xa, json_object_new_string("python3"));
	json_object_array_add(xa, json_object_new_string(p));
	cmd = strdup(json_object_to_json_string_ext(xa, JSON_C_TO_STRING_PLAIN));
	json_object_put(xa);
	const char *args[] = {"--scenario",
			      "finish",
			      "--listen",
			      listen,
			      "--executor-args",
			      cmd,
			      "--subscribe-timeout",
			      "700",
			      "--timeout",
			      "300",
			      "--env",
			      env_sock,
			      "--env",
			      env_vmctl,
			      "--env",
			      key,
			      NULL};
	/* A distro boot under TCG takes minutes on a loaded host: vmctl run's
	 * --timeout and the agent's wait leave room for it. */
	r = fa_run(sandbox, args);
	free(cmd);
	if (fa_violations(r)) {
		snprintf(p, sizeof(p), "%s/stderr", sandbox);
		cr_assert_fail("the wrapper's stderr:\n%s", fa_slurp(p));
	}

	cr_assert_geq(json_object_array_length(json_object_object_get(r, "subscribes")), 1,
		      "the fake agent saw a SUBSCRIBE");
	states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_RUNNING,TASK_FINISHED",
			 "the framework's executor's own updates, in order");
	cr_assert_eq(fa_int(r, "exit_code"), 0, "the wrapper exits with the executor's status");

	/* It was the guest that subscribed: through want_host, on another kernel. */
	snprintf(p, sizeof(p), "%s/py-executor.out", sandbox);
	out = fa_slurp(p);
	cr_assert_not_null(out, "the executor in the guest wrote no py-executor.out");
	snprintf(want, sizeof(want), "endpoint=%s:", want_host);
	cr_assert(strstr(out, want), "endpoint rewritten for the guest to %s: %s", want_host, out);
	host_boot = first_line("/proc/sys/kernel/random/boot_id");
	cr_assert(strstr(out, "boot_id=") && !strstr(out, host_boot),
		  "ran on the guest's kernel, not the host's: %s", out);
	snprintf(p, sizeof(p), "%s/.vm-wrap-env", sandbox);
	cr_assert_neq(access(p, F_OK), 0, "the environment file (the token) is removed");
	assert_nothing_left();
	free(host_boot);
	free(out);
	free(states);
	json_object_put(r);
}

Test(executor_wrap, framework_executor_runs_in_the_vm_and_reaches_the_agent)
{
	const char *none[] = {NULL};

	distro_or_skip();
	start_vmsupd_as(true, "allow_egress = true\n");
	sandbox = fa_sandbox();
	py_executor_in_vm(none, "127.0.0.1", "10.0.2.2");
}

/* `mesos-vm-executor --wrap ARGS` with env (NULL-terminated "K=V"s added
 * to ours) and its stderr on errfd: its pid. */
static pid_t wrap_spawn(const char *const *args, const char *const *env, int errfd)
{
	char exe[4200];
	const char *argv[16];
	char **envp;
	size_t ne = 0, n = 0;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	snprintf(exe, sizeof(exe), "%s/src/executor/mesos-vm-executor", builddir());
	argv[n++] = exe;
	argv[n++] = "--wrap";
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	while (environ[ne])
		ne++;
	envp = calloc(ne + 8, sizeof(*envp));
	memcpy(envp, environ, ne * sizeof(*envp));
	for (; *env; env++)
		envp[ne++] = (char *)*env;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	cr_assert_eq(posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, envp), 0);
	posix_spawn_file_actions_destroy(&fa);
	free(envp);
	return pid;
}

/* wrap_spawn, waited for: its exit status, its stderr into err. */
static int wrap_run(const char *const *args, const char *const *env, char *err, size_t len)
{
	char errp[] = "/tmp/vmexec-wrap-err-XXXXXX";
	int fd = mkstemp(errp), st;

	cr_assert_geq(fd, 0);
	waitpid(wrap_spawn(args, env, fd), &st, 0);
	lseek(fd, 0, SEEK_SET);
	ssize_t got = read(fd, err, len - 1);
	err[got > 0 ? got : 0] = '\0';
	close(fd);
	unlink(errp);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* What the agent does to an executor it shuts down: SIGTERM. The VM goes
 * (vmctl run stops the command and destroys it) and the wrapper exits 143. */
Test(executor_wrap, sigterm_destroys_the_vm_and_exits)
{
	char denv[4300], key[4300], started[4300], errp[4300];
	const char *g = getenv("VMSUP_GUEST_DIR");
	int st = -1, fd;
	pid_t pid;

	start_vmsupd_as(true, "allow_egress = true\n");
	sandbox = fa_sandbox();
	snprintf(denv, sizeof(denv), "MESOS_DIRECTORY=%s", sandbox);
	snprintf(key, sizeof(key), "VMSUP_SSH_KEY=%s/test_key", g);
	snprintf(started, sizeof(started), "%s/started", sandbox);
	snprintf(errp, sizeof(errp), "%s/wrap.err", sandbox);
	const char *env[] = {denv, "MESOS_AGENT_ENDPOINT=127.0.0.1:5051", env_sock, env_vmctl, key,
			     NULL};
	const char *args[] = {"--mem", "256", "--", "sh", "-c", "touch started; exec sleep 600",
			      NULL};
	fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	pid = wrap_spawn(args, env, fd);
	close(fd);
	for (int i = 0; i < 3000 && access(started, F_OK) != 0 && !waitpid(pid, &st, WNOHANG); i++)
		usleep(100000);
	cr_assert_eq(access(started, F_OK), 0, "the command never ran in the guest:\n%s",
		     fa_slurp(errp));
	cr_assert_eq(vm_count(), 1, "one VM while the executor runs");
	kill(pid, SIGTERM);
	for (int i = 0; i < 600 && !waitpid(pid, &st, WNOHANG); i++)
		usleep(100000);
	cr_assert(WIFEXITED(st), "the wrapper exited within 60 s of SIGTERM");
	cr_assert_eq(WEXITSTATUS(st), 143, "128 + SIGTERM, as vmctl run reports it");
	assert_nothing_left();
}

Test(executor_wrap_usage, refusals_say_why)
{
	char err[4096], tmp[] = "/tmp/vmexec-wrap-XXXXXX", denv[200];
	const char *none[] = {NULL};
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(denv, sizeof(denv), "MESOS_DIRECTORY=%s", tmp);
	const char *ok_env[] = {denv, "MESOS_AGENT_ENDPOINT=127.0.0.1:5051", NULL};
	const char *bad_ep[] = {denv, "MESOS_AGENT_ENDPOINT=no-port", NULL};

	const char *no_cmd[] = {"--mem", "256", NULL};
	cr_assert_eq(wrap_run(no_cmd, ok_env, err, sizeof(err)), 2);
	cr_assert(strstr(err, "no command"), "%s", err);

	const char *net_none[] = {"--net", "none", "--", "true", NULL};
	cr_assert_eq(wrap_run(net_none, ok_env, err, sizeof(err)), 1);
	cr_assert(strstr(err, "must reach the agent"), "%s", err);

	const char *net_bridge[] = {"--net", "bridge", "--", "true", NULL};
	cr_assert_eq(wrap_run(net_bridge, ok_env, err, sizeof(err)), 1);
	cr_assert(strstr(err, "bridge:NAME"), "%s", err);

	const char *cmd[] = {"--", "true", NULL};
	cr_assert_eq(wrap_run(cmd, bad_ep, err, sizeof(err)), 1);
	cr_assert(strstr(err, "'no-port' is not ip:port"), "%s", err);

	/* Only the agent's environment, not ours, says where the sandbox is. */
	if (!getenv("MESOS_DIRECTORY")) {
		cr_assert_eq(wrap_run(cmd, none, err, sizeof(err)), 2);
		cr_assert(strstr(err, "MESOS_DIRECTORY"), "%s", err);
	}
	rmdir(tmp);
}

Test(executor_wrap_usage, loopback_endpoints_become_the_guests_way_to_the_host)
{
	char *err = NULL, *e;

	e = wrap_guest_endpoint("127.0.0.1:5051", "10.0.2.2", &err);
	cr_assert_str_eq(e, "10.0.2.2:5051");
	free(e);
	e = wrap_guest_endpoint("localhost:5051", "192.168.122.1", &err);
	cr_assert_str_eq(e, "192.168.122.1:5051");
	free(e);
	/* An agent on a real address is reached there through egress. */
	e = wrap_guest_endpoint("192.0.2.7:5051", "10.0.2.2", &err);
	cr_assert_str_eq(e, "192.0.2.7:5051");
	free(e);
	cr_assert_null(wrap_guest_endpoint("127.0.0.1:0", "10.0.2.2", &err));
	cr_assert(strstr(err, "not ip:port"));
	free(err);
}

/* A stand-in for vmctl (VMEXEC_VMCTL) that boots nothing: on stderr, the
 * options the wrapper gave it and the environment file the guest would
 * source. Written into in; "VMEXEC_VMCTL=path" into env. */
static void fake_vmctl(const char *in, char *env, size_t len)
{
	char path[4200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/vmctl", in);
	f = fopen(path, "we");
	cr_assert_not_null(f);
	fputs("#!/bin/sh\necho \"vmctl $*\" >&2\n"
	      "for a; do case $a in */.vm-wrap-env) cat \"$a\" >&2;; esac; done\n",
	      f);
	fclose(f);
	cr_assert_eq(chmod(path, 0755), 0);
	snprintf(env, len, "VMEXEC_VMCTL=%s", path);
}

/* Without --net the wrapper says user mode itself: left to vmsupd.conf's
 * net_mode, a bridge default would put the VM where 10.0.2.2 is nothing. */
Test(executor_wrap_usage, vmctl_run_gets_the_network_the_endpoint_was_made_for)
{
	char err[4096], tmp[] = "/tmp/vmexec-wrap-XXXXXX", denv[200], venv[4300], p[4300];
	cr_assert_not_null(mkdtemp(tmp));
	snprintf(denv, sizeof(denv), "MESOS_DIRECTORY=%s", tmp);
	fake_vmctl(tmp, venv, sizeof(venv));
	const char *env[] = {denv, venv, "MESOS_AGENT_ENDPOINT=127.0.0.1:5051", NULL};

	const char *plain[] = {"--", "true", NULL};
	cr_assert_eq(wrap_run(plain, env, err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(err, " run --net user --egress --share "), "%s", err);
	cr_assert(strstr(err, "MESOS_AGENT_ENDPOINT='10.0.2.2:5051'"), "%s", err);

	const char *said[] = {"--net", "user", "--egress", "--", "true", NULL};
	cr_assert_eq(wrap_run(said, env, err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(err, " run --net user --egress --share "), "nothing twice: %s", err);

	const char *nosuch[] = {"--net", "bridge:vmsup-nosuch0", "--", "true", NULL};
	cr_assert_eq(wrap_run(nosuch, env, err, sizeof(err)), 1, "%s", err);
	cr_assert(strstr(err, "no interface vmsup-nosuch0"), "%s", err);
	cr_assert_null(strstr(err, "vmctl "), "nothing started: %s", err);
	snprintf(p, sizeof(p), "%s/vmctl", tmp);
	unlink(p);
	rmdir(tmp);
}

/* The bridge (issue 23 on issue 22's network): the test's own namespace,
 * bridge and dnsmasq (tests/lib/bridge-net.h); root only. */
static struct tbridge net;

static void bridge_up(void)
{
	tb_up(&net);
}

static void bridge_down(void)
{
	teardown();
	tb_down(&net);
}

TestSuite(executor_wrap_bridge, .init = bridge_up, .fini = bridge_down, .timeout = 1500);

/* A listening TCP socket on addr (port picked): its port. */
static int listen_on(const char *addr, int *fd)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);

	*fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_eq(inet_pton(AF_INET, addr, &sa.sin_addr), 1);
	cr_assert(*fd >= 0 && !bind(*fd, (struct sockaddr *)&sa, sizeof(sa)) && !listen(*fd, 4));
	cr_assert_eq(getsockname(*fd, (struct sockaddr *)&sa, &sl), 0);
	return ntohs(sa.sin_port);
}

Test(executor_wrap_bridge, the_agent_must_be_reachable_on_the_bridge)
{
	char err[4096], want[200], denv[200], venv[4300], ep[64], p[4300];
	char tmp[] = "/tmp/vmexec-wrap-XXXXXX";
	int lo_fd, any_fd, port;

	cr_assert_not_null(mkdtemp(tmp));
	snprintf(denv, sizeof(denv), "MESOS_DIRECTORY=%s", tmp);
	fake_vmctl(tmp, venv, sizeof(venv));
	const char *env[] = {denv, venv, ep, NULL};
	const char *on_br[] = {"--net", "bridge:" TB_BRIDGE, "--", "true", NULL};

	/* An agent on 127.0.0.1 alone: the guest would find nothing. */
	port = listen_on("127.0.0.1", &lo_fd);
	snprintf(ep, sizeof(ep), "MESOS_AGENT_ENDPOINT=127.0.0.1:%d", port);
	cr_assert_eq(wrap_run(on_br, env, err, sizeof(err)), 1, "%s", err);
	snprintf(want, sizeof(want), "at " TB_PREFIX "1:%d, where it does not listen", port);
	cr_assert(strstr(err, want) && strstr(err, "--ip=0.0.0.0"), "%s", err);
	cr_assert_null(strstr(err, "vmctl "), "nothing started: %s", err);
	close(lo_fd);

	/* On every address: the loopback endpoint becomes the bridge's. */
	port = listen_on("0.0.0.0", &any_fd);
	snprintf(ep, sizeof(ep), "MESOS_AGENT_ENDPOINT=127.0.0.1:%d", port);
	cr_assert_eq(wrap_run(on_br, env, err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(err, " run --net bridge:" TB_BRIDGE " --share "), "no egress: %s", err);
	snprintf(want, sizeof(want), "MESOS_AGENT_ENDPOINT='" TB_PREFIX "1:%d'", port);
	cr_assert(strstr(err, want), "%s", err);
	close(any_fd);

	/* A real address stays: the bridge's routing is the operator's. */
	snprintf(ep, sizeof(ep), "MESOS_AGENT_ENDPOINT=192.0.2.7:5051");
	cr_assert_eq(wrap_run(on_br, env, err, sizeof(err)), 0, "%s", err);
	cr_assert(strstr(err, "MESOS_AGENT_ENDPOINT='192.0.2.7:5051'"), "%s", err);

	/* A bridge with no IPv4 address gives the guest no way to the agent. */
	cr_assert_eq(system("ip link add vmsbr1 type bridge && ip link set vmsbr1 up"), 0);
	const char *bare[] = {"--net", "bridge:vmsbr1", "--", "true", NULL};
	cr_assert_eq(wrap_run(bare, env, err, sizeof(err)), 1, "%s", err);
	cr_assert(strstr(err, "bridge vmsbr1 has no IPv4 address"), "%s", err);
	snprintf(p, sizeof(p), "%s/vmctl", tmp);
	unlink(p);
	rmdir(tmp);
}

/* The framework's executor in the distro image on the bridge: the fake
 * agent on every address of the namespace, its endpoint 127.0.0.1 (as an
 * agent with --ip=0.0.0.0 whose hostname resolves to loopback), which the
 * guest must be given as the bridge's address, not 10.0.2.2. */
Test(executor_wrap_bridge, framework_executor_on_a_bridge_reaches_the_agent)
{
	const char *on_br[] = {"--net", "bridge:" TB_BRIDGE, NULL};

	distro_or_skip();
	start_vmsupd_as(true, "bridge = " TB_BRIDGE "\n");
	sandbox = fa_sandbox();
	py_executor_in_vm(on_br, "0.0.0.0", TB_PREFIX "1");
	cr_assert_neq(system("ip -o link show | grep -q vmsup-"), 0,
		      "the VM's tap is gone from the bridge");
}
