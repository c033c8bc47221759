/*
 * The harness of the executor's end-to-end tests: a real vmsupd started in a
 * private directory with the test guest, the fake agent's runs, and checks
 * that nothing is left behind (vm-harness.h).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/executor/vm-harness.h"

extern char **environ;

char *dir, *sandbox, sock[4200], env_sock[4300], env_vmctl[4300], env_key[4300], probe[8800];
static pid_t vmsupd_pid;

static const char *builddir(void)
{
	const char *v = getenv("top_builddir");
	return v && *v ? v : ".";
}

/*
 * vmsupd in a mount namespace of its own where /sys/fs/cgroup is an empty
 * tmpfs: a host without cgroups, for real. 0, or -1 (errno) when this
 * process may not make namespaces.
 */
static int spawn_without_cgroups(const char *const *argv, const char *logp)
{
	int pfd[2], e = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0 || unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("none", "/sys/fs/cgroup", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
			e = errno;
		else
			execv(argv[0], (char *const *)argv);
		e = e ? e : errno;
		(void)!write(pfd[1], &e, sizeof(e));
		_exit(127);
	}
	close(pfd[1]);
	if (read(pfd[0], &e, sizeof(e)) == (ssize_t)sizeof(e)) {
		close(pfd[0]);
		waitpid(pid, NULL, 0);
		errno = e;
		return -1;
	}
	close(pfd[0]);
	vmsupd_pid = pid;
	return 0;
}

void start_vmsupd_as(bool cgroups, const char *extra_conf)
{
	const char *g = getenv("VMSUP_GUEST_DIR");
	char conf[4200], bin[4200], state[4200], run[4200], logp[4200], append[512] = "";
	FILE *f;

	if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0 &&
	    access("/usr/local/bin/qemu-system-x86_64", X_OK) != 0)
		cr_skip_test("qemu-system-x86_64 is not installed");
	cr_assert(g && *g, "VMSUP_GUEST_DIR is not set (make check sets it)");
	/* as root the daemon runs qemu as qemu_user's default user */
	if (geteuid() == 0) {
		const char *s = getenv("top_srcdir");
		snprintf(bin, sizeof(bin), "sh '%s/scripts/mkuser-qemu' >&2",
			 s && *s ? s : TOP_SRCDIR);
		cr_assert_eq(system(bin), 0, "%s failed", bin);
	}
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
		"default_append = %s\nstop_grace_s = 5\non_exit = stop\n%s",
		g, g, append[0] ? append : "console=ttyS0 panic=-1", extra_conf ? extra_conf : "");
	fclose(f);
	snprintf(bin, sizeof(bin), "%s/src/daemon/vmsupd", builddir());
	snprintf(sock, sizeof(sock), "%s/api.sock", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(run, sizeof(run), "%s/run", dir);
	snprintf(logp, sizeof(logp), "%s/vmsupd.log", dir);
	const char *argv[] = {bin,   "-c",	  conf, "--socket", sock, "--state-dir",
			      state, "--run-dir", run,	"-f",	    NULL};
	if (!cgroups) {
		if (spawn_without_cgroups(argv, logp) < 0)
			cr_skip_test("cannot hide the cgroups from vmsupd: %s", strerror(errno));
	} else {
		posix_spawn_file_actions_t fa;
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 2, logp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		cr_assert_eq(posix_spawn(&vmsupd_pid, bin, &fa, NULL, (char *const *)argv, environ),
			     0, "cannot start %s", bin);
		posix_spawn_file_actions_destroy(&fa);
	}
	for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
		usleep(50000);
	cr_assert_eq(access(sock, F_OK), 0, "vmsupd did not create %s", sock);
	snprintf(env_sock, sizeof(env_sock), "VMSUP_SOCKET=%s", sock);
	snprintf(env_vmctl, sizeof(env_vmctl), "VMEXEC_VMCTL=%s/src/cli/vmctl", builddir());
	snprintf(env_key, sizeof(env_key), "VMSUP_SSH_KEY=%s/test_key", g);
	/* Run by the fake agent at TASK_RUNNING: vmsupd's own view of the VM. */
	snprintf(probe, sizeof(probe),
		 "[\"%s/src/cli/vmctl\",\"--socket\",\"%s\",\"-o\",\"json\",\"status\","
		 "\"mesos-t1\"]",
		 builddir(), sock);
}

void setup(void)
{
	start_vmsupd_as(true, NULL);
	sandbox = fa_sandbox();
}

/* qemu processes whose command line names our private directory. */
int our_qemus(bool kill_them)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	if (!d || !dir)
		return d ? (closedir(d), 0) : 0;
	while ((e = readdir(d))) {
		char p[300], buf[16384];
		size_t len;
		FILE *f;
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(p, sizeof(p), "/proc/%s/cmdline", e->d_name);
		if (!(f = fopen(p, "re")))
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[len] = '\0';
		if (!strstr(buf, "qemu-system") || !strstr(buf, dir))
			continue;
		n++;
		if (kill_them)
			kill(atoi(e->d_name), SIGKILL);
	}
	closedir(d);
	return n;
}

/* Every VM goes with vmsupd: it stops them all on SIGTERM (on_exit = stop). */
void teardown(void)
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
	/* Last resort, so a broken vmsupd cannot leave a guest running. */
	if (our_qemus(true))
		fprintf(stderr, "test-executor-vm: killed qemu left behind in %s\n", dir);
	fa_rmrf(sandbox);
	free(sandbox);
	fa_rmrf(dir);
	free(dir);
	dir = NULL;
	sandbox = NULL;
}

