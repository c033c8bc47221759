#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/qmp/fake-env.h"

struct tu_fake fx;

void tu_fake_setup_qmp(void)
{
	tu_fake_init(&fx, "qmp.sock");
}

void tu_fake_setup_qga(void)
{
	tu_fake_init(&fx, "qga.sock");
}

void tu_fake_teardown(void)
{
	tu_fake_fini(&fx);
}

void tu_fake_init(struct tu_fake *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->dir = tu_tmpdir();
	cr_assert(f->dir);
	cr_assert_lt(snprintf(f->sock, sizeof(f->sock), "%s/%s", f->dir, name),
		     (int)sizeof(f->sock));
	f->base = event_base_new();
	cr_assert(f->base);
}

void tu_fake_fini(struct tu_fake *f)
{
	qmp_session_free(f->s);
	f->s = NULL;
	fake_qmp_free(f->fake);
	f->fake = NULL;
	if (f->base)
		event_base_free(f->base);
	f->base = NULL;
	tu_rmdir(f->dir);
	free(f->dir);
	f->dir = NULL;
}

void tu_fake_start(struct tu_fake *f, enum qmp_kind kind, const struct fq_step *script,
		   const struct qmp_options *opt, struct tu_ready *ready, unsigned wait_ms)
{
	struct qmp_error err;

	f->fake = fake_qmp_start(f->sock, script);
	cr_assert(f->fake);
	f->s = qmp_session_new(f->base, kind, opt);
	cr_assert(f->s);
	cr_assert_eq(qmp_connect(f->s, f->sock, tu_ready_fn, ready, &err), 0, "%s", err.desc);
	cr_assert_eq(tu_run_until(f->base, &ready->done, wait_ms), 0, "ready never called");
}

void tu_fake_done(struct tu_fake *f, unsigned wait_ms)
{
	char why[256];

	cr_assert_eq(fake_qmp_wait(f->fake, wait_ms, why, sizeof(why)), 0, "fake: %s", why);
}
