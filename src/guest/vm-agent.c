#include "src/guest/vm-agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/qemu/argv.h"
#include "src/guest/keys.h"
#include "src/util/log.h"
#include "src/core/supervisor.h"

#define KNOWN_HOSTS "known_hosts"

struct vm_agent {
	struct agent *a;
	struct vm *vm;
	const char *gone; /* set while vm_agent_stop fails the pending requests */
};

/* One supervisor per process (vmsupd, or vmctl's in-process daemon). */
static struct {
	char *path;   /* private key */
	char *pubkey; /* its public line, NULL if unusable */
	char *error;  /* why there is no key */
	char *user;   /* guest_user */
	struct event_base *base;
} keys;

void vm_agent_setup(struct event_base *base, const struct vmsup_config *cfg)
{
	struct qmp_error e;

	vm_agent_teardown();
	keys.base = base;
	keys.user = strdup(cfg->guest_user && *cfg->guest_user ? cfg->guest_user : "root");
	if (cfg->ssh_key)
		keys.path = strdup(cfg->ssh_key);
	else if (asprintf(&keys.path, "%s/id_ed25519", cfg->state_dir) < 0)
		keys.path = NULL;
	if (!keys.path || !keys.user) {
		keys.error = strdup("out of memory");
		return;
	}
	if (keys_ensure(keys.path, NULL, &keys.pubkey, &e)) {
		keys.pubkey = NULL;
		if (asprintf(&keys.error, "ssh key %s: %s", keys.path, e.desc) < 0)
			keys.error = NULL;
		/* the agent still gives addresses and exec without a key */
		LOG_W(NULL, "%s: guests get no key injected",
		      keys.error ? keys.error : "ssh key unusable");
		return;
	}
	LOG_I(NULL, "ssh key %s (pushed into guests for user %s)", keys.path, keys.user);
}

void vm_agent_teardown(void)
{
	free(keys.path);
	free(keys.pubkey);
	free(keys.error);
	free(keys.user);
	memset(&keys, 0, sizeof(keys));
}

static struct vm_agent *va_of(const struct vm *vm)
{
	return vm ? vm->agent : NULL;
}

struct agent *vm_agent_of(const struct vm *vm)
{
	struct vm_agent *va = va_of(vm);

	return va ? va->a : NULL;
}

const char *vm_agent_gone_reason(const struct vm *vm)
{
	struct vm_agent *va = va_of(vm);

	return va ? va->gone : NULL;
}

