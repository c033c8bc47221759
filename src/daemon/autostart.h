/*
 * Autostart: a VM whose spec says "autostart": true is started each time
 * vmsupd starts, after the VMs of the previous run are reattached, if it
 * does not run then (once: what happens to it later is its restart
 * policy's business). The flag is set at create (POST /v1/vms) or with
 * PUT /v1/vms/NAME/autostart, and kept in the VM's state file.
 */
#ifndef VMSUP_AUTOSTART_H
#define VMSUP_AUTOSTART_H

#include <stddef.h>

#include <event2/http.h>
#include <json-c/json.h>

#include "src/core/supervisor.h"

/*
 * PUT /v1/vms/NAME/autostart {"autostart": true|false}: name already
 * checked, body borrowed (NULL = empty). The state file is written before
 * the reply (the VM as the API shows it).
 */
void api_autostart_put(struct vmsup *sup, struct evhttp_request *req, const char *name,
		       struct json_object *body);

/* Start every autostart VM that has no qemu (defined, stopped, crashed,
 * failed); the outcomes are logged. Returns how many starts were asked. */
size_t vm_autostart_all(struct vmsup *sup);

#endif
