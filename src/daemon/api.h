/*
 * The HTTP API (docs/API.md) on a unix socket, with libevent's evhttp.
 * Requests that wait on a VM are held and answered from the supervisor's
 * callback; the loop never blocks.
 */
#ifndef VMSUP_API_H
#define VMSUP_API_H

#include <event2/event.h>

#include "src/core/supervisor.h"

#define VMSUP_API_BODY_MAX (1024 * 1024)
#define VMSUP_VERSION	   "0.1.0"

struct vmsup_api;

/*
 * Bind path (a stale socket is replaced, a live one is an error), mode
 * 0660, group api_group if configured, and serve.
 */
struct vmsup_api *vmsup_api_new(struct event_base *base, struct vmsup *sup, const char *path,
				const char *api_group, char **err);
/* Stop accepting new connections (requests in progress carry on). */
void vmsup_api_stop_accepting(struct vmsup_api *api);
/* End the event streams, close every connection, remove the socket. */
void vmsup_api_free(struct vmsup_api *api);

#endif
