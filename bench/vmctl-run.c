/*
 * bench/vmctl-run: wall time of `vmctl run -- true` on the test guest (TCG)
 * and where it goes: create (POST → running), boot to agent ready, agent
 * to address, address to sshd answering, ssh connect (vmctl's login probe,
 * a session running `true`), the task's session, the command (task session
 * minus the probe's), teardown (kill + delete). Through a private vmsupd, and, in
 * the same run and interleaved, with no daemon (vmctl's in-process
 * supervisor, whose start-up is one more phase).
 *
 * The phase ends come from vmctl itself ($VMCTL_TIMING: one JSON line per
 * run, wall clock) and from the daemon's event stream (`agent` events,
 * same clock), read by a `vmctl events` child. Median of N (default 5).
 */
#include "config.h"

#include "bench/benchlib.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define BENCH	      "vmctl-run"
#define RUN_TIMEOUT_S 300

static const char *guest_dir(void)
{
	const char *g = getenv("VMSUP_GUEST_DIR");

	if (g && *g) {
		char p[512];

		snprintf(p, sizeof(p), "%s/vmlinuz", g);
		if (access(p, R_OK) == 0)
			return g;
	}
	return access("/tmp/guest/vmlinuz", R_OK) == 0 ? "/tmp/guest" : NULL;
}

/* Run vmctl with env additions (NULL-terminated "K=V"), bounded. Returns
 * its exit status or -1. */
static int run_vmctl(char *const *argv, char *const *env, const char *errlog, pid_t *bg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		for (; env && *env; env++)
			putenv(*env);
		bl_vmctl_child_env(argv[0]); /* the binary, not libtool's wrapper script */
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
		}
		fd = open(errlog, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	bl_track_pid(pid);
	if (bg) {
		*bg = pid;
		return 0;
	}
	/* 1 ms steps: the run's total is read when this loop sees the exit
	 * (100 ms steps added 0-100 ms to every total) */
	for (double end = bl_now_ms() + RUN_TIMEOUT_S * 1000.0; bl_now_ms() < end;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			bl_untrack_pid(pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		bl_sleep_ms(1);
	}
	/* vmctl tears its VM down on SIGTERM */
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	bl_untrack_pid(pid);
	return -1;
}

static double num(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_double(v) : 0;
}

/* The last line of a file as JSON (the run just finished appended it). */
static struct json_object *last_json_line(const char *path)
{
	char line[2048], last[2048] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f))
		if (line[0] == '{')
			memcpy(last, line, sizeof(last));
	fclose(f);
	return last[0] ? json_tokener_parse(last) : NULL;
}

/* The wall-clock ts of the first agent event of vm with the field set
 * (agent ready, or an address), 0 if none. */
static double agent_event_ts(const char *events, const char *vm, int want_ip)
{
	char line[4096];
	FILE *f = fopen(events, "r");
	double ts = 0;

	while (f && !ts && fgets(line, sizeof(line), f)) {
		struct json_object *e = json_tokener_parse(line), *v;

		if (!e)
			continue;
		if (json_object_object_get_ex(e, "vm", &v) &&
		    strcmp(json_object_get_string(v), vm) == 0 &&
		    json_object_object_get_ex(e, "type", &v) &&
		    strcmp(json_object_get_string(v), "agent") == 0) {
			if (want_ip ? json_object_object_get_ex(e, "ip", &v) &&
					  json_object_is_type(v, json_type_string)
				    : json_object_object_get_ex(e, "agent", &v) &&
					  strcmp(json_object_get_string(v), "ready") == 0)
				ts = num(e, "ts");
		}
		json_object_put(e);
	}
	if (f)
		fclose(f);
	return ts;
}

enum {
	P_TOTAL,
	P_SUP,
	P_CREATE,
	P_AGENT,
	P_IP,
	P_BOOT_IP,
	P_BANNER,
	P_CONNECT,
	P_SSH,
	P_CMD,
	P_TEARDOWN,
	NP
};
static const char *const pname[NP] = {
    "total",
    "supervisor start",
    "create (POST to running)",
    "boot to agent ready",
    "agent ready to IP",
    "boot to IP",
    "IP to sshd banner",
    "ssh connect (login + true)",
    "task session (ssh + launcher + true)",
    "command (task session - connect)",
    "teardown (kill + delete)",
};

struct series {
	double v[NP][64];
	int n[NP];
};

