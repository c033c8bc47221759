/*
 * guest-boot: time from spawning qemu to the first guest-ping answered by
 * the test guest's agent, over N boots (default 10), under TCG unless
 * VMSUP_TEST_ACCEL=kvm. Needs VMSUP_GUEST_DIR (scripts/mkguest.sh DIR).
 *
 * Output: one line per boot, then
 *   guest-boot: median MS ms, min MS, max MS, N boots, accel ACCEL
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/guest-harness.h"

#define BOOT_TIMEOUT_MS 180000u
#define MAX_BOOTS	1000

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr, "usage: guest-boot [-n BOOTS]\n");
}

int main(int argc, char **argv)
{
	static double ms[MAX_BOOTS];
	const char *accel = getenv("VMSUP_TEST_ACCEL");
	int n = 10, opt;

	while ((opt = getopt(argc, argv, "n:h")) != -1) {
		char *end;

		switch (opt) {
		case 'n':
			n = (int)strtol(optarg, &end, 10);
			if (*end || n < 1 || n > MAX_BOOTS) {
				fprintf(stderr, "guest-boot: -n wants 1..%d, not '%s'\n", MAX_BOOTS,
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage();
			return 0;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc) {
		usage();
		return 2;
	}
	if (!th_guest_dir()) {
		fprintf(stderr, "guest-boot: VMSUP_GUEST_DIR holds no guest "
				"(build one with scripts/mkguest.sh DIR)\n");
		return 1;
	}
	for (int i = 0; i < n; i++) {
		struct th_vm vm;
		double t0 = now_ms();

		if (th_boot_guest(&vm, 256, NULL) < 0)
			return 1;
		if (th_wait_agent(&vm, BOOT_TIMEOUT_MS) < 0) {
			th_dump_serial(&vm);
			th_vm_kill(&vm);
			return 1;
		}
		ms[i] = now_ms() - t0;
		th_vm_kill(&vm);
		printf("boot %d: %.0f ms\n", i + 1, ms[i]);
		fflush(stdout);
	}
	qsort(ms, (size_t)n, sizeof(ms[0]), cmp_double);
	printf("guest-boot: median %.0f ms, min %.0f, max %.0f, %d boots, accel %s\n",
	       n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2, ms[0], ms[n - 1], n,
	       accel && accel[0] ? accel : "tcg");
	return 0;
}
