/*
 * Private to the template module (vm-template*.c): the per-VM record of
 * a VM restored from a template (vm->tmpl). The interface is vm-template.h.
 */
#ifndef VMSUP_VM_TEMPLATE_INTERNAL_H
#define VMSUP_VM_TEMPLATE_INTERNAL_H

#include <stdbool.h>

#include "src/snapshot/snapshot.h"
#include "src/snapshot/template.h"
#include "src/snapshot/vm-template.h"

struct vm_restore {
	struct vm *vm;
	struct tmpl *t;
	char *name;	    /* the template's */
	bool pending;	    /* the next spawn restores (first start only) */
	bool loading;	    /* spawned with -incoming, not yet resumed */
	struct snap_op *op; /* migrate-incoming in flight */
	struct snap_refresh *refresh;
	int sub; /* event bus handle (agent readiness), 0 = none */
	double t_spawn, restore_ms, load_ms, agent_ms;
	bool refreshed;
	struct snap_refresh_result res;
	char refresh_err[256]; /* snap_refresh could not start */
	char *fail;	       /* why the restore failed: the VM's error once qemu is gone */
	bool retried;	       /* the clock was set a second time */
	bool ignore_shared;    /* RAM in the template's file: the state skips it */
	char tmpl_mac[18];     /* the MAC in the template's RAM (a bridge VM has its own) */
};

#endif
