/*
 * vmctl run --pool: a paused VM from the daemon's warm pool instead of a
 * fresh one.
 */
#include "config.h"

#include "src/cli/vmctl-run-internal.h"

#include <stdio.h>
#include <string.h>

/*
 * --pool: the take request from the spec options: --mem becomes the balloon
 * target, --cpus N a quota of N CPUs; any other option would need other
 * devices than the pool's template has. 0, or an exit status.
 */
static int pool_request(struct run *r, struct json_object **out)
{
	struct json_object *b = json_object_new_object();

	json_object_object_foreach(r->spec, k, v)
	{
		if (!strcmp(k, "mem_mib")) {
			json_object_object_add(b, "mem_mib", json_object_get(v));
		} else if (!strcmp(k, "cpus")) {
			json_object_object_add(
			    b, "quota_pct", json_object_new_int64(json_object_get_int64(v) * 100));
		} else if (!strcmp(k, "shares")) {
			/* bound into the pool VM's staging export at take time */
			json_object_object_add(b, "shares", json_object_get(v));
		} else {
			json_object_put(b);
			return vmctl_usage_error("run", "--pool: a pool VM has its template's "
							"devices; only --mem, --cpus and one "
							"--share apply");
		}
	}
	*out = b;
	return 0;
}

/* POST /v1/pool/take; name gets the VM's (the daemon names pool VMs). */
int vmctl_run_take_from_pool(struct run *r, char *name, size_t len, struct json_object **vm,
			     long *http)
{
	struct json_object *b = NULL, *v, *hit;
	int rc = pool_request(r, &b);

	if (rc)
		return rc;
	rc = vmctl_call(&r->g, "pool", "POST", "/v1/pool/take", b, 0, vm, http);
	json_object_put(b);
	if (rc)
		return rc;
	if (!json_object_object_get_ex(*vm, "name", &v) ||
	    !json_object_is_type(v, json_type_string))
		return vmctl_fail("pool", "the daemon's reply names no VM");
	snprintf(name, len, "%s", json_object_get_string(v));
	if (json_object_object_get_ex(*vm, "pool", &v) &&
	    json_object_object_get_ex(v, "hit", &hit)) {
		r->pool_hit = json_object_get_boolean(hit);
		vmctl_run_progress(r,
				   r->pool_hit ? "taken from the warm pool"
					       : "pool empty, restored from its template",
				   name);
	}
	return 0;
}
