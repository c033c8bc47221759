/* The supervisor as a whole: registry + API on one event loop. */
#ifndef VMSUP_DAEMON_H
#define VMSUP_DAEMON_H

#include "src/qemu/config.h"

/*
 * Serve the API until SIGTERM or SIGINT. Writes one byte to ready_fd (if
 * >= 0, then closed) once the socket listens. First locks state_dir and
 * run_dir (one daemon each). On a signal: stop accepting, remove the
 * socket; with on_exit = keep fail the pending requests and leave every
 * VM running (state files flushed, monitors closed), with on_exit = stop
 * stop every VM gracefully (bounded by stop_grace_s); return 0. -1 with
 * *err (malloc'd) if it could not start (another daemon holds the lock).
 * cfg should have been through vmsup_config_finish.
 */
int vmsup_serve(const struct vmsup_config *cfg, int ready_fd, char **err);

#endif
