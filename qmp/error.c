/* Error values: every failure in libqmp is a class plus a description. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "qmp/qmp.h"

void qmp_error_set(struct qmp_error *err, const char *cls, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	snprintf(err->cls, sizeof(err->cls), "%s", cls ? cls : "");
	va_start(ap, fmt);
	vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
	va_end(ap);
}
