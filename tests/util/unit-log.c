/* The log's rate limit for noisy sources (libevent, a failing accept()). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "src/util/log.h"

static long long mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

Test(log, limited_lets_per_s_through_and_counts_the_rest, .init = cr_redirect_stderr)
{
	struct vmsup_log_limit lim = {.what = "src", .per_s = 10};
	char line[512];
	int passed = 0, summary = 0;
	long long s0 = mono_s();
	FILE *f;

	vmsup_log_setup(VMSUP_LOG_INFO, VMSUP_LOG_TEXT);
	/* start at a second's beginning: all 25 fall in one window */
	while (mono_s() == s0)
		;
	for (int i = 0; i < 25; i++)
		vmsup_log_limited(&lim, VMSUP_LOG_WARN, "boom");
	vmsup_log_limit_flush(&lim, VMSUP_LOG_WARN);
	vmsup_log_limit_flush(&lim, VMSUP_LOG_WARN); /* nothing left to say */
	fflush(stderr);
	f = cr_get_redirected_stderr();
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "src: boom"))
			passed++;
		if (strstr(line, "src: suppressed 15 messages (over 10 a second)"))
			summary++;
	}
	cr_expect_eq(passed, 10, "%d lines let through", passed);
	cr_expect_eq(summary, 1, "%d suppressed-count lines", summary);
}
