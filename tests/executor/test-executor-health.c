/*
 * Health checks end to end: TaskInfo.health_check run by mesos-vm-executor
 * inside the task's real VM, its verdicts as TASK_RUNNING updates with
 * `healthy` and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, and the kill after
 * consecutive_failures (TASK_KILLED, healthy false), as Mesos's command
 * executor does. One boot per check type; each check passes, then fails.
 * Then: checks stop when a kill begins, and a task killed for its health
 * ends TASK_KILLED with healthy false even when it exits 0 on TERM.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/executor/vm-harness.h"

TestSuite(executor_health, .init = setup, .fini = teardown, .timeout = 600);

/* The task's updates as STATE[+|-] (healthy true / false), comma separated;
 * every update with `healthy` that is not terminal must carry the reason. */
static char *health_states(struct json_object *r)
{
	struct json_object *ups, *h;
	char *s = calloc(1, 2048);

	json_object_object_get_ex(r, "updates", &ups);
	for (size_t i = 0; i < json_object_array_length(ups); i++) {
		struct json_object *u = json_object_array_get_idx(ups, i);
		bool has = json_object_object_get_ex(u, "healthy", &h) &&
			   json_object_is_type(h, json_type_boolean);
		if (*s)
			strncat(s, ",", 2047 - strlen(s));
		strncat(s, fa_str(u, "state"), 2047 - strlen(s));
		if (has)
			strncat(s, json_object_get_boolean(h) ? "+" : "-", 2047 - strlen(s));
		if (has && strcmp(fa_str(u, "state"), "TASK_RUNNING") == 0)
			cr_assert_str_eq(fa_str(u, "reason"),
					 "REASON_TASK_HEALTH_CHECK_STATUS_UPDATED");
		if (has)
			cr_log_info("%.2f s %s healthy=%d: %s", fa_double(u, "t"),
				    fa_str(u, "state"), json_object_get_boolean(h),
				    fa_str(u, "message"));
	}
	return s;
}

static void expect_pass_fail_kill(const char *cmd, const char *hc)
{
	char *ti = vm_task_json(cmd, "health_check", hc);
	const char *args[] = {"--scenario", "finish", "--task", ti, VMENV, NULL};
	struct json_object *r = run(args);
	char *states = health_states(r);

	/* 2 consecutive failures: two unhealthy updates, the second asks for the
	 * kill; the terminal update says the task was unhealthy. */
	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_RUNNING+,TASK_RUNNING-,"
				 "TASK_RUNNING-,TASK_KILLED-");
	double killed = fa_double(fa_update(r, "t1", "TASK_KILLED"), "t"),
	       running = fa_double(fa_update(r, "t1", "TASK_RUNNING"), "t");
	cr_log_info("TASK_RUNNING at %.2f s, killed for its health at %.2f s", running, killed);
	assert_nothing_left();
	free(states);
	free(ti);
	json_object_put(r);
}

/* The command check sees the task's sandbox: healthy while the task keeps
 * its file, unhealthy once it removed it. */
Test(executor_health, command_check_passes_then_fails_and_kills)
{
	expect_pass_fail_kill("touch alive; sleep 8; rm alive; sleep 600",
			      "{\"type\":\"COMMAND\",\"command\":{\"value\":\"test -f alive\"},"
			      "\"delay_seconds\":0,\"interval_seconds\":1,\"timeout_seconds\":20,"
			      "\"consecutive_failures\":2,\"grace_period_seconds\":0}");
}

/* Serves 127.0.0.1:8080 for 8 s, then stops serving and lives on. */
#define SERVE_8080_FOR_8S                                                                          \
	"mkdir -p www && echo ok > www/index.html && "                                             \
	"{ httpd -f -p 127.0.0.1:8080 -h www & p=$!; sleep 8; kill $p; sleep 600; }"

/* An HTTP check against the port the task serves (busybox httpd in the
 * guest), probed from inside the VM as Mesos probes from inside the task's
 * network namespace; the task stops serving after a while. */
Test(executor_health, http_check_against_the_task_port)
{
	expect_pass_fail_kill(
	    SERVE_8080_FOR_8S,
	    "{\"type\":\"HTTP\",\"http\":{\"port\":8080,\"path\":\"/index.html\"},"
	    "\"delay_seconds\":0,\"interval_seconds\":1,\"timeout_seconds\":20,"
	    "\"consecutive_failures\":2,\"grace_period_seconds\":0}");
}

