/*
 * vmctl run: one task in a fresh VM. create → wait for the address → run
 * the rendered launcher (ssh `sh -c SCRIPT`, so the task keeps our stdin)
 * → destroy, whatever happened in between, and exit with the task's status.
 */
#include "config.h"

#include "src/client/client.h"
#include "src/cli/vmctl-exec.h"
#include "src/cli/vmctl-inproc.h"
#include "src/cli/vmctl-launcher.h"
#include "src/cli/vmctl-shell.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

struct run {
	struct vmctl g; /* the caller's, with sock possibly the private one */
	struct json_object *spec;
	const char *workdir, *key, *name;
	char **env;
	size_t nenv;
	int via;
	long timeout_s;
	int pool;	/* --pool: take a VM from the daemon's warm pool */
	int pool_hit;	/* ... and got a paused one, its sshd long up */
	int death_told; /* the VM's death is reported */
	int progress;
	double t0, wall0;
	double deadline; /* for the guest to become usable */
	struct {	 /* phase ends (monotonic); 0 = not reached */
		double supervisor, created, ip, banner, sshd, task_start, task_end, destroyed;
	} t;
	struct vmctl_inproc inproc; /* pid 0: a daemon serves us */
	int inproc_used;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void progress(struct run *r, const char *what, const char *arg)
{
	if (r->progress)
		fprintf(stderr, "vmctl run: %6.1fs %s %s\n", now() - r->t0, what, arg);
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
	progress(r, "supervisor", "in-process (no daemon)");
	return 0;
}

/*
 * The VM died while we wait for its guest (qemu crashed, OOM-killed,
 * destroyed by someone else): say why, once, and stop waiting. Asked at
 * most every half second, so a dead VM is noticed within a second.
 */
static int vm_died(struct run *r, const char *name, double *next_check)
{
	char why[600];

	if (now() < *next_check)
		return 0;
	*next_check = now() + 0.5;
	if (!vmctl_vm_dead(&r->g, name, why, sizeof(why)))
		return 0;
	vmctl_fail(name, "%s", why);
	r->death_told = 1;
	return 1;
}

/* sshd answering on the forwarded port: its banner, not just qemu's
 * listener (which accepts before anything runs in the guest). -1 when it
 * never came, -2 when the VM died (already reported). */
static int wait_ssh_banner(struct run *r, const char *name, long port, double deadline)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	double check = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (!vmctl_signal && now() < deadline) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		char buf[8] = "";
		int ok = 0;

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};

			if (poll(&p, 1, 2000) == 1 && read(fd, buf, 4) == 4 &&
			    memcmp(buf, "SSH-", 4) == 0)
				ok = 1;
		}
		close(fd);
		if (ok)
			return 0;
		if (vm_died(r, name, &check))
			return -2;
		poll(NULL, 0, 100);
	}
	return -1;
}

