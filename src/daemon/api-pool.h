/*
 * The warm pool's routes (docs/API.md, src/pool/pool.h):
 *   GET  /v1/pool        -> the pool's status, 404 when none is configured
 *   POST /v1/pool/take   {"mem_mib":N, "quota_pct":N} -> 201 the VM taken
 */
#ifndef VMSUP_API_POOL_H
#define VMSUP_API_POOL_H

#include <event2/http.h>

#include "src/core/supervisor.h"

struct vmsup_peer;
/* GET /v1/pool (another method: 405, but 404 first when there is no pool) */
void api_pool_status(struct vmsup *sup, struct evhttp_request *req);
/* POST /v1/pool/take; peer: the client's credentials (http_peer_get), for
 * the files a take names */
void api_pool_take(struct vmsup *sup, struct evhttp_request *req, const struct vmsup_peer *peer);

#endif
