/*
 * The client side of GET /v1/vms/NAME/console (src/daemon/api-console.h):
 * a plain HTTP/1.0 request on the API socket, after which the connection
 * carries the VM's serial port both ways as raw bytes.
 */
#ifndef VMSUP_CLIENT_CONSOLE_H
#define VMSUP_CLIENT_CONSOLE_H

#include <stddef.h>

/*
 * Ask for the console of VM name. 0 with *fd the connection (blocking,
 * the reply's headers read; what follows is the guest's output, and what
 * is written to it goes to the guest). -1 with *err (malloc'd): the
 * daemon's error desc, with *status its HTTP status (0 when no reply
 * came).
 */
int vmsup_console_open(const char *sock, const char *name, int *fd, long *status, char **err);

#endif
