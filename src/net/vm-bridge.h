/*
 * The bridge module (vm_bridge_module, registered by the daemon): mode
 * bridge of a VM's "net" (src/qemu/net.h). At create it checks that the
 * bridge exists, that the daemon may create taps (CAP_NET_ADMIN) and that
 * the VM's MAC is not one another VM of this daemon has; at each start it
 * creates the VM's tap (src/net/tap.h) on the bridge and hands it to qemu
 * as fds[VM_SPAWN_TAP_FD]. The status names the tap.
 */
#ifndef VMSUP_VM_BRIDGE_H
#define VMSUP_VM_BRIDGE_H

#include "src/core/module.h"

extern const struct vm_module vm_bridge_module;

#endif
