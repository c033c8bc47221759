/*
 * The guest agent wired into the supervisor: one struct agent per running
 * VM (src/guest/agent.h), the supervisor's ssh key, and the agent's part of the
 * VM status. Called from the lifecycle hooks (src/core/hooks.c) and the API's
 * guest routes (src/daemon/api-guest.c); everything runs on the supervisor's loop.
 */
#ifndef VMSUP_VM_AGENT_H
#define VMSUP_VM_AGENT_H

#include <stdbool.h>

#include <event2/event.h>
#include <json-c/json.h>

#include "src/guest/agent.h"
#include "src/qemu/config.h"
#include "src/core/module.h"
#include "src/core/vm.h"

/*
 * At daemon start (base: the supervisor's loop): make sure cfg->ssh_key exists (generated once with
 * ssh-keygen when missing) and remember its public half for injection.
 * A failure is not fatal: it is logged, kept for every VM's status
 * (agent_key_error) and the agent then runs without key injection.
 */
void vm_agent_setup(struct event_base *base, const struct vmsup_config *cfg);
void vm_agent_teardown(void);

/* QMP is up (qemu still -S): connect the agent once the guest opens its port. */
void vm_agent_start(struct vm *vm);
/* VSERPORT_CHANGE for the agent's port. */
void vm_agent_port(struct vm *vm, bool open);
/* Every other QMP event (RESET, RESUME refresh the cached address). */
void vm_agent_event(struct vm *vm, const char *event, struct json_object *data);

/*
 * The process exited (destroyed = false) or the VM is being removed:
 * pending ip/exec requests fail (see vm_agent_gone_reason) and the agent
 * is freed.
 */
void vm_agent_stop(struct vm *vm, bool destroyed);

/* The VM's agent, or NULL when no qemu process runs. */
struct agent *vm_agent_of(const struct vm *vm);

/*
 * While vm_agent_stop runs (pending callbacks fire inside it): "destroyed"
 * or "exited"; NULL otherwise.
 */
const char *vm_agent_gone_reason(const struct vm *vm);

/*
 * Add the agent's status fields to a VM object: agent, agent_version,
 * agent_key_error, ip, ssh_key, known_hosts, guest_user.
 */
void vm_agent_status(const struct vm *vm, struct json_object *o);

/* The module the daemon registers (ctx NULL), after the limits module. */
extern const struct vm_module vm_agent_module;

#endif
