/* vmctl exec: a command in a guest over ssh (streaming) or the agent. */
#include "config.h"

#include "src/cli/vmctl-exec.h"
#include "src/util/b64.h"
#include "src/util/bounds.h"
#include "src/util/fdio.h"
#include "src/cli/vmctl-shell.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_SSH_KEY LOCALSTATEDIR "/lib/vmsupd/id_ed25519"

int vmctl_via_parse(const char *s)
{
	if (strcmp(s, "ssh") == 0)
		return VMCTL_VIA_SSH;
	if (strcmp(s, "agent") == 0)
		return VMCTL_VIA_AGENT;
	return -1;
}

static const char *str_field(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (o && json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* ~/.cache/vmctl/NAME.known_hosts, the directories made 0700. */
static char *cache_known_hosts(const char *name)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *dir = NULL, *path = NULL;

	if (xdg && *xdg) {
		if (asprintf(&dir, "%s/vmctl", xdg) < 0)
			return NULL;
	} else if (home && *home) {
		char *cache = NULL;

		if (asprintf(&cache, "%s/.cache", home) < 0)
			return NULL;
		mkdir(cache, 0700);
		if (asprintf(&dir, "%s/vmctl", cache) < 0)
			dir = NULL;
		free(cache);
		if (!dir)
			return NULL;
	} else {
		return NULL;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		free(dir);
		return NULL;
	}
	if (asprintf(&path, "%s/%s.known_hosts", dir, name) < 0)
		path = NULL;
	free(dir);
	return path;
}

const char *vmctl_ssh_host(struct json_object *vm)
{
	const char *mode = str_field(vm, "net_mode");

	return mode && !strcmp(mode, "bridge") ? str_field(vm, "ip") : "127.0.0.1";
}

int vmctl_exec_ssh(const char *name, struct json_object *vm, const struct vmctl_ssh_opts *o,
		   const char *remote, int *status)
{
	struct vmctl_ssh s = {0};
	struct json_object *v;
	char *kh = NULL, *alias = NULL, **argv = NULL;
	const char *env_key = getenv("VMSUP_SSH_KEY");
	int rc = VMCTL_EXIT_ERR;

	if (json_object_object_get_ex(vm, "net_mode", &v) &&
	    !strcmp(json_object_get_string(v), "none"))
		return vmctl_fail(name, "the VM has no network (net mode none): no ssh; use "
					"--via agent");
	if (!json_object_object_get_ex(vm, "ssh_port", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int64(v) <= 0 ||
	    json_object_get_int64(v) > 65535)
		return vmctl_fail(name, "the VM has no ssh port (try --via agent)");
	s.port = json_object_get_int64(v);
	if (!(s.host = vmctl_ssh_host(vm)))
		return vmctl_fail(name,
				  "the VM has no address on its bridge yet (vmctl ip %s "
				  "--wait S)",
				  name);
	s.key = o->key			   ? o->key
		: env_key && *env_key	   ? env_key
		: str_field(vm, "ssh_key") ? str_field(vm, "ssh_key")
					   : DEFAULT_SSH_KEY;
	if (access(s.key, R_OK) < 0) {
		rc = vmctl_fail(name, "ssh key %s: %s", s.key, strerror(errno));
		goto out;
	}
	s.known_hosts = o->known_hosts ? o->known_hosts : str_field(vm, "known_hosts");
	if (!s.known_hosts) {
		kh = cache_known_hosts(name);
		if (!kh) {
			rc = vmctl_fail(name, "no place for a known_hosts file (set HOME)");
			goto out;
		}
		s.known_hosts = kh;
	}
	/* The key is pinned to this VM incarnation, not to 127.0.0.1:port,
	 * which other VMs reuse; a VM re-created under the same name gets a
	 * fresh entry instead of a "host key changed" refusal. */
	json_object_object_get_ex(vm, "created", &v);
	if (asprintf(&alias, "vmsup-%s-%s", name,
		     v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "0") < 0) {
		alias = NULL;
		rc = vmctl_fail(name, "out of memory");
		goto out;
	}
	s.host_alias = alias;
	s.user = str_field(vm, "guest_user") ? str_field(vm, "guest_user") : "root";
	s.remote = remote;
	s.tty = o->tty;
	argv = vmctl_ssh_argv(&s);
	if (!argv) {
		rc = vmctl_fail(name, "out of memory");
		goto out;
	}
	if (o->probe_err >= 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);

		*status = null < 0 ? -1 : vmctl_spawn_wait_io(argv, null, null, o->probe_err);
		if (null >= 0)
			close(null);
	} else {
		*status = vmctl_spawn_wait(argv);
	}
	if (*status < 0) {
		rc = vmctl_fail(name, "cannot run ssh: %s", strerror(errno));
		goto out;
	}
	if (*status == 255 && o->probe_err < 0 && !vmctl_signal)
		vmctl_fail(name, "ssh to %s:%ld failed (status 255)", s.host, s.port);
	rc = 0;
out:
	vmctl_ssh_argv_free(argv);
	free(alias);
	free(kh);
	return rc;
}

static int emit(const char *name, struct json_object *r, const char *key, int fd)
{
	const char *b64 = str_field(r, key);
	unsigned char *out;
	size_t n;
	int rc;

	if (!b64 || !*b64)
		return 0;
	out = b64_decode(b64, strlen(b64), &n);
	if (!out)
		return vmctl_fail(name, "agent reply: %s is not base64", key);
	rc = vmsup_write_all(fd, out, n);
	free(out);
	return rc < 0 ? vmctl_fail(name, "writing output: %s", strerror(errno)) : 0;
}

/* All of fd, base64 in the body's input_b64; 0, or an exit status after
 * saying why (too much input for one guest-exec). */
static int add_input(const char *name, int fd, struct json_object *body)
{
	size_t cap = VMSUP_EXEC_INPUT_MAX + 1, n = 0;
	unsigned char *buf = malloc(cap);
	char *b64;
	ssize_t r;

	if (!buf)
		return vmctl_fail(name, "out of memory");
	/* one byte past the limit tells "too much" from "exactly the limit" */
	while (n < cap && ((r = read(fd, buf + n, cap - n)) > 0 || (r < 0 && errno == EINTR)))
		n += r > 0 ? (size_t)r : 0;
	if (r < 0) {
		free(buf);
		return vmctl_fail(name, "reading stdin: %s", strerror(errno));
	}
	if (n > VMSUP_EXEC_INPUT_MAX) {
		free(buf);
		return vmctl_fail(name,
				  "stdin over the agent is limited to %u bytes (use --via ssh)",
				  VMSUP_EXEC_INPUT_MAX);
	}
	b64 = b64_encode(buf, n);
	free(buf);
	if (!b64)
		return vmctl_fail(name, "out of memory");
	json_object_object_add(body, "input_b64", json_object_new_string(b64));
	free(b64);
	return 0;
}

int vmctl_exec_agent(const struct vmctl *g, const char *name, char *const *argv, size_t argc,
		     int in_fd, int *status)
{
	struct json_object *body = json_object_new_object(), *args = json_object_new_array(),
			   *r = NULL, *v;
	char path[160];
	size_t i;
	int rc;

	for (i = 0; i < argc; i++)
		json_object_array_add(args, json_object_new_string(argv[i]));
	json_object_object_add(body, "argv", args);
	if (in_fd >= 0 && (rc = add_input(name, in_fd, body)))
		goto out;
	snprintf(path, sizeof(path), "/v1/vms/%s/exec", name);
	rc = vmctl_call(g, name, "POST", path, body, 0, &r, NULL);
	if (rc)
		goto out;
	fflush(stdout);
	rc = emit(name, r, "stdout_b64", STDOUT_FILENO);
	if (!rc)
		rc = emit(name, r, "stderr_b64", STDERR_FILENO);
	if (rc)
		goto out;
	if (json_object_object_get_ex(r, "signal", &v) && json_object_get_int(v) > 0)
		*status = 128 + json_object_get_int(v);
	else if (json_object_object_get_ex(r, "exitcode", &v) &&
		 json_object_is_type(v, json_type_int))
		*status = json_object_get_int(v) & 0xff;
	else
		rc = vmctl_fail(name, "agent reply has no exit code");
out:
	json_object_put(r);
	json_object_put(body);
	return rc;
}

/* The daemon's 409 for exec, told from a status object before any ssh:
 * 0, or an exit status after printing. */
static int exec_refusal(const char *name, struct json_object *vm)
{
	struct json_object *v;
	const char *state = str_field(vm, "state");

	if (json_object_object_get_ex(vm, "guest", &v) &&
	    json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v))
		return vmctl_fail(name, "the VM has no guest OS (no kernel or disk): "
					"nothing to exec in");
	if (state && !strcmp(state, "paused"))
		return vmctl_fail(name, "the VM is paused: resume it first");
	if (state && strcmp(state, "running") && strcmp(state, "starting"))
		return vmctl_fail(name, "the VM is %s: exec needs a running guest", state);
	return 0;
}

