#include "src/util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

int vmsup_err(char **err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!err || *err)
		return -1;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	*err = s;
	return -1;
}
