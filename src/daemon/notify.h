/*
 * systemd's readiness protocol (sd_notify(3)): READY=1, STOPPING=1 and
 * STATUS= lines for a Type=notify unit. Without $NOTIFY_SOCKET (no
 * systemd, or another unit type) nothing is sent.
 */
#ifndef VMSUP_DAEMON_NOTIFY_H
#define VMSUP_DAEMON_NOTIFY_H

/* Send one message (newline-separated assignments), printf-style. */
void daemon_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