enum { OPT_VIA = VMCTL_OPT_FIRST_FREE, OPT_KEY };

struct exec_ctx {
	int via;
	const char *key;
	int in, tty; /* -i, -t */
};

static int exec_opt(const char *cmd, int opt, const char *arg, void *ctx)
{
	struct exec_ctx *c = ctx;

	if (opt == OPT_VIA) {
		c->via = vmctl_via_parse(arg);
		if (c->via < 0)
			return vmctl_usage_error(cmd, "--via: '%s' is not ssh or agent", arg);
		return 0;
	}
	if (opt == OPT_KEY) {
		c->key = arg;
		return 0;
	}
	if (opt == 'i' || opt == 't') {
		*(opt == 'i' ? &c->in : &c->tty) = 1;
		return 0;
	}
	return VMCTL_EXIT_USAGE;
}

int vmctl_cmd_exec(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {{"via", required_argument, NULL, OPT_VIA},
					   {"ssh-key", required_argument, NULL, OPT_KEY},
					   {"interactive", no_argument, NULL, 'i'},
					   {"tty", no_argument, NULL, 't'},
					   {"help", no_argument, NULL, 'h'},
					   {0}};
	struct exec_ctx c = {VMCTL_VIA_DEFAULT, NULL, 0, 0};
	struct json_object *vm = NULL, *v;
	struct vmctl_ssh_opts so = {.probe_err = -1};
	struct vmctl_args a;
	char why[600], *cmd = NULL, *remote = NULL;
	int rc, status = 0;

	rc = vmctl_parse_name("exec", argc, argv, "hit", lo, exec_opt, &c, 1, 1, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (a.nrest < 1)
		return vmctl_usage_error("exec", "missing the command (after --)");
	/* guest-exec runs its command without a terminal */
	if (c.tty && c.via == VMCTL_VIA_AGENT)
		return vmctl_usage_error("exec", "-t needs ssh: the agent has no terminal");
	if (c.via == VMCTL_VIA_AGENT) {
		rc = vmctl_exec_agent(g, a.pos[0], a.rest, a.nrest, c.in ? STDIN_FILENO : -1,
				      &status);
		return rc ? rc : status;
	}
	rc = vmctl_get_vm(g, a.pos[0], NULL, &vm);
	if (rc)
		return rc;
	/* say at once why ssh cannot work rather than wait for its banner */
	if ((rc = exec_refusal(a.pos[0], vm)))
		goto out;
	if (c.via == VMCTL_VIA_DEFAULT &&
	    !(json_object_object_get_ex(vm, "ssh_port", &v) && json_object_get_int(v) > 0)) {
		json_object_put(vm);
		if (c.tty)
			return vmctl_fail(a.pos[0], "-t needs ssh and the VM has no ssh port");
		rc = vmctl_exec_agent(g, a.pos[0], a.rest, a.nrest, c.in ? STDIN_FILENO : -1,
				      &status);
		return rc ? rc : status;
	}
	cmd = vmctl_shell_join(a.rest, a.nrest);
	/* "; exit $?": the remote shell then cannot exec the command in its
	 * place, so a signal death arrives as 128+N, not as ssh's 255. */
	if (!cmd || asprintf(&remote, "%s; exit $?", cmd) < 0) {
		remote = NULL;
		rc = vmctl_fail(a.pos[0], "out of memory");
		goto out;
	}
	so.key = c.key;
	so.tty = c.tty;
	vmctl_catch_signals();
	/* an address from the agent does not mean sshd is up yet */
	if (json_object_object_get_ex(vm, "ssh_port", &v) &&
	    (rc = vmctl_ssh_wait_banner(g, a.pos[0], vmctl_ssh_host(vm), json_object_get_int(v),
					VMCTL_SSH_WAIT_S, why, sizeof(why)))) {
		rc = vmctl_signal ? 130 : vmctl_fail(a.pos[0], "%s", why);
		goto out;
	}
	rc = vmctl_exec_ssh(a.pos[0], vm, &so, remote, &status);
	/* ssh's 255: say whether the VM itself died */
	if (rc && !vmctl_signal && vmctl_vm_dead(g, a.pos[0], why, sizeof(why)))
		vmctl_fail(a.pos[0], "%s", why);
out:
	free(remote);
	free(cmd);
	json_object_put(vm);
	return rc ? rc : status;
}
