/*
 * A VM's tap device on a host bridge (issue 22, mode bridge), from plain
 * ioctls: TUNSETIFF on /dev/net/tun, SIOCBRADDIF on the bridge. The tap is
 * not persistent: it lives as long as a descriptor of it is open, i.e. as
 * long as the qemu that got it, so a destroyed VM, a qemu killed with -9 or
 * crashed, and a VM whose daemon died all leave no tap behind, and nobody
 * has to find and remove orphans.
 */
#ifndef VMSUP_NET_TAP_H
#define VMSUP_NET_TAP_H

#include <stdbool.h>

/* vmsup-XXXXXXXX: a hash of the VM's name (stable, so a daemon that
 * reattaches finds the tap of a VM it adopts). */
#define VM_TAP_NAME_LEN 16
void vm_tap_name(const char *vm_name, char out[VM_TAP_NAME_LEN]);

/* 0 if name is an existing bridge; -1 with *err naming it otherwise. */
int vm_tap_bridge_check(const char *bridge, char **err);

/* 0 if a tap can be made on bridge here: it is a bridge
 * (vm_tap_bridge_check; else *cls VMSUP_EC_INVALID) and the daemon has
 * CAP_NET_ADMIN (else VMSUP_EC_UNSUPPORTED); -1 with *cls and *err. */
int vm_tap_usable(const char *bridge, const char **cls, char **err);

/* Create tap name, attach it to bridge, bring it up: its descriptor
 * (close-on-exec), or -1 with *err (EPERM: says CAP_NET_ADMIN). */
int vm_tap_open(const char *name, const char *bridge, char **err);

/* true if an interface of this name exists now. */
bool vm_tap_exists(const char *name);

#endif
