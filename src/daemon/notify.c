#include "src/daemon/notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "src/util/log.h"

void daemon_notify(const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;
	int r;

	if (!getenv("NOTIFY_SOCKET"))
		return;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	/* the variable stays: later messages (STOPPING=1) need it */
	r = sd_notify(0, msg);
	if (r < 0)
		LOG_W(NULL, "sd_notify: %s", strerror(-r));
	else
		LOG_D(NULL, "sd_notify: %s", msg);
	free(msg);
}
