/*
 * mesos-vm-executor figures (bench/mesos-executor.sh), not timed tests:
 * LAUNCH -> TASK_RUNNING and LAUNCH -> TASK_FINISHED for `true`, 5 runs
 * each, with a VM booted per task and with one taken from the warm pool.
 * Skipped unless VMEXEC_FIGURES=1.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/executor/vm-harness.h"

#define RUNS 5

TestSuite(executor_vm_figures, .fini = teardown, .timeout = 1800);

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void need_figures(void)
{
	const char *f = getenv("VMEXEC_FIGURES");

	/* before vmsupd starts: a skipped test does not reach .fini */
	if (!f || strcmp(f, "1") != 0)
		cr_skip_test("set VMEXEC_FIGURES=1 to measure");
}

/* RUNS tasks of `true`, from the pool or not; medians printed as "what". */
static void measure(const char *what, bool pool)
{
	double running[RUNS], finished[RUNS], load[3] = {0, 0, 0}, after[3] = {0, 0, 0};

	getloadavg(load, 3);
	for (int i = 0; i < RUNS; i++) {
		const char *args[] = {"--scenario",
				      "finish",
				      "--mem",
				      "200",
				      VMENV,
				      "--env",
				      pool ? "VMEXEC_POOL=1" : "VMEXEC_POOL=0",
				      "--command",
				      "true",
				      NULL};
		struct json_object *r, *u1, *u2;

		/* the pool refills after each take: its VM before the next */
		if (pool)
			vm_pool_wait_ready();
		r = run(args);
		u1 = fa_update(r, "t1", "TASK_RUNNING");
		u2 = fa_update(r, "t1", "TASK_FINISHED");
		cr_assert(u1 && u2);
		if (pool)
			cr_assert(strstr(fa_str(fa_update(r, "t1", "TASK_STARTING"), "message"),
					 "warm pool"),
				  "run %d did not take a pool VM", i + 1);
		running[i] = fa_double(u1, "t");
		finished[i] = fa_double(u2, "t");
		printf("%s run %d: LAUNCH->TASK_RUNNING %.2f s, LAUNCH->TASK_FINISHED %.2f s\n",
		       what, i + 1, running[i], finished[i]);
		json_object_put(r);
	}
	getloadavg(after, 3);
	qsort(running, RUNS, sizeof(double), cmp);
	qsort(finished, RUNS, sizeof(double), cmp);
	printf("%s LAUNCH->TASK_RUNNING median %.2f s (min %.2f max %.2f)\n", what,
	       running[RUNS / 2], running[0], running[RUNS - 1]);
	printf("%s LAUNCH->TASK_FINISHED median %.2f s (min %.2f max %.2f)\n", what,
	       finished[RUNS / 2], finished[0], finished[RUNS - 1]);
	printf("%s load average before %.2f %.2f %.2f, after %.2f %.2f %.2f (%ld CPUs)\n", what,
	       load[0], load[1], load[2], after[0], after[1], after[2],
	       sysconf(_SC_NPROCESSORS_ONLN));
	fflush(stdout);
}

Test(executor_vm_figures, figures)
{
	need_figures();
	setup();
	measure("cold", false);
}

Test(executor_vm_figures, pool_figures)
{
	need_figures();
	vm_setup_pool();
	measure("pool", true);
}
