#include "src/util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the attribute lets clang's -Wformat-nonliteral see fmt is checked at the callers */
__attribute__((format(printf, 2, 0))) static void err_vset(char **err, const char *fmt, va_list ap)
{
	char *s = NULL;

	if (!err || *err)
		return;
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	*err = s;
}

int vmsup_err(char **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	err_vset(err, fmt, ap);
	va_end(ap);
	return -1;
}

int vmsup_errc(char **err, const char **cls, const char *class, const char *fmt, ...)
{
	va_list ap;

	if (cls && !*cls)
		*cls = class;
	va_start(ap, fmt);
	err_vset(err, fmt, ap);
	va_end(ap);
	return -1;
}

int vmsup_err_is_fd_exhaustion(const char *msg)
{
	return msg && (strstr(msg, strerror(EMFILE)) || strstr(msg, strerror(ENFILE)));
}
