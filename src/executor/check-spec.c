#include "src/executor/check-spec.h"

#include <string.h>

int check_spec_parse(struct json_object *info, const char *sandbox, struct probe_spec *s,
		     char **err)
{
	struct json_object *c = info ? probe_spec_member(info, "check") : NULL;

	memset(s, 0, sizeof(*s));
	if (!c)
		return 0;
	return probe_spec_parse(c, "check", PROBE_CHECK, sandbox, s, err) < 0 ? -1 : 1;
}