/* Kill then delete: the VM is disposable, a graceful stop only costs time. */
static void destroy(struct run *r, const char *name)
{
	struct json_object *reply = NULL;
	char path[160], *err = NULL;
	long status = 0;
	int i;

	vmsup_client_set_abort_flag(NULL);
	snprintf(path, sizeof(path), "/v1/vms/%s/kill", name);
	if (vmsup_request(r->g.sock, "POST", path, NULL, 30000, &status, &reply, &err) < 0)
		free(err);
	json_object_put(reply);
	snprintf(path, sizeof(path), "/v1/vms/%s?timeout=1", name);
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

/*
 * A session that logs in and runs `true` before the task's: an sshd that
 * answers its banner may still drop connections (a guest generating its
 * host key, the agent still pushing ours), and the task's own session
 * cannot be retried, as its command may have run. Retried until the
 * deadline; the last failure's message is reported.
 */
static int ssh_ready(struct run *r, const char *name, struct json_object *vm, const char *dir,
		     const char *kh)
{
	char *errpath = NULL, line[512] = "", last[512] = "";
	int fd = -1, status = 255, rc = VMCTL_EXIT_ERR, tries = 0;
	double check = 0;
	FILE *f;

	if (asprintf(&errpath, "%s/ssh-probe.err", dir) < 0)
		return vmctl_fail(name, "out of memory");
	while (!vmctl_signal) {
		struct vmctl_ssh_opts so = {.key = r->key, .known_hosts = kh};

		fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = vmctl_fail(name, "%s: %s", errpath, strerror(errno));
			goto out;
		}
		so.probe_err = fd;
		rc = vmctl_exec_ssh(name, vm, &so, "true", &status);
		close(fd);
		tries++;
		if (rc)
			goto out;
		if (status == 0)
			break;
		if (vm_died(r, name, &check)) {
			rc = VMCTL_EXIT_ERR;
			goto out;
		}
		if (now() >= r->deadline) {
			if ((f = fopen(errpath, "re"))) {
				while (fgets(line, sizeof(line), f))
					if (line[strspn(line, " \t\r\n")])
						memcpy(last, line, sizeof(last));
				fclose(f);
			}
			last[strcspn(last, "\r\n")] = '\0';
			rc = vmctl_fail(name, "ssh into the guest failed %d times, last: %s", tries,
					*last ? last : "no message");
			goto out;
		}
		poll(NULL, 0, 500);
	}
	r->t.sshd = now();
	if (tries > 1) {
		snprintf(line, sizeof(line), "after %d tries", tries);
		progress(r, "ssh ready", line);
	} else {
		progress(r, "ssh ready", "");
	}
	rc = 0;
out:
	free(errpath);
	return rc;
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
		r->t.task_start = now();
		progress(r, "running", cmd[0]);
		char *argv[] = {"sh", "-c", script, "vm-launcher", NULL};

		rc = vmctl_exec_agent(&r->g, name, argv, 4, status);
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
	rc = r->pool_hit ? 0 : ssh_ready(r, name, vm, khdir, kh);
	if (rc || vmctl_signal)
		goto out;
	r->t.task_start = now();
	progress(r, "running", cmd[0]);
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

/*
 * The guest's address through the agent. A daemon without the agent
 * (503 AgentNotReady or 501 at once, not after the wait) still lets ssh
 * proceed on the forwarded port: NO_AGENT = go on without an address.
 * Else 0, or an exit status after printing.
 */
#define NO_AGENT (-2)
static int wait_ip(struct run *r, const char *name, double deadline, struct json_object **ipr)
{
	char path[160], *err = NULL, b[64];
	long status = 0, left = (long)(deadline - now()) + 1;
	double t = now();
	int rc;

	snprintf(path, sizeof(path), "/v1/vms/%s/ip?wait=%ld", name, left > 1 ? left : 1);
	rc = vmsup_request(r->g.sock, "GET", path, NULL, (left + 30) * 1000, &status, ipr, &err);
	if (rc < 0) {
		rc = vmctl_fail(name, "%s", err);
		free(err);
		return rc;
	}
	if (status >= 200 && status <= 299) {
		r->t.ip = now();
		progress(r, "agent ready, address", vmctl_field(*ipr, "ip", b, sizeof(b)));
		return 0;
	}
	if (r->via == VMCTL_VIA_SSH && (status == 501 || status == 503) && now() - t < 1.0 &&
	    left > 2) {
		progress(r, "no guest agent, waiting for ssh:", vmsup_error_desc(*ipr, status));
		json_object_put(*ipr);
		*ipr = NULL;
		return NO_AGENT;
	}
	rc = vmctl_fail(name, "%s", vmsup_error_desc(*ipr, status));
	json_object_put(*ipr);
	*ipr = NULL;
	return rc;
}

/*
 * --pool: the take request from the spec options: --mem becomes the balloon
 * target, --cpus N a quota of N CPUs; any other option would need other
 * devices than the pool's template has. 0, or an exit status.
 */
static int pool_request(struct run *r, struct json_object **out)
{
	struct json_object *b = json_object_new_object();

	json_object_object_foreach(r->spec, k, v)
	{
		if (!strcmp(k, "mem_mib")) {
			json_object_object_add(b, "mem_mib", json_object_get(v));
		} else if (!strcmp(k, "cpus")) {
			json_object_object_add(
			    b, "quota_pct", json_object_new_int64(json_object_get_int64(v) * 100));
		} else if (!strcmp(k, "shares")) {
			/* bound into the pool VM's staging export at take time */
			json_object_object_add(b, "shares", json_object_get(v));
		} else {
			json_object_put(b);
			return vmctl_usage_error("run", "--pool: a pool VM has its template's "
							"devices; only --mem, --cpus and one "
							"--share apply");
		}
	}
	*out = b;
	return 0;
}

/* POST /v1/pool/take; name gets the VM's (the daemon names pool VMs). */
static int take_from_pool(struct run *r, char *name, size_t len, struct json_object **vm,
			  long *http)
{
	struct json_object *b = NULL, *v, *hit;
	int rc = pool_request(r, &b);

	if (rc)
		return rc;
	rc = vmctl_call(&r->g, "pool", "POST", "/v1/pool/take", b, 0, vm, http);
	json_object_put(b);
	if (rc)
		return rc;
	if (!json_object_object_get_ex(*vm, "name", &v) ||
	    !json_object_is_type(v, json_type_string))
		return vmctl_fail("pool", "the daemon's reply names no VM");
	snprintf(name, len, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(*vm, "pool", &v) &&
	    json_object_object_get_ex(v, "hit", &hit)) {
		r->pool_hit = json_object_get_boolean(hit);
		progress(r,
			 r->pool_hit ? "taken from the warm pool"
				     : "pool empty, restored from its template",
			 name);
	}
	return 0;
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
		T(r->t.sshd), T(r->t.task_start), T(r->t.task_end), T(r->t.destroyed), T(now()),
		r->inproc_used ? "true" : "false", status);
#undef T
	fclose(f);
}

