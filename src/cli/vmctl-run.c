/*
 * vmctl run: one task in a fresh VM. create → wait for the address → run
 * the rendered launcher (ssh `sh -c SCRIPT`, so the task keeps our stdin)
 * → destroy, whatever happened in between, and exit with the task's status.
 */

#include "config.h"

#include "src/cli/vmctl-run-internal.h"

#include "src/client/client.h"
#include "src/cli/vmctl-exec.h"
#include "src/cli/vmctl-inproc.h"
#include "src/cli/vmctl-launcher.h"
#include "src/cli/vmctl-shell.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	OPT_WORKDIR = VMCTL_OPT_FIRST_FREE,
	OPT_ENV,
	OPT_VIA,
	OPT_KEY,
	OPT_NAME,
	OPT_TIMEOUT,
	OPT_POOL,
};

double vmctl_run_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void vmctl_run_progress(struct run *r, const char *what, const char *arg)
{
	if (r->progress)
		fprintf(stderr, "vmctl run: %6.1fs %s %s\n", vmctl_run_now() - r->t0, what, arg);
}

static int run_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	struct run *r = ctx;
	int rc = vmctl_spec_opt(cmd, opt, arg, r->spec);
	char **env;

	if (rc >= 0)
		return rc;
	switch (opt) {
	case OPT_WORKDIR:
		if (arg[0] != '/')
			return vmctl_usage_error(cmd, "--workdir: '%s' is not an absolute path",
						 arg);
		r->workdir = arg;
		return 0;
	case OPT_ENV:
		if (!strchr(arg, '=') || arg[0] == '=')
			return vmctl_usage_error(cmd, "--env: '%s' is not NAME=VALUE", arg);
		env = realloc(r->env, (r->nenv + 1) * sizeof(*env));
		if (!env)
			return vmctl_fail(cmd, "out of memory");
		r->env = env;
		r->env[r->nenv++] = (char *)arg;
		return 0;
	case OPT_VIA:
		r->via = vmctl_via_parse(arg);
		if (r->via < 0)
			return vmctl_usage_error(cmd, "--via: '%s' is not ssh or agent", arg);
		return 0;
	case OPT_KEY:
		r->key = arg;
		return 0;
	case OPT_NAME:
		if (!vmctl_valid_name(arg))
			return vmctl_usage_error(cmd, "--name: '%s' is not a valid VM name", arg);
		r->name = arg;
		return 0;
	case OPT_POOL:
		r->pool = 1;
		return 0;
	case OPT_TIMEOUT:
		if (vmctl_parse_long(arg, 1, 86400, &r->timeout_s) < 0)
			return vmctl_usage_error(cmd, "--timeout: '%s' is not a number of seconds",
						 arg);
		return 0;
	}
	return VMCTL_EXIT_USAGE;
}

/*
 * The socket run talks to: the daemon's when one listens there, else a
 * private supervisor's, started here for this one command.
 */
static int run_socket(struct run *r, const char *name)
{
	int rc = vmctl_daemon_reachable(r->g.sock);

	if (rc > 0)
		return 0;
	if (rc < 0)
		return vmctl_fail(name, "%s: %s", r->g.sock, strerror(errno));
	if (r->pool)
		return vmctl_fail(name,
				  "--pool: no vmsupd listens on %s (the warm pool is the "
				  "daemon's: pool_template, pool_size)",
				  r->g.sock);
	rc = vmctl_inproc_start(&r->inproc, name, &vmctl_signal);
	if (rc)
		return rc;
	r->g.sock = r->inproc.sock;
	r->inproc_used = 1;
	vmctl_run_progress(r, "supervisor", "in-process (no daemon)");
	return 0;
}

/* The VM is disposable, a graceful stop only costs time: SIGKILL and
 * removal in one request (a kill, then a delete, was a round trip more). */
