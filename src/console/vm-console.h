/*
 * The console logs' cap in the daemon: one timer walks the VMs whose qemu
 * runs and rotates a console.log that reached 3/4 of console_log_max
 * (src/console/console-log.h), so the log stays under the cap with a
 * serial port writing as fast as TCG lets it (about 1 MB/s) meanwhile.
 */
#ifndef VMSUP_VM_CONSOLE_H
#define VMSUP_VM_CONSOLE_H

#include <event2/event.h>

struct vmsup;
struct vm_console;

/* How often the sizes are looked at. */
#define VM_CONSOLE_CHECK_MS 200

/* Start the timer on base over sup's VMs; NULL with *err. */
struct vm_console *vm_console_new(struct event_base *base, struct vmsup *sup, char **err);
void vm_console_free(struct vm_console *c);

#endif
