/*
 * The API routes that talk to the guest agent (docs/API.md):
 *   GET  /v1/vms/NAME/ip?wait=S
 *   POST /v1/vms/NAME/exec {"argv":[...],"input_b64":"...","timeout_s":N}
 * Both hold the request and reply from the agent's callback; a client that
 * goes away, or a VM that exits or is destroyed meanwhile, is handled.
 */
#ifndef VMSUP_API_GUEST_H
#define VMSUP_API_GUEST_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "src/core/supervisor.h"

#define VMSUP_IP_WAIT_MAX_S 600

/* name has been validated by the caller; query may be NULL. */
void vmsup_api_guest_ip(struct vmsup *sup, struct evhttp_request *req, const char *name,
			struct evkeyvalq *query);
void vmsup_api_guest_exec(struct vmsup *sup, struct evhttp_request *req, const char *name);

#endif