static void destroy(struct run *r, const char *name)
{
	struct json_object *reply = NULL;
	char path[160], *err = NULL;
	long status = 0;
	int i;

	vmsup_client_set_abort_flag(NULL);
	snprintf(path, sizeof(path), "/v1/vms/%s?force=1", name);
	/* An interrupted create may still be in the daemon's hands (409)
	 * for a moment; 404 means it never existed. */
	for (i = 0; i < 50; i++) {
		err = NULL;
		reply = NULL;
		if (vmsup_request(r->g.sock, "DELETE", path, NULL, 60000, &status, &reply, &err) <
		    0) {
			vmctl_fail(name, "destroying the VM: %s", err);
			free(err);
			return;
		}
		if (status != 409)
			break;
		json_object_put(reply);
		reply = NULL;
		poll(NULL, 0, 200);
	}
	if (status != 404 && (status < 200 || status > 299))
		vmctl_fail(name, "destroying the VM: %s", vmsup_error_desc(reply, status));
	json_object_put(reply);
}

static int shares_of(struct json_object *vm, struct json_object *spec, struct vmctl_share **out,
		     size_t *n, char (**tags)[32])
{
	struct json_object *vs = NULL, *ss = NULL, *e, *v;
	size_t i, cnt;

	*out = NULL;
	*n = 0;
	*tags = NULL;
	json_object_object_get_ex(spec, "shares", &ss);
	if (!ss)
		return 0;
	json_object_object_get_ex(vm, "shares", &vs);
	cnt = json_object_array_length(ss);
	*out = calloc(cnt, sizeof(**out));
	*tags = calloc(cnt, sizeof(**tags));
	if (!*out || !*tags)
		return -1;
	for (i = 0; i < cnt; i++) {
		struct vmctl_share *s = &(*out)[i];

		e = json_object_array_get_idx(ss, i);
		json_object_object_get_ex(e, "path", &v);
		s->path = json_object_get_string(v);
		json_object_object_get_ex(e, "readonly", &v);
		s->readonly = json_object_get_boolean(v);
		/* The daemon's tag when it reports one, else its documented
		 * default: vmshare<i> in spec order (src/qemu/argv.c). */
		e = vs && json_object_is_type(vs, json_type_array)
			? json_object_array_get_idx(vs, i)
			: NULL;
		if (e && json_object_object_get_ex(e, "tag", &v) &&
		    json_object_is_type(v, json_type_string)) {
			s->tag = json_object_get_string(v);
		} else {
			snprintf((*tags)[i], sizeof((*tags)[i]), "vmshare%zu", i);
			s->tag = (*tags)[i];
		}
	}
	*n = cnt;
	return 0;
}

static int run_task(struct run *r, const char *name, struct json_object *vm, char **cmd,
		    size_t ncmd, int *status)
{
	struct vmctl_launch l = {0};
	struct vmctl_share *shares = NULL;
	char(*tags)[32] = NULL;
	char *script = NULL, *err = NULL, *q = NULL, *remote = NULL, *khdir = NULL, *kh = NULL;
	const char *task = getenv("MESOS_TASK_ID");
	int rc = VMCTL_EXIT_ERR;

	if (shares_of(vm, r->spec, &shares, &l.nshares, &tags) < 0) {
		rc = vmctl_fail(name, "out of memory");
		goto out;
	}
	l.task_id = task && *task ? task : name;
	l.workdir = r->workdir;
	l.env = r->env;
	l.nenv = r->nenv;
	l.shares = shares;
	l.argv = cmd;
	l.argc = ncmd;
	script = vmctl_launcher_render(vmctl_launcher_template, &l, &err);
	if (!script) {
		rc = vmctl_fail(name, "%s", err);
		goto out;
	}
	if (r->via == VMCTL_VIA_AGENT) {
		r->t.task_start = vmctl_run_now();
		vmctl_run_progress(r, "running", cmd[0]);
		char *argv[] = {"sh", "-c", script, "vm-launcher", NULL};

		rc = vmctl_exec_agent(&r->g, name, argv, 4, -1, status);
		goto out;
	}
	/* A fresh VM has a fresh host key: its known_hosts lives and dies
	 * with this run, learnt at the first connect. */
	khdir = strdup("/tmp/vmctl-run-XXXXXX");
	if (!khdir || !mkdtemp(khdir) || asprintf(&kh, "%s/known_hosts", khdir) < 0) {
		kh = NULL;
		rc = vmctl_fail(name, "temporary directory: %s", strerror(errno));
		goto out;
	}
	q = vmctl_shell_quote(script);
	if (!q || asprintf(&remote, "sh -c %s vm-launcher", q) < 0) {
		remote = NULL;
		rc = vmctl_fail(name, "out of memory");
		goto out;
	}
	/* a warm pool VM's sshd has answered for as long as it waited: no probe
	 * session (under TCG each ssh handshake costs the guest ~0.3 s) */
	rc = r->pool_hit ? 0 : vmctl_run_ssh_ready(r, name, vm, khdir, kh);
	if (rc || vmctl_signal)
		goto out;
	r->t.task_start = vmctl_run_now();
	vmctl_run_progress(r, "running", cmd[0]);
	{
		struct vmctl_ssh_opts so = {.key = r->key, .known_hosts = kh, .probe_err = -1};

		rc = vmctl_exec_ssh(name, vm, &so, remote, status);
	}
out:
	if (khdir && kh)
		vmctl_rmrf(khdir);
	free(kh);
	free(khdir);
	free(remote);
	free(q);
	free(script);
	free(err);
	free(shares);
	free(tags);
	return rc;
}

