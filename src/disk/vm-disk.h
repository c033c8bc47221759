/*
 * The disk module (vm_disk_module, registered by the daemon): a VM's root
 * disk ("disk" in the spec) read and opened as the API's caller, a qcow2
 * overlay per VM over an image that is never written ("disk_mode":
 * "overlay", the default) or the image written in place by one VM alone
 * ("persistent"). The status's "disk" object names the image, the mode,
 * the overlay and the chain of files qemu was handed.
 */
#ifndef VMSUP_VM_DISK_H
#define VMSUP_VM_DISK_H

#include "src/core/module.h"

extern const struct vm_module vm_disk_module;

#endif
