/*
 * The QMP commands a peer that is not an admin may send through the API:
 * an allowlist, since qemu runs with more rights than the caller and any
 * command that touches host files or devices (pmemsave, blockdev-*,
 * migrate, add-fd ...) would lend them. Admins' commands still pass
 * through vm_qmp_guard (qmp-guard.h).
 */
#ifndef VMSUP_QMP_ALLOW_H
#define VMSUP_QMP_ALLOW_H

#include <stdbool.h>

#include <json-c/json.h>

/* May a non-admin send cmd (a command object, "execute" or "exec-oob")? */
bool vm_qmp_unprivileged_ok(struct json_object *cmd);

#endif
