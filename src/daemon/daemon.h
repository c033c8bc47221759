/* The supervisor as a whole: registry + API on one event loop. */
#ifndef VMSUP_DAEMON_H
#define VMSUP_DAEMON_H

#include "src/qemu/config.h"

/*
 * Serve the API until SIGTERM or SIGINT. Writes one byte to ready_fd (if
 * >= 0, then closed) once the socket listens. On a signal: stop accepting,
 * stop every VM gracefully (bounded by stop_grace_s), remove the socket,
 * return 0. -1 with *err (malloc'd) if it could not start.
 * cfg should have been through vmsup_config_finish.
 */
int vmsup_serve(const struct vmsup_config *cfg, int ready_fd, char **err);

#endif
