#include "src/executor/health-spec.h"

#include <string.h>

#include "src/util/err.h"

int health_spec_parse(struct json_object *info, const char *sandbox, struct health_spec *h,
		      char **err)
{
	struct json_object *hc = info ? probe_spec_member(info, "health_check") : NULL, *v;

	memset(h, 0, sizeof(*h));
	if (!hc)
		return 0;
	if (probe_spec_parse(hc, "health_check", PROBE_HEALTH, sandbox, &h->p, err) < 0)
		return -1;
	if (probe_spec_seconds(hc, "health_check", "grace_period_seconds", HEALTH_DEFAULT_GRACE_S,
			       &h->grace_s, err) < 0)
		goto fail;
	h->consecutive_failures = HEALTH_DEFAULT_FAILURES;
	if ((v = probe_spec_member(hc, "consecutive_failures"))) {
		int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
		if (n < 0 || n > 1000000) {
			vmsup_err(err, "health_check.consecutive_failures is not a count");
			goto fail;
		}
		h->consecutive_failures = (unsigned)n;
	}
	return 1;
fail:
	health_spec_clear(h);
	return -1;
}

void health_spec_clear(struct health_spec *h)
{
	probe_spec_clear(&h->p);
}
