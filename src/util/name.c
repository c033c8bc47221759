#include "src/util/name.h"

#include <string.h>

#include "src/util/err.h"

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int vmsup_name_check(const char *name, char **err)
{
	size_t n;

	if (!name || !*name)
		return vmsup_err(err, "VM name is empty");
	n = strlen(name);
	if (n > VMSUP_NAME_MAX)
		return vmsup_err(err, "VM name is %zu characters long, at most %d allowed", n,
				 VMSUP_NAME_MAX);
	/* The first character excludes '.', so "." and ".." can never be a
	 * name and no name can walk out of the state or run dir. */
	if (!is_alnum(name[0]))
		return vmsup_err(err, "VM name must start with a letter or digit");
	for (size_t i = 1; i < n; i++) {
		char c = name[i];
		if (!is_alnum(c) && c != '_' && c != '.' && c != '-')
			return vmsup_err(err,
					 "VM name has a forbidden character at offset %zu "
					 "(allowed: A-Z a-z 0-9 _ . -)",
					 i);
	}
	return 0;
}