/* TCP: a connection to the task's port opens (busybox nc in the guest). */
Test(executor_health, tcp_check_against_the_task_port)
{
	expect_pass_fail_kill(SERVE_8080_FOR_8S,
			      "{\"type\":\"TCP\",\"tcp\":{\"port\":8080},"
			      "\"delay_seconds\":0,\"interval_seconds\":1,\"timeout_seconds\":20,"
			      "\"consecutive_failures\":2,\"grace_period_seconds\":0}");
}

/* Checks stop once a kill begins, as Mesos's executors pause their checkers
 * before TASK_KILLING: a check failing every 0.5 s (an unhealthy update each
 * time, far from consecutive_failures) and a task ignoring TERM for a grace
 * period of 8 s. No health update follows TASK_KILLING and no check runs in
 * the guest after it (the check appends to a file in the shared sandbox). */
Test(executor_health, checks_stop_when_the_kill_begins)
{
	char *ti = vm_task_json("trap '' TERM; while :; do sleep 0.2; done", "health_check",
				"{\"type\":\"COMMAND\",\"command\":{\"value\":"
				"\"echo ran >> checks-ran; exit 1\"},\"delay_seconds\":0,"
				"\"interval_seconds\":0.5,\"timeout_seconds\":20,"
				"\"consecutive_failures\":1000,\"grace_period_seconds\":0}");
	const char *args[] = {
	    "--scenario",     "kill", "--task",		ti,  "--capability", "TASK_KILLING_STATE",
	    "--kill-grace-s", "8",    "--kill-after-s", "4", VMENV,	     NULL};
	struct json_object *r = run(args);
	char *states = health_states(r);
	const char *tail = ",TASK_RUNNING-,TASK_KILLING,TASK_KILLED";
	size_t n = strlen(states), k = strlen(tail);

	cr_assert(n > k && strcmp(states + n - k, tail) == 0,
		  "unhealthy updates until the kill, then only TASK_KILLED: %s", states);
	double killing = fa_double(fa_update(r, "t1", "TASK_KILLING"), "wall"),
	       last_check = mtime_in_sandbox("checks-ran"),
	       took = fa_double(fa_update(r, "t1", "TASK_KILLED"), "t") - fa_double(r, "kill_t");
	cr_log_info("last check %.2f s after TASK_KILLING; KILL -> TASK_KILLED %.2f s",
		    last_check - killing, took);
	cr_assert_geq(took, 8.0, "the grace period left room for checks");
	/* A check already in the guest when the kill began may still write. */
	cr_assert_lt(last_check, killing + 2.0, "a check ran %.2f s after TASK_KILLING",
		     last_check - killing);
	assert_nothing_left();
	free(states);
	free(ti);
	json_object_put(r);
}

/* Killed for its health, a task that traps TERM and exits 0 still ends as
 * Mesos reports it (command and default executor alike): TASK_KILLED with
 * healthy false and no reason, never TASK_FINISHED. */
Test(executor_health, health_kill_of_a_term_trapping_task_is_killed_unhealthy)
{
	char *ti = vm_task_json("trap 'echo cleaned > health-term; exit 0' TERM; touch alive; "
				"sleep 8; rm alive; while :; do sleep 0.2; done",
				"health_check",
				"{\"type\":\"COMMAND\",\"command\":{\"value\":\"test -f alive\"},"
				"\"delay_seconds\":0,\"interval_seconds\":1,\"timeout_seconds\":20,"
				"\"consecutive_failures\":2,\"grace_period_seconds\":0}");
	const char *args[] = {"--scenario",	    "finish", "--task", ti, "--capability",
			      "TASK_KILLING_STATE", VMENV,    NULL};
	struct json_object *r = run(args);
	char *states = health_states(r), p[4300];
	struct json_object *u = fa_update(r, "t1", "TASK_KILLED"), *h;

	cr_assert_str_eq(states, "TASK_STARTING,TASK_RUNNING,TASK_RUNNING+,TASK_RUNNING-,"
				 "TASK_RUNNING-,TASK_KILLING,TASK_KILLED-");
	cr_assert(json_object_object_get_ex(u, "healthy", &h) && !json_object_get_boolean(h));
	cr_assert(!json_object_object_get_ex(u, "reason", &h) || !h,
		  "Mesos sets no reason on it: %s", fa_str(u, "reason"));
	snprintf(p, sizeof(p), "%s/health-term", sandbox);
	char *got = fa_slurp(p);
	cr_assert(got && strncmp(got, "cleaned", 7) == 0, "the TERM trap (exit 0) did not run");
	assert_nothing_left();
	free(got);
	free(states);
	free(ti);
	json_object_put(r);
}
