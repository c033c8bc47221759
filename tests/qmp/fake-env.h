/* The fixture of the tests against the scripted fake server (tests/fakes/qmp-server.h). */
#ifndef TESTS_QMP_FAKE_ENV_H
#define TESTS_QMP_FAKE_ENV_H

#include "tests/fakes/qmp-server.h"
#include "tests/qmp/util.h"

/* A test against the scripted fake server: directory and socket, loop, the
 * session under test. Helpers below fail the test on errors. */
struct tu_fake {
	char *dir;
	char sock[256];
	struct event_base *base;
	struct qmp_session *s;
	struct fake_qmp *fake;
};
/* For .init: a fresh directory with socket path dir/NAME, and the loop. */
void tu_fake_init(struct tu_fake *f, const char *name);
/* For .fini: free the session, the fake and the loop, remove the directory. */
void tu_fake_fini(struct tu_fake *f);
/* Start the fake on script, connect a session of kind with opt (may be
 * NULL), run until ready has been called (at most wait_ms). */
void tu_fake_start(struct tu_fake *f, enum qmp_kind kind, const struct fq_step *script,
		   const struct qmp_options *opt, struct tu_ready *ready, unsigned wait_ms);
/* Wait until the fake has played its whole script. */
void tu_fake_done(struct tu_fake *f, unsigned wait_ms);

/* The one fixture of a test (each test runs in a process of its own), and
 * criterion .init/.fini for it: the socket is qmp.sock or qga.sock. */
extern struct tu_fake fx;
void tu_fake_setup_qmp(void);
void tu_fake_setup_qga(void);
void tu_fake_teardown(void);

#endif
