/*
 * GET /v1/vms/NAME/logs?tail=N&source=console|qemu&follow=1 (docs/API.md): the last
 * lines of a VM's serial console log (console.log.1 then console.log, the
 * rotation's two files) or of qemu's own stderr (qemu.log). The files live
 * in the VM's run dir until the VM is destroyed, so a crashed or failed
 * VM's logs can still be read. With follow=1 the reply is text: those
 * lines, then what the log gains, until the client leaves or the VM is
 * destroyed.
 */
#ifndef VMSUP_API_LOGS_H
#define VMSUP_API_LOGS_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "src/core/supervisor.h"

#define VMSUP_LOGS_TAIL_DEFAULT 100
#define VMSUP_LOGS_TAIL_MAX	100000
/* bytes read from the end of the logs at most (a reply's bound) */
#define VMSUP_LOGS_BYTES_MAX (4u << 20)
/* follow=1: how often the log is looked at, and the most sent per look */
#define VMSUP_LOGS_FOLLOW_MS	250
#define VMSUP_LOGS_FOLLOW_CHUNK (256u << 10)

/* name has been validated by the caller; query may be NULL. */
void api_logs_get(struct vmsup *sup, struct evhttp_request *req, const char *name,
		  struct evkeyvalq *query);

#endif
