/*
 * The routes of the VMs themselves (docs/API.md): the list, create, get,
 * destroy, and the actions (start, stop ... qmp). Rows of api.c's table.
 */
#ifndef VMSUP_API_VM_H
#define VMSUP_API_VM_H

#include "src/daemon/router.h"

/* GET /v1/vms: the peer's VMs (every one for an admin) */
void api_vm_list(const struct api_call *c);
/* POST /v1/vms: answered once the VM runs (or failed) */
void api_vm_create(const struct api_call *c);
/* GET /v1/vms/NAME */
void api_vm_get(const struct api_call *c);
/* DELETE /v1/vms/NAME?timeout=S&force=1 */
void api_vm_destroy(const struct api_call *c);
/* POST /v1/vms/NAME/ACTION: the operation c->op, its body checked */
void api_vm_action(const struct api_call *c);

#endif