static const char *cached_ip(struct agent *a)
{
	struct json_object *info = a ? agent_ip_cached(a) : NULL, *v;

	if (info && json_object_object_get_ex(info, "ip", &v) &&
	    json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

static struct json_object *str_or_null(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* One "agent" event per change, so `vmctl events` and waiters see it. */
static void emit_agent(struct vm *vm, struct agent *a)
{
	struct json_object *ev = json_object_new_object();

	json_object_object_add(ev, "vm", json_object_new_string(vm->spec.name));
	json_object_object_add(ev, "type", json_object_new_string("agent"));
	json_object_object_add(ev, "agent",
			       json_object_new_string(vm_agent_state_name(vm->agent_state)));
	json_object_object_add(ev, "agent_version", str_or_null(a ? agent_version(a) : NULL));
	json_object_object_add(ev, "ip", str_or_null(cached_ip(a)));
	vmsup_emit(vm->sup, vm, ev);
}

static void on_state(struct agent *a, enum agent_state st, void *arg)
{
	struct vm_agent *va = arg;
	struct vm *vm = va->vm;

	vm_status_changed(vm); /* agent, agent_version */
	vm->agent_state = st == AGENT_READY	   ? VM_AGENT_READY
			  : st == AGENT_CONNECTING ? VM_AGENT_CONNECTING
						   : VM_AGENT_ABSENT;
	if (st == AGENT_READY)
		vm->agent_seen = true; /* a stop may ask the guest (src/core/stop.c) */
	LOG_I(vm->spec.name, "guest agent %s%s%s", agent_state_name(st),
	      st == AGENT_READY && agent_version(a) ? ", version " : "",
	      st == AGENT_READY && agent_version(a) ? agent_version(a) : "");
	emit_agent(vm, a);
}

static void on_ip(struct agent *a, struct json_object *ipinfo, void *arg)
{
	struct vm_agent *va = arg;

	(void)ipinfo;
	vm_status_changed(va->vm);
	LOG_D(va->vm->spec.name, "guest address %s", cached_ip(a) ? cached_ip(a) : "unknown");
	emit_agent(va->vm, a);
}

/* Asked after the address (agent.c): its own event, as the state's had none. */
static void on_version(struct agent *a, const char *version, void *arg)
{
	struct vm_agent *va = arg;

	LOG_I(va->vm->spec.name, "guest agent version %s", version ? version : "unknown");
	vm_status_changed(va->vm); /* agent_version */
	emit_agent(va->vm, a);
}

static void on_key(struct agent *a, void *arg)
{
	struct vm_agent *va = arg;

	vm_status_changed(va->vm); /* agent_key_error */
}

static char *known_hosts_path(const struct vm *vm)
{
	char *p;

	if (!vm->run_dir || asprintf(&p, "%s/" KNOWN_HOSTS, vm->run_dir) < 0)
		return NULL;
	return p;
}

void vm_agent_start(struct vm *vm)
{
	static const struct agent_callbacks cb = {on_state, on_ip, on_version, on_key};
	struct agent_config cfg = {0};
	struct vm_agent *va;
	char *kh;

	if (!vm->spec.kernel && !vm->spec.disk)
		return; /* guest-less: nobody will open the port */
	vm_agent_stop(vm, false);
	/* a new qemu is a new boot, usually with a new host key: pin afresh
	 * (not when reattaching to a qemu that kept running: same boot) */
	if (vm->state == VM_STARTING && (kh = known_hosts_path(vm))) {
		if (unlink(kh) < 0 && errno != ENOENT)
			LOG_W(vm->spec.name, "unlink %s: %s", kh, strerror(errno));
		free(kh);
	}
	if (!(va = calloc(1, sizeof(*va)))) {
		LOG_E(vm->spec.name, "guest agent: out of memory");
		return;
	}
	va->vm = vm;
	cfg.user = keys.user;
	cfg.pubkey = keys.pubkey;
	cfg.port_id = VM_AGENT_PORT_ID;
	/* on a bridge the VM's own NIC is how it is reached: no other's address */
	cfg.mac_only = vm->spec.net.bridge;
	va->a = keys.base ? agent_new(keys.base, vm->qga_sock, vm->mac, &cfg, &cb, va) : NULL;
	if (!va->a) {
		LOG_E(vm->spec.name, "guest agent: cannot set up for %s", vm->qga_sock);
		free(va);
		return;
	}
	vm->agent = va;
	vm_status_changed(vm);
}

void vm_agent_port(struct vm *vm, bool open)
{
	struct agent *a = vm_agent_of(vm);

	/* the guest's agent opened its port: a userland runs that will
	 * answer a power-off (src/core/stop.c) */
	if (open)
		vm->agent_seen = true;
	if (a)
		agent_port_event(a, open);
}

void vm_agent_event(struct vm *vm, const char *event, struct json_object *data)
{
	struct agent *a = vm_agent_of(vm);

	/* the port hook already handled VSERPORT_CHANGE: feeding it twice would
	 * look like a second open and restart a ready agent */
	if (a && strcmp(event, "VSERPORT_CHANGE") != 0)
		agent_qmp_event(a, event, data);
}

void vm_agent_stop(struct vm *vm, bool destroyed)
{
	struct vm_agent *va = va_of(vm);
	bool was_absent = vm->agent_state == VM_AGENT_ABSENT;

	vm->agent_state = VM_AGENT_ABSENT;
	vm_status_changed(vm);
	if (!va)
		return;
	/* pending requests are answered inside agent_free: they ask why */
	va->gone = destroyed || vm->destroying ? "destroyed" : "exited";
	agent_free(va->a);
	vm->agent = NULL;
	free(va);
	if (!was_absent && !destroyed)
		emit_agent(vm, NULL);
}

void vm_agent_status(const struct vm *vm, struct json_object *o)
{
	struct agent *a = vm_agent_of(vm);
	const char *kerr = keys.error ? keys.error : a ? agent_key_error(a) : NULL;
	char *kh = known_hosts_path(vm);

	json_object_object_add(o, "agent",
			       json_object_new_string(vm_agent_state_name(vm->agent_state)));
	json_object_object_add(o, "agent_version", str_or_null(a ? agent_version(a) : NULL));
	json_object_object_add(o, "agent_key_error", str_or_null(kerr));
	json_object_object_add(o, "ip", str_or_null(cached_ip(a)));
	json_object_object_add(o, "ssh_key", str_or_null(keys.pubkey ? keys.path : NULL));
	json_object_object_add(o, "known_hosts", str_or_null(kh));
	json_object_object_add(o, "guest_user", str_or_null(keys.user));
	free(kh);
}

/* ---- the module table the daemon registers (no ctx) ---- */

#define AGENT_PROBE_MS 60000 /* an adopted guest may be busy after our absence */

/* A VM rebuilt from its state file whose qemu may still run: its agent
 * (a socket of its own, not QMP) is asked at once, so that an ip?wait or an
 * exec right after a daemon restart waits for it instead of a 503 while the
 * QMP session is not back yet. A qemu found gone stops it again (exited). */
static void mod_restore(void *ctx, struct vm *vm, struct json_object *state)
{
	if (vm->state == VM_RUNNING || vm->state == VM_PAUSED)
		vm_agent_start(vm);
}

static void mod_qmp_ready(void *ctx, struct vm *vm)
{
	struct agent *a;

	/* an adopted VM's agent, started at restore, keeps its waiters */
	if (!vm->adopted || !vm_agent_of(vm))
		vm_agent_start(vm);
	/* a VM adopted from an earlier daemon: its agent port may have been
	 * open for long, so no VSERPORT_CHANGE will come */
	if (vm->adopted && (a = vm_agent_of(vm)))
		agent_probe(a, AGENT_PROBE_MS);
}

static void mod_qmp_event(void *ctx, struct vm *vm, const char *event, struct json_object *data)
{
	struct json_object *id, *open;

	/* qemu names the port by its device id (set in argv.c) */
	if (!strcmp(event, "VSERPORT_CHANGE") && data &&
	    json_object_object_get_ex(data, "open", &open) &&
	    json_object_object_get_ex(data, "id", &id) &&
	    !strcmp(json_object_get_string(id), VM_AGENT_PORT_ID)) {
		bool o = json_object_get_boolean(open);
		LOG_I(vm->spec.name, "guest agent port %s", o ? "opened" : "closed");
		vm_agent_port(vm, o);
	}
	vm_agent_event(vm, event, data);
}

static void mod_exited(void *ctx, struct vm *vm)
{
	vm_agent_stop(vm, false);
}

static void mod_destroyed(void *ctx, struct vm *vm)
{
	vm_agent_stop(vm, true);
}

static void mod_status(void *ctx, const struct vm *vm, struct json_object *o)
{
	vm_agent_status(vm, o);
}

const struct vm_module vm_agent_module = {
    .name = "agent",
    .restore = mod_restore,
    .qmp_ready = mod_qmp_ready,
    .qmp_event = mod_qmp_event,
    .exited = mod_exited,
    .destroyed = mod_destroyed,
    .status = mod_status,
};
