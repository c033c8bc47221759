/* The table of registered modules and the calls into them (module.h). */
#include "src/core/sup-internal.h"

#include <string.h>

#define M(i) ((sup)->modules[i].ops)
#define C(i) ((sup)->modules[i].ctx)

int vmsup_register(struct vmsup *sup, const struct vm_module *m, void *ctx)
{
	if (sup->nmodules >= VMSUP_MAX_MODULES)
		return -1;
	sup->modules[sup->nmodules].ops = m;
	sup->modules[sup->nmodules].ctx = ctx;
	sup->nmodules++;
	return 0;
}

void *vmsup_module_ctx(const struct vmsup *sup, const char *name)
{
	for (int i = 0; i < sup->nmodules; i++)
		if (!strcmp(M(i)->name, name))
			return C(i);
	return NULL;
}

int vmsup_modules_create(struct vmsup *sup, struct json_object *body, struct vm *vm,
			 const char **cls, char **err)
{
	for (int i = 0; i < sup->nmodules; i++) {
		int r = M(i)->create ? M(i)->create(C(i), sup, body, vm, cls, err) : 0;
		if (r)
			return r;
	}
	return 0;
}

int vmsup_modules_prepare(struct vm *vm, const struct vmsup_peer *peer, const char **cls,
			  char **err)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->prepare && M(i)->prepare(C(i), vm, peer, cls, err))
			return -1;
	return 0;
}

int vmsup_modules_argv(struct vm *vm, char ***argv, int *fds, char **err)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->argv && M(i)->argv(C(i), vm, argv, fds, err))
			return -1;
	return 0;
}

int vmsup_modules_spawned(struct vm *vm, char **err)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->spawned && M(i)->spawned(C(i), vm, err))
			return -1;
	return 0;
}

void vmsup_modules_adopted(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->adopted)
			M(i)->adopted(C(i), vm);
}

void vmsup_modules_restore(struct vm *vm, struct json_object *state)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->restore)
			M(i)->restore(C(i), vm, state);
}

bool vmsup_modules_hold_cont(const struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->holds_cont && M(i)->holds_cont(C(i), vm))
			return true;
	return false;
}

void vmsup_modules_qmp_ready(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->qmp_ready)
			M(i)->qmp_ready(C(i), vm);
}

void vmsup_modules_qmp_event(struct vm *vm, const char *event, struct json_object *data)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->qmp_event)
			M(i)->qmp_event(C(i), vm, event, data);
}

void vmsup_modules_qmp_rtt(struct vmsup *sup, double seconds)
{
	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->qmp_rtt)
			M(i)->qmp_rtt(C(i), seconds);
}

void vmsup_modules_status(const struct vm *vm, struct json_object *o)
{
	struct vmsup *sup = vm->sup;

	for (int i = 0; sup && i < sup->nmodules; i++)
		if (M(i)->status)
			M(i)->status(C(i), vm, o);
}

/* The first module that knows wins. */
const char *vmsup_modules_exit_reason(struct vm *vm, char *desc, size_t size)
{
	struct vmsup *sup = vm->sup;
	const char *why;

	for (int i = 0; i < sup->nmodules; i++)
		if (M(i)->exit_reason && (why = M(i)->exit_reason(C(i), vm, desc, size)))
			return why;
	return NULL;
}

/* Teardown goes in reverse: a module may rely on those registered before
 * it until it is done (the template's refresh on the agent). */
void vmsup_modules_exited(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	for (int i = sup->nmodules - 1; i >= 0; i--)
		if (M(i)->exited)
			M(i)->exited(C(i), vm);
}

void vmsup_modules_destroyed(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	for (int i = sup->nmodules - 1; i >= 0; i--)
		if (M(i)->destroyed)
			M(i)->destroyed(C(i), vm);
}

void vmsup_modules_release(struct vm *vm)
{
	struct vmsup *sup = vm->sup;

	for (int i = sup ? sup->nmodules - 1 : -1; i >= 0; i--)
		if (M(i)->release)
			M(i)->release(C(i), vm);
}