/* $VMCTL_TIMING: one JSON line of wall-clock phase ends appended to that
 * file, for bench/vmctl-run (wall clock: the daemon's events use it too). */
static void write_timing(const struct run *r, int status)
{
	const char *file = getenv("VMCTL_TIMING");
	double off = r->wall0 - r->t0;
	FILE *f;

	if (!file || !*file || !(f = fopen(file, "ae")))
		return;
#define T(x) ((x) > 0 ? (x) + off : 0.0)
	fprintf(f,
		"{\"start\":%.6f,\"supervisor\":%.6f,\"created\":%.6f,\"ip\":%.6f,"
		"\"banner\":%.6f,\"sshd\":%.6f,\"task_start\":%.6f,\"task_end\":%.6f,\"destroyed\":"
		"%.6f,"
		"\"end\":%.6f,\"inproc\":%s,\"status\":%d}\n",
		T(r->t0), T(r->t.supervisor), T(r->t.created), T(r->t.ip), T(r->t.banner),
		T(r->t.sshd), T(r->t.task_start), T(r->t.task_end), T(r->t.destroyed),
		T(vmctl_run_now()), r->inproc_used ? "true" : "false", status);
#undef T
	fclose(f);
}

int vmctl_cmd_run(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {VMCTL_SPEC_LONGOPTS,
					   VMCTL_PIN_LONGOPTS,
					   {"workdir", required_argument, NULL, OPT_WORKDIR},
					   {"env", required_argument, NULL, OPT_ENV},
					   {"via", required_argument, NULL, OPT_VIA},
					   {"ssh-key", required_argument, NULL, OPT_KEY},
					   {"name", required_argument, NULL, OPT_NAME},
					   {"timeout", required_argument, NULL, OPT_TIMEOUT},
					   {"pool", no_argument, NULL, OPT_POOL},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct run r = {
	    .g = *g, .spec = json_object_new_object(), .via = VMCTL_VIA_SSH, .timeout_s = 120};
	struct json_object *vm = NULL, *ipr = NULL, *v;
	struct vmctl_args a;
	struct timespec ts;
	char name[64], b[64], b2[600];
	int rc, status = 0, created = 0;
	double deadline;
	long http = 0;

	r.t0 = vmctl_run_now();
	clock_gettime(CLOCK_REALTIME, &ts);
	r.wall0 = ts.tv_sec + ts.tv_nsec / 1e9;
	rc = vmctl_parse("run", argc, argv, "h", lo, 0, 1, run_opt, &r, &a);
	if (rc)
		goto out;
	if (a.nrest < 1) {
		rc = vmctl_usage_error("run", "missing the command (after --)");
		goto out;
	}
	r.progress = !g->quiet && isatty(STDERR_FILENO);
	if (r.pool && r.name) {
		rc = vmctl_usage_error("run", "--pool and --name: the daemon names pool VMs");
		goto out;
	}
	if (r.name) {
		snprintf(name, sizeof(name), "%s", r.name);
	} else {
		unsigned rnd = 0;
		int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

		if (fd < 0 || read(fd, &rnd, sizeof(rnd)) != sizeof(rnd))
			rnd = (unsigned)(vmctl_run_now() * 1e6);
		if (fd >= 0)
			close(fd);
		snprintf(name, sizeof(name), "vmctl-run-%ld-%04x", (long)getpid(), rnd & 0xffff);
	}
	vmctl_catch_signals();
	vmsup_client_set_abort_flag(&vmctl_signal);
	rc = run_socket(&r, name);
	if (rc || vmctl_signal)
		goto out;
	r.t.supervisor = vmctl_run_now();

	if (r.pool) {
		rc = vmctl_run_take_from_pool(&r, name, sizeof(name), &vm, &http);
	} else {
		json_object_object_add(r.spec, "name", json_object_new_string(name));
		rc = vmctl_call(&r.g, name, "POST", "/v1/vms", r.spec, 0, &vm, &http);
	}
	/* Made (2xx), maybe half-made (5xx) or unknown (interrupted): from here
	 * on it is always destroyed. A 4xx (say, --name taken) or no answer
	 * at all: not ours, nothing to undo. */
	created = (http >= 200 && http < 300) || http >= 500 || vmctl_signal;
	if (rc || vmctl_signal)
		goto out;
	r.t.created = vmctl_run_now();
	if (json_object_object_get_ex(vm, "state", &v) &&
	    strcmp(json_object_get_string(v), "failed") == 0) {
		rc = vmctl_fail(name, "failed: %s", vmctl_field(vm, "error", b, sizeof(b)));
		goto out;
	}
	vmctl_run_progress(&r, "spawned", name);

	/* One budget for the whole way to a usable guest. */
	r.deadline = deadline = vmctl_run_now() + r.timeout_s;
	rc = vmctl_run_wait_ip(&r, name, deadline, &ipr);
	if (rc == NO_AGENT)
		rc = 0;
	if (rc || vmctl_signal)
		goto out;
	if (r.via == VMCTL_VIA_SSH) {
		/* The status now, with the ssh port, key, known_hosts, address. */
		json_object_put(vm);
		vm = NULL;
		rc = vmctl_run_ssh_status(&r, name, deadline, &vm);
		if (rc || vmctl_signal)
			goto out;
		if (json_object_object_get_ex(vm, "ssh_port", &v) &&
		    (rc = vmctl_run_wait_ssh_banner(&r, name, vmctl_ssh_host(vm),
						    json_object_get_int(v), deadline)) < 0 &&
		    !vmctl_signal) {
			rc = VMCTL_EXIT_ERR;
			goto out;
		}
		rc = 0;
		if (vmctl_signal)
			goto out;
		r.t.banner = vmctl_run_now();
	}
	rc = run_task(&r, name, vm, a.rest, a.nrest, &status);
	r.t.task_end = vmctl_run_now();
out:
	/* an agent wait that ended, ssh's 255: say whether the VM itself died */
	if (rc && created && !vmctl_signal && !r.death_told &&
	    vmctl_vm_dead(&r.g, name, b2, sizeof(b2)))
		vmctl_fail(name, "%s", b2);
	if (created) {
		vmctl_run_progress(&r, "destroying", name);
		destroy(&r, name);
		r.t.destroyed = vmctl_run_now();
	}
	if (r.inproc.pid)
		vmctl_inproc_stop(&r.inproc);
	if (vmctl_signal) {
		rc = 128 + vmctl_signal;
	} else if (!rc) {
		rc = status;
		if (r.progress) {
			snprintf(b, sizeof(b), "%d", status);
			vmctl_run_progress(&r, "done, exit", b);
		}
	}
	if (created)
		write_timing(&r, rc < 0 ? 0 : rc);
	json_object_put(ipr);
	json_object_put(vm);
	json_object_put(r.spec);
	free(r.env);
	return rc < 0 ? 0 : rc;
}