static void add(struct series *s, int p, double sec)
{
	if (sec > 0 && s->n[p] < 64)
		s->v[p][s->n[p]++] = sec * 1000;
}

static int one_run(const char *vmctl, const char *sock, const char *timing, const char *errlog,
		   const char *events, char *const *extra_env, int i, int inproc, struct series *s)
{
	char name[64], tenv[600], senv[300], *env[8];
	int k = 0, rc;
	double t0 = bl_now_ms(), total;
	struct json_object *t;

	snprintf(name, sizeof(name), "bench-run-%d-%d", inproc, i);
	char *argv[] = {(char *)vmctl, "-q",	"run", "--name", name,	 "--accel",
			"tcg",	       "--mem", "256", "--",	 "true", NULL};
	snprintf(tenv, sizeof(tenv), "VMCTL_TIMING=%s", timing);
	env[k++] = tenv;
	/* no daemon at that path: vmctl runs its own supervisor */
	snprintf(senv, sizeof(senv), "VMSUP_SOCKET=%s%s", sock, inproc ? ".none" : "");
	env[k++] = senv;
	for (; extra_env && *extra_env && k < 6; extra_env++)
		env[k++] = *extra_env;
	env[k] = NULL;
	rc = run_vmctl(argv, env, errlog, NULL);
	total = bl_now_ms() - t0;
	if (rc != 0) {
		fprintf(stderr, "%s: run %d (%s) exited %d, see %s\n", BENCH, i,
			inproc ? "in-process" : "daemon", rc, errlog);
		return -1;
	}
	t = last_json_line(timing);
	if (!t)
		return -1;
	s->v[P_TOTAL][s->n[P_TOTAL]++] = total;
	if (inproc)
		add(s, P_SUP, num(t, "supervisor") - num(t, "start"));
	add(s, P_CREATE, num(t, "created") - num(t, "supervisor"));
	if (!inproc) {
		double ready = agent_event_ts(events, name, 0),
		       ip = agent_event_ts(events, name, 1);

		if (ready) {
			add(s, P_AGENT, ready - num(t, "created"));
			if (ip)
				add(s, P_IP, ip - ready);
		}
	}
	/* with no agent, the sshd banner is the first sign of a booted guest */
	add(s, P_BOOT_IP, (num(t, "ip") ? num(t, "ip") : num(t, "banner")) - num(t, "created"));
	if (num(t, "ip"))
		add(s, P_BANNER, num(t, "banner") - num(t, "ip"));
	add(s, P_CONNECT, num(t, "sshd") - num(t, "banner"));
	add(s, P_SSH, num(t, "task_end") - num(t, "task_start"));
	add(s, P_CMD,
	    (num(t, "task_end") - num(t, "task_start")) - (num(t, "sshd") - num(t, "banner")));
	add(s, P_TEARDOWN, num(t, "destroyed") - num(t, "task_end"));
	json_object_put(t);
	return 0;
}

static void report(struct series *s, const char *mode, double base_total)
{
	char metric[128], spread[128];
	struct bl_stats st;

	for (int p = 0; p < NP; p++) {
		if (!s->n[p])
			continue;
		bl_stats(s->v[p], s->n[p], &st);
		snprintf(metric, sizeof(metric), "%s: %s (median of %d)", mode, pname[p], st.n);
		bl_result(BENCH, metric, st.median, "ms", p == P_TOTAL ? base_total : -1, NULL,
			  bl_spread(&st, spread, sizeof(spread)));
	}
}