struct json_object *run(const char *const *args)
{
	struct json_object *r = fa_run(sandbox, args);
	cr_assert_eq(fa_violations(r), 0);
	return r;
}

/* After the executor exited: vmsupd knows no VM and no qemu of ours runs. */
void assert_nothing_left(void)
{
	cr_assert_eq(vm_count(), 0, "the task's VM is gone from vmsupd");
	for (int i = 0; i < 50 && our_qemus(false); i++)
		usleep(100000);
	cr_assert_eq(our_qemus(false), 0, "no qemu left running");
}

/* TASK_RUNNING's address, from labels (vm_ip) and network_infos. */
const char *running_ip(struct json_object *u)
{
	struct json_object *labels, *arr, *l, *cs, *ni, *ips;
	const char *from_labels = NULL, *from_ni = NULL;

	if (json_object_object_get_ex(u, "labels", &labels) &&
	    json_object_object_get_ex(labels, "labels", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			l = json_object_array_get_idx(arr, i);
			if (!strcmp(fa_str(l, "key"), "vm_ip"))
				from_labels = fa_str(l, "value");
		}
	if (json_object_object_get_ex(u, "container_status", &cs) &&
	    json_object_object_get_ex(cs, "network_infos", &ni) &&
	    json_object_array_length(ni) > 0 &&
	    json_object_object_get_ex(json_object_array_get_idx(ni, 0), "ip_addresses", &ips) &&
	    json_object_array_length(ips) > 0)
		from_ni = fa_str(json_object_array_get_idx(ips, 0), "ip_address");
	cr_assert(from_labels && *from_labels, "TASK_RUNNING has no vm_ip label");
	cr_assert_str_eq(from_labels, from_ni ? from_ni : "", "labels and network_infos agree");
	return from_labels;
}

/* The VM as vmsupd saw it at TASK_RUNNING (the probe's output). */
struct json_object *probed_vm(struct json_object *r)
{
	const char *out = fa_str(r, "probe");
	struct json_object *vm = json_tokener_parse(out);
	cr_assert_not_null(vm, "vmctl status gave no JSON at TASK_RUNNING: '%s'", out);
	return vm;
}

/* `vmctl --socket SOCK -o json ARGS...`: its stdout into buf; its exit status. */
int vmctl_json(const char *const *args, char *buf, size_t len)
{
	char cmd[4400];
	const char *argv[16] = {cmd, "--socket", sock, "-o", "json"};
	int pfd[2], st = -1, n = 5;
	size_t got;
	posix_spawn_file_actions_t fa;
	pid_t pid;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s/src/cli/vmctl", builddir());
	for (; *args && n < 15; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	cr_assert_eq(pipe(pfd), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	cr_assert_eq(posix_spawn(&pid, cmd, &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	f = fdopen(pfd[0], "r");
	got = fread(buf, 1, len - 1, f);
	buf[got] = '\0';
	fclose(f);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* How many VMs vmsupd still knows. */
int vm_count(void)
{
	const char *args[] = {"list", NULL};
	static char buf[65536];
	int n = 0;

	vmctl_json(args, buf, sizeof(buf));
	for (char *s = buf; (s = strstr(s, "\"name\"")); s++)
		n++;
	return n;
}

/* When name in the sandbox was last written, by the host's clock (the guest
 * writes through 9p onto the host's file system). */
double mtime_in_sandbox(const char *name)
{
	char p[4300];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", sandbox, name);
	cr_assert_eq(stat(p, &st), 0, "no %s in the sandbox", name);
	return (double)st.st_mtim.tv_sec + st.st_mtim.tv_nsec / 1e9;
}

/* ---- the warm pool (VMEXEC_POOL=1) ---- */

struct json_object *vm_pool_status(void)
{
	const char *args[] = {"pool", NULL};
	static char buf[65536];

	cr_assert_eq(vmctl_json(args, buf, sizeof(buf)), 0, "vmctl pool: %s", buf);
	return json_tokener_parse(buf);
}

void vm_pool_wait_ready(void)
{
	struct json_object *p = NULL;

	for (int i = 0; i < 1200; i++) {
		json_object_put(p);
		p = vm_pool_status();
		if (fa_int(p, "ready") == 1)
			break;
		usleep(100000);
	}
	cr_assert_eq(fa_int(p, "ready"), 1, "the pool did not fill: %s",
		     json_object_to_json_string(p));
	json_object_put(p);
}

void vm_setup_pool(void)
{
	const char *args[] = {"template", "create", "base", NULL};
	static char buf[65536];

	start_vmsupd_as(true, "mem_mib = 256\npool_template = base\npool_size = 1\n");
	sandbox = fa_sandbox();
	cr_assert_eq(vmctl_json(args, buf, sizeof(buf)), 0, "template create: %s", buf);
	vm_pool_wait_ready();
}

char *vm_task_json(const char *cmd, const char *key, const char *value)
{
	struct json_object *c = json_object_new_string(cmd);
	char *s = NULL;

	cr_assert(asprintf(&s,
			   "{\"name\":\"t\",\"task_id\":{\"value\":\"t1\"},\"agent_id\":{\"value\":"
			   "\"agent-1\"},\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\","
			   "\"scalar\":{\"value\":1}},{\"name\":\"mem\",\"type\":\"SCALAR\","
			   "\"scalar\":{\"value\":256}}],\"command\":{\"shell\":true,\"value\":%s},"
			   "\"%s\":%s}",
			   json_object_to_json_string(c), key, value) > 0);
	json_object_put(c);
	return s;
}
