/*
 * End to end: the fake agent drives mesos-vm-executor, which runs each task
 * in a real VM through a real vmsupd (started here in a private directory)
 * and the test guest, with the command run over ssh by vmctl.
 * VMEXEC_FIGURES=1 also measures LAUNCH->RUNNING and LAUNCH->FINISHED.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/executor/fake-agent-run.h"

extern char **environ;

static char *dir, *sandbox, sock[4200], env_sock[4300], env_vmctl[4300], env_key[4300];
static pid_t vmsupd_pid;

static const char *builddir(void)
{
	const char *v = getenv("top_builddir");
	return v && *v ? v : ".";
}

static void start_vmsupd(void)
{
	const char *g = getenv("VMSUP_GUEST_DIR");
	char conf[4200], bin[4200], state[4200], run[4200], logp[4200], append[512] = "";
	FILE *f;

	if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0 &&
	    access("/usr/local/bin/qemu-system-x86_64", X_OK) != 0)
		cr_skip_test("qemu-system-x86_64 is not installed");
	cr_assert(g && *g, "VMSUP_GUEST_DIR is not set (make check sets it)");
	snprintf(conf, sizeof(conf), "%s/append", g);
	if ((f = fopen(conf, "re"))) {
		if (!fgets(append, sizeof(append), f))
			append[0] = '\0';
		append[strcspn(append, "\n")] = '\0';
		fclose(f);
	}
	dir = strdup("/tmp/vmexec-vm-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(conf, sizeof(conf), "%s/vmsupd.conf", dir);
	f = fopen(conf, "we");
	cr_assert_not_null(f);
	fprintf(f,
		"accel = tcg\ndefault_kernel = %s/vmlinuz\ndefault_initrd = %s/initrd.img\n"
		"default_append = %s\nstop_grace_s = 5\n",
		g, g, append[0] ? append : "console=ttyS0 panic=-1");
	fclose(f);
	snprintf(bin, sizeof(bin), "%s/src/vmsupd", builddir());
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	snprintf(logp, sizeof(logp), "%s/vmsupd.log", dir);
	const char *argv[] = {bin,   "-c",	  conf, "--socket", sock, "--state-dir",
			      state, "--run-dir", run,	"-f",	    NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_eq(posix_spawn(&vmsupd_pid, bin, &fa, NULL, (char *const *)argv, environ), 0,
		     "cannot start %s", bin);
	posix_spawn_file_actions_destroy(&fa);
	for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
		usleep(50000);
	cr_assert_eq(access(sock, F_OK), 0, "vmsupd did not create %s", sock);
	snprintf(env_sock, sizeof(env_sock), "VMSUP_SOCKET=%s", sock);
	snprintf(env_vmctl, sizeof(env_vmctl), "VMEXEC_VMCTL=%s/src/vmctl", builddir());
	snprintf(env_key, sizeof(env_key), "VMSUP_SSH_KEY=%s/test_key", g);
}

static void setup(void)
{
	start_vmsupd();
	sandbox = fa_sandbox();
}

/* Every VM goes with vmsupd: it stops them all on SIGTERM. */
static void teardown(void)
{
	if (vmsupd_pid > 0) {
		int st;
		kill(vmsupd_pid, SIGTERM);
		for (int i = 0; i < 600 && waitpid(vmsupd_pid, &st, WNOHANG) == 0; i++)
			usleep(100000);
		if (waitpid(vmsupd_pid, &st, WNOHANG) == 0) {
			kill(vmsupd_pid, SIGKILL);
			waitpid(vmsupd_pid, &st, 0);
		}
		vmsupd_pid = 0;
	}
	fa_rmrf(sandbox);
	free(sandbox);
	fa_rmrf(dir);
	free(dir);
}

TestSuite(executor_vm, .init = setup, .fini = teardown, .timeout = 900);

#define VMENV "--env", env_sock, "--env", env_vmctl, "--env", env_key, "--env", "VMEXEC_IP_WAIT=90"

static struct json_object *run(const char *const *args)
{
	struct json_object *r = fa_run(sandbox, args);
	cr_assert_eq(fa_violations(r), 0);
	return r;
}

