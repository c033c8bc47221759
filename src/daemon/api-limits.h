/*
 * The API endpoints of the limits and metrics module, called from api.c's
 * router: PUT /v1/vms/NAME/memory, PUT /v1/vms/NAME/cpu, GET /metrics, and
 * the counting of every reply by status code.
 */
#ifndef VMSUP_API_LIMITS_H
#define VMSUP_API_LIMITS_H

#include <stdbool.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "src/core/supervisor.h"

/*
 * action "memory" or "cpu"; name already checked; body borrowed (NULL =
 * empty). Validates strictly (400 and nothing changed on any bad field),
 * then replies with the VM once the change is made.
 */
void api_limits_put(struct vmsup *sup, struct evhttp_request *req, const char *name,
		    const char *action, struct json_object *body);

/*
 * GET /metrics: Prometheus text exposition. An admin (owner.h) gets every
 * series; anyone else the vmsup_vm_* series of its own VMs only, and none
 * of the counters of everyone's traffic (API requests, QMP round trips).
 */
struct vmsup_peer;
void api_limits_metrics(struct vmsup *sup, struct evhttp_request *req,
			const struct vmsup_peer *peer, bool admin);

#endif
