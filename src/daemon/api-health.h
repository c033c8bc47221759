/*
 * GET /v1/health: 200 {"status":"ok","reasons":[]} while nothing needs a
 * person's attention, 503 {"status":"degraded","reasons":[...]} while any
 * VM's state file is unsaved, a VM's spec names files that are gone, or a
 * crashed or failed VM waits for its restart policy's next attempt. Each
 * reason: {"reason": "state_unsaved"|"missing_files"|"restart_pending",
 * "vm": NAME (null for a VM the caller may not see), "detail": "..."}.
 */
#ifndef VMSUP_API_HEALTH_H
#define VMSUP_API_HEALTH_H

#include <stdbool.h>

#include <event2/http.h>

#include "src/core/supervisor.h"

struct vmsup_peer;
/* admin: owner_is_admin(peer) (names every VM) */
void api_health(struct vmsup *sup, struct evhttp_request *req, const struct vmsup_peer *peer,
		bool admin);

#endif
