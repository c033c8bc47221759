/*
 * The console logs' cap in the daemon: a console.log that reached 3/4 of
 * console_log_max is rotated (src/console/console-log.h) at most
 * VM_CONSOLE_CHECK_MS after qemu wrote to it, so the log stays under the
 * cap with a serial port writing as fast as TCG lets it (about 1 MB/s)
 * meanwhile. Only logs written to are looked at: inotify (a one-shot
 * watch on each running VM's run dir, re-armed by the check) says which,
 * so idle VMs cost no wake-ups (a timer over every VM's log, 5 times a
 * second, made 250 idle VMs 3750 syscalls a second on the event loop).
 */
#ifndef VMSUP_VM_CONSOLE_H
#define VMSUP_VM_CONSOLE_H

#include <event2/event.h>

struct vmsup;
struct vm_console;

/* How long after a write the log's size is looked at (writes in between are
 * looked at together). */
#define VM_CONSOLE_CHECK_MS 200

/* Watch the logs of sup's VMs whose qemu runs (those that start later
 * too, through the event bus); NULL with *err. After the reattach. */
struct vm_console *vm_console_new(struct event_base *base, struct vmsup *sup, char **err);
void vm_console_free(struct vm_console *c);

#endif
