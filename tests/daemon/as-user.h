/*
 * API requests as another user: curl(1) under setpriv(1), so the kernel
 * (socket mode, SO_PEERCRED) decides who the daemon sees. Needs root.
 */
#ifndef VMSUP_TESTS_AS_USER_H
#define VMSUP_TESTS_AS_USER_H

#include <stddef.h>

/*
 * curl on sock as user (name or uid) with gid and supplementary groups as
 * given (groups NULL: none). Returns the HTTP status, 0 if no connection
 * was made; body (if non-NULL) receives the reply body.
 */
long td_as_user(const char *sock, const char *user, const char *gid, const char *groups,
		const char *method, const char *path, const char *data, char *body, size_t bsize);

#endif
