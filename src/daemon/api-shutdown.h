/*
 * POST /v1/shutdown {"timeout_s": N}: stop every VM at once, for a host
 * shutdown (vmctl shutdown --all, etc/vmsupd-guests.service). Each VM is
 * stopped as POST /v1/vms/NAME/stop does (ACPI power-off for a guest that
 * has shown its agent, quit at once for the others, quit after timeout_s
 * and SIGKILL 5 s later), all in parallel; the reply comes once none of
 * them runs. The daemon itself runs on; warm-pool VMs are the daemon's
 * and are left to it.
 */
#ifndef VMSUP_API_SHUTDOWN_H
#define VMSUP_API_SHUTDOWN_H

#include <event2/http.h>
#include <json-c/json.h>

#include "src/core/supervisor.h"

/* body borrowed (NULL = empty). Replies 200 {"vms":[{name, state,
 * stopped_by, error}], "stopped": N, "failed": N, "seconds": S}. */
void api_shutdown_all(struct vmsup *sup, struct evhttp_request *req, struct json_object *body);

#endif
