#include "src/hooks.h"

#include "src/log.h"

int vmsup_hook_spawned(struct vm *vm, char **err)
{
	(void)err;
	LOG_D(vm->spec.name, "spawned pid %d (cgroup: not wired yet)", (int)vm->pid);
	return 0;
}

void vmsup_hook_qmp_ready(struct vm *vm)
{
	LOG_D(vm->spec.name, "QMP ready");
}

void vmsup_hook_agent_port(struct vm *vm, bool open)
{
	LOG_I(vm->spec.name, "guest agent port %s (agent: not wired yet)",
	      open ? "opened" : "closed");
}

void vmsup_hook_qmp_event(struct vm *vm, const char *event, struct json_object *data)
{
	(void)vm;
	(void)event;
	(void)data;
}

void vmsup_hook_exited(struct vm *vm)
{
	vm->agent_state = VM_AGENT_ABSENT;
}

void vmsup_hook_destroyed(struct vm *vm)
{
	(void)vm;
}
