/*
 * The QMP commands a caller may not send to a VM's qemu: those whose
 * arguments make qemu spawn a process (qemu runs with -sandbox spawn=deny
 * and dies on the attempt) or open, create or read a path on the host
 * (migrate to "exec:"/"file:", dump-guest-memory to "file:", screendump,
 * blockdev-add of a host file, chardev-add of a file or pipe, netdev_add of
 * a tap with scripts, object-add of a memory-backend-file, and
 * human-monitor-command other than a few harmless HMP commands).
 *
 * Applied to caller-sent QMP only (the API's passthrough and the ops
 * socket); the supervisor's own calls (templates migrate to fd:/exec:)
 * never pass through it.
 */
#ifndef VMSUP_QMP_GUARD_H
#define VMSUP_QMP_GUARD_H

#include <json-c/json.h>

/*
 * 0 if cmd (a whole command object {"execute": NAME, "arguments": {...}},
 * or "exec-oob") may reach qemu; -1 with *why (malloc'd, one sentence
 * naming the command and the argument) if it is refused. A cmd that is not
 * a command object is left to qemu to reject (0).
 */
int vm_qmp_guard(struct json_object *cmd, char **why);

#endif
