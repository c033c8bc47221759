/*
 * API requests as another user: curl(1) under setpriv(1), so the kernel
 * (socket mode, SO_PEERCRED) decides who the daemon sees. Needs root.
 * And what a guest leaves on the host through users' shares.
 */
#ifndef VMSUP_TESTS_AS_USER_H
#define VMSUP_TESTS_AS_USER_H

#include <stddef.h>
#include <sys/types.h>

/*
 * curl on sock as user (name or uid) with gid and supplementary groups as
 * given (groups NULL: none). Returns the HTTP status, 0 if no connection
 * was made; body (if non-NULL) receives the reply body.
 */
long td_as_user(const char *sock, const char *user, const char *gid, const char *groups,
		const char *method, const char *path, const char *data, char *body, size_t bsize);

/* A file something made as a user (a guest through a share): the test
 * fails unless dir/rel is on the host, owned by uid, neither setuid nor
 * setgid, and its first line is content (with its newline). */
void td_expect_file(const char *dir, const char *rel, uid_t uid, const char *content);

/* A share test's users (the test is skipped unless it runs as root with
 * the nobody user and qemu_user's default user): that user's ids into
 * *quid / *qgid, nobody's uid into *nuid. */
void td_share_test_users(uid_t *quid, gid_t *qgid, uid_t *nuid);

/* A new directory /tmp/PREFIX-XXXXXX (mode 0755) into dir (size n), for
 * a share test's directories. */
void td_share_test_dir(char *dir, size_t n, const char *prefix);

/* The test fails if a line of /proc/self/mountinfo names needle (unless
 * it also holds except, when given): nothing left mounted. */
void td_expect_no_mount(const char *needle, const char *except, const char *when);

/* A share test's directory removed: dir/ram unmounted (where a test
 * mounted a ramfs), then dir and what is in it. */
void td_rm_share_dir(const char *dir);

#endif