int vmctl_cmd_run(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {VMCTL_SPEC_LONGOPTS,
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
	char name[64], path[160], b[64], b2[600];
	int rc, status = 0, created = 0;
	double deadline;
	long http = 0;

	r.t0 = now();
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
			rnd = (unsigned)(now() * 1e6);
		if (fd >= 0)
			close(fd);
		snprintf(name, sizeof(name), "vmctl-run-%ld-%04x", (long)getpid(), rnd & 0xffff);
	}
	vmctl_catch_signals();
	vmsup_client_set_abort_flag(&vmctl_signal);
	rc = run_socket(&r, name);
	if (rc || vmctl_signal)
		goto out;
	r.t.supervisor = now();

	if (r.pool) {
		rc = take_from_pool(&r, name, sizeof(name), &vm, &http);
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
	r.t.created = now();
	if (json_object_object_get_ex(vm, "state", &v) &&
	    strcmp(json_object_get_string(v), "failed") == 0) {
		rc = vmctl_fail(name, "failed: %s", vmctl_field(vm, "error", b, sizeof(b)));
		goto out;
	}
	progress(&r, "spawned", name);

	/* One budget for the whole way to a usable guest. */
	r.deadline = deadline = now() + r.timeout_s;
	rc = wait_ip(&r, name, deadline, &ipr);
	if (rc == NO_AGENT)
		rc = 0;
	if (rc || vmctl_signal)
		goto out;
	if (r.via == VMCTL_VIA_SSH) {
		/* The status now, with the ssh port, key and known_hosts. */
		json_object_put(vm);
		vm = NULL;
		snprintf(path, sizeof(path), "/v1/vms/%s", name);
		rc = vmctl_call(&r.g, name, "GET", path, NULL, 30000, &vm, NULL);
		if (rc || vmctl_signal)
			goto out;
		if (json_object_object_get_ex(vm, "ssh_port", &v) &&
		    (rc = wait_ssh_banner(&r, name, json_object_get_int(v), deadline)) < 0 &&
		    !vmctl_signal) {
			if (rc == -1)
				vmctl_fail(name, "no ssh server answers in the guest");
			rc = VMCTL_EXIT_ERR;
			goto out;
		}
		rc = 0;
		if (vmctl_signal)
			goto out;
		r.t.banner = now();
	}
	rc = run_task(&r, name, vm, a.rest, a.nrest, &status);
	r.t.task_end = now();
out:
	/* an agent wait that ended, ssh's 255: say whether the VM itself died */
	if (rc && created && !vmctl_signal && !r.death_told &&
	    vmctl_vm_dead(&r.g, name, b2, sizeof(b2)))
		vmctl_fail(name, "%s", b2);
	if (created) {
		progress(&r, "destroying", name);
		destroy(&r, name);
		r.t.destroyed = now();
	}
	if (r.inproc.pid)
		vmctl_inproc_stop(&r.inproc);
	if (vmctl_signal) {
		rc = 128 + vmctl_signal;
	} else if (!rc) {
		rc = status;
		if (r.progress) {
			snprintf(b, sizeof(b), "%d", status);
			progress(&r, "done, exit", b);
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