static int vm_count(void)
{
	char p[4300];
	snprintf(p, sizeof(p), "%s/state", dir);
	/* One state file per VM that vmsupd still knows. */
	int n = 0;
	FILE *f;
	char cmd[4400];
	snprintf(cmd, sizeof(cmd), "%s/src/vmctl", builddir());
	const char *argv[] = {cmd, "--socket", sock, "-o", "json", "list", NULL};
	int pfd[2];
	cr_assert_eq(pipe(pfd), 0);
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	pid_t pid;
	cr_assert_eq(posix_spawn(&pid, cmd, &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	char buf[65536];
	size_t len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[len] = '\0';
	fclose(f);
	waitpid(pid, NULL, 0);
	for (char *s = buf; (s = strstr(s, "\"name\"")); s++)
		n++;
	return n;
}

Test(executor_vm, task_runs_in_its_own_vm_and_finishes)
{
	const char *args[] = {
	    "--scenario", "finish", "--mem", "256", VMENV, "--command", "uname -r > guest-uname",
	    NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	char p[4300];
	snprintf(p, sizeof(p), "%s/guest-uname", sandbox);
	char *guest = fa_slurp(p);
	struct utsname u;
	uname(&u);
	cr_assert_not_null(guest, "the guest wrote no file into the shared sandbox");
	guest[strcspn(guest, "\n")] = '\0';
	cr_assert(*guest);
	cr_assert_str_neq(guest, u.release, "written from the guest kernel, not the host's");
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	cr_assert_eq(vm_count(), 0, "the task's VM is gone");
	free(guest);
	free(states);
	json_object_put(r);
}

Test(executor_vm, failing_command_reports_exit_status)
{
	const char *args[] = {"--scenario", "finish",	 "--mem",  "256",
			      VMENV,	    "--command", "exit 7", NULL};
	struct json_object *r = run(args);
	struct json_object *u = fa_update(r, "t1", "TASK_FAILED");
	cr_assert_not_null(u);
	cr_assert(strstr(fa_str(u, "message"), "status 7"), "%s", fa_str(u, "message"));
	cr_assert_eq(vm_count(), 0);
	json_object_put(r);
}

Test(executor_vm, kill_stops_the_vm)
{
	const char *args[] = {"--scenario", "kill",	 "--mem",     "256",
			      VMENV,	    "--command", "sleep 600", NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_KILLED");
	cr_assert_eq(vm_count(), 0);
	free(states);
	json_object_put(r);
}

Test(executor_vm, shutdown_kills_and_exits)
{
	const char *args[] = {"--scenario", "shutdown", "--mem",     "256",	  "--grace",
			      "30secs",	    VMENV,	"--command", "sleep 600", NULL};
	struct json_object *r = run(args);
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_KILLED");
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	cr_assert_lt(fa_double(r, "exit_after_shutdown_s"), 30.0);
	cr_assert_eq(vm_count(), 0);
	free(states);
	json_object_put(r);
}

Test(executor_vm, reconnect_keeps_the_task)
{
	const char *args[] = {
	    "--scenario", "reconnect", "--checkpoint", "--mem",
	    "256",	  VMENV,       "--command",    "sleep 5; uname -r > guest-uname",
	    NULL};
	struct json_object *r = run(args);
	struct json_object *subs, *last, *ups;
	char *states = fa_states(r, "t1");
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_FINISHED");
	json_object_object_get_ex(r, "subscribes", &subs);
	last = json_object_array_get_idx(subs, json_object_array_length(subs) - 1);
	json_object_object_get_ex(last, "updates", &ups);
	cr_assert_geq(json_object_array_length(ups), 1, "unacknowledged updates resent");
	char p[4300];
	snprintf(p, sizeof(p), "%s/guest-uname", sandbox);
	char *g = fa_slurp(p);
	cr_assert_not_null(g, "the task survived the disconnect and finished");
	free(g);
	cr_assert_eq(vm_count(), 0);
	free(states);
	json_object_put(r);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

Test(executor_vm, figures)
{
	const char *f = getenv("VMEXEC_FIGURES");
	if (!f || strcmp(f, "1") != 0)
		cr_skip_test("set VMEXEC_FIGURES=1 to measure");
	double running[5], finished[5];
	for (int i = 0; i < 5; i++) {
		const char *args[] = {"--scenario", "finish",	 "--mem", "256",
				      VMENV,	    "--command", "true",  NULL};
		struct json_object *r = run(args);
		struct json_object *u1 = fa_update(r, "t1", "TASK_RUNNING"),
				   *u2 = fa_update(r, "t1", "TASK_FINISHED");
		cr_assert(u1 && u2);
		running[i] = fa_double(u1, "t");
		finished[i] = fa_double(u2, "t");
		json_object_put(r);
	}
	qsort(running, 5, sizeof(double), cmp);
	qsort(finished, 5, sizeof(double), cmp);
	printf("LAUNCH->TASK_RUNNING median %.2f s (min %.2f max %.2f)\n", running[2], running[0],
	       running[4]);
	printf("LAUNCH->TASK_FINISHED median %.2f s (min %.2f max %.2f)\n", finished[2],
	       finished[0], finished[4]);
}
