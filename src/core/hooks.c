#include "src/core/hooks.h"

#include "src/util/log.h"
#include "src/guest/vm-agent.h"
#include "src/core/supervisor.h"
#include "src/limits/vm-limits.h"
#include "src/snapshot/vm-template.h"

int vmsup_hook_spawned(struct vm *vm, char **err)
{
	LOG_D(vm->spec.name, "spawned pid %d", (int)vm->pid);
	return vm_limits_spawned(vmsup_limits(vm->sup), vm, err);
}

void vmsup_hook_qmp_ready(struct vm *vm)
{
	LOG_D(vm->spec.name, "QMP ready");
	vm_agent_start(vm);
	vm_limits_qmp_ready(vmsup_limits(vm->sup), vm);
	vm_template_qmp_ready(vm);
}

void vmsup_hook_agent_port(struct vm *vm, bool open)
{
	LOG_I(vm->spec.name, "guest agent port %s", open ? "opened" : "closed");
	vm_agent_port(vm, open);
}

void vmsup_hook_qmp_event(struct vm *vm, const char *event, struct json_object *data)
{
	vm_agent_event(vm, event, data);
	vm_limits_qmp_event(vmsup_limits(vm->sup), vm, event, data);
}

void vmsup_hook_exited(struct vm *vm)
{
	/* first: a refresh in flight must not outlive the agent */
	vm_template_exited(vm);
	vm_agent_stop(vm, false);
	vm_limits_exited(vmsup_limits(vm->sup), vm);
}

void vmsup_hook_destroyed(struct vm *vm)
{
	vm_template_exited(vm);
	vm_agent_stop(vm, true);
	vm_limits_destroyed(vmsup_limits(vm->sup), vm);
}