int main(int argc, char **argv)
{
	struct bl_opts o;
	struct bl_daemon d = {0};
	struct series sd = {0}, si = {0};
	const char *vmctl = bl_vmctl_path(), *g = guest_dir();
	char conf[2048], timing[256], errlog[256], events[256], keyenv[600], load[64],
	    *err = NULL, *extra[2] = {NULL, NULL};
	char *const *extra_env = NULL;
	struct json_object *rep = NULL, *v;
	long status = 0;
	pid_t epid = 0;
	int n, rc = 1, agent = 0;
	struct bl_stats st;

	rc = bl_parse_opts(argc, argv, "bench/vmctl-run [--quick] [-n N]", &o);
	if (rc)
		return rc == -2 ? 0 : 2;
	rc = 1;
	n = o.n ? o.n : o.quick ? 1 : 5;
	if (n > 64)
		n = 64;
	if (!g) {
		fprintf(stderr, "%s: no test guest (VMSUP_GUEST_DIR or /tmp/guest)\n", BENCH);
		return 77;
	}
	{
		char app[512] = "console=ttyS0";

		bl_guest_append(g, app, sizeof(app));
		snprintf(conf, sizeof(conf),
			 "default_kernel = %s/vmlinuz\ndefault_initrd = %s/initrd.img\n"
			 "default_append = %s\nstop_grace_s = 5\n",
			 g, g, app);
	}
	bl_cleanup_install(&d);
	if (bl_daemon_start(&d, conf, &err) < 0) {
		fprintf(stderr, "%s: %s\n", BENCH, err);
		goto out;
	}
	snprintf(timing, sizeof(timing), "%s/timing.jsonl", d.dir);
	snprintf(errlog, sizeof(errlog), "%s/vmctl.log", d.dir);
	snprintf(events, sizeof(events), "%s/events.jsonl", d.dir);
	{
		/* The in-process runs read the same defaults. */
		char cp[300];
		FILE *f;

		snprintf(cp, sizeof(cp), "%s/inproc.conf", d.dir);
		if (!(f = fopen(cp, "w")))
			goto out;
		fputs(conf, f);
		fclose(f);
		snprintf(keyenv, sizeof(keyenv), "VMSUP_CONFIG=%s", cp);
		putenv(keyenv);
	}
	/* A daemon with the guest agent reports ssh_key for its VMs and injects
	 * it; otherwise the test guest's baked key lets ssh in. */
	if (bl_api(d.sock, "POST", "/v1/vms", "{\"name\":\"probe\",\"guest\":false,\"mem_mib\":64}",
		   &status, &rep, &err) == 0 &&
	    json_object_object_get_ex(rep, "ssh_key", &v))
		agent = 1;
	json_object_put(rep);
	free(err);
	err = NULL;
	bl_destroy(d.sock, "probe", &err);
	free(err);
	err = NULL;
	if (!agent) {
		static char k[600];

		snprintf(k, sizeof(k), "VMSUP_SSH_KEY=%s/test_key", g);
		extra[0] = k;
		extra_env = extra;
	}
	bl_info("vmctl-run key", agent ? "agent-injected (status ssh_key)" : "test guest test_key");
	{
		char s[300];
		char *ea[] = {(char *)vmctl, "-o", "json", "events", NULL}, *ee[] = {s, NULL};

		snprintf(s, sizeof(s), "VMSUP_SOCKET=%s", d.sock);
		/* stdout of the events child is the events file */
		pid_t pid = fork();

		if (pid == 0) {
			int fd = open(events, O_WRONLY | O_CREAT | O_TRUNC, 0600);

			if (fd >= 0)
				dup2(fd, STDOUT_FILENO);
			putenv(ee[0]);
			bl_vmctl_child_env(ea[0]);
			execvp(ea[0], ea);
			_exit(127);
		}
		if (pid > 0) {
			epid = pid;
			bl_track_pid(pid);
		}
	}
	bl_info("vmctl-run load before", bl_loadavg(load, sizeof(load)));
	/* warm-up: page cache for kernel, initrd, qemu and ssh */
	{
		struct series w = {0};

		if (one_run(vmctl, d.sock, timing, errlog, events, extra_env, -1, 0, &w) < 0)
			goto out;
	}
	/* A B, B A, ...: the machine's drift hits both alike */
	for (int i = 0; i < n; i++) {
		int first = i % 2;

		for (int j = 0; j < 2; j++) {
			int inproc = j ^ first;

			if (one_run(vmctl, d.sock, timing, errlog, events, extra_env, i, inproc,
				    inproc ? &si : &sd) < 0)
				goto out;
		}
	}
	bl_info("vmctl-run load after", bl_loadavg(load, sizeof(load)));
	bl_stats(sd.v[P_TOTAL], sd.n[P_TOTAL], &st);
	report(&sd, "vmctl run -- true via vmsupd", -1);
	report(&si, "vmctl run -- true in-process (no daemon)", st.median);
	rc = 0;
out:
	if (epid > 0) {
		kill(epid, SIGTERM);
		waitpid(epid, NULL, 0);
		bl_untrack_pid(epid);
	}
	free(err);
	bl_daemon_stop(&d);
	return rc;
}
