/*
 * GET /v1/vms/NAME/console (docs/API.md): the VM's serial port, both ways,
 * over the API connection. The daemon connects to qemu's serial socket
 * (VM_CONSOLE_SOCK in the run dir), answers 200 and then streams what the
 * guest prints as the reply body (raw bytes for an HTTP/1.0 request,
 * chunks for 1.1) while every byte the client sends after its request goes
 * to the guest's serial input. It ends when either side closes. qemu keeps
 * writing the console log meanwhile (the chardev's logfile).
 *
 * One client per VM: a second gets 409 naming the holder's pid and uid.
 */
#ifndef VMSUP_API_CONSOLE_H
#define VMSUP_API_CONSOLE_H

#include <event2/http.h>

#include "src/core/supervisor.h"

struct vmsup_peer;

/* name has been validated and its owner checked by the caller. */
void api_console_attach(struct vmsup *sup, struct evhttp_request *req, const char *name,
			const struct vmsup_peer *peer);

/* End every console session (the daemon is going away). */
void api_console_teardown(void);

#endif
