/*
 * Health checks end to end: TaskInfo.health_check run by mesos-vm-executor
 * inside the task's real VM, its verdicts as TASK_RUNNING updates with
 * `healthy` and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED, and the kill after
 * consecutive_failures (TASK_KILLED, healthy false), as Mesos's command
 * executor does. One boot per check type; each check passes, then fails.
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

/* A TaskInfo whose command is cmd, with the health_check hc (JSON). */
static char *task_json(const char *cmd, const char *hc)
{
	struct json_object *c = json_object_new_string(cmd);
	char *s = NULL;

	cr_assert(asprintf(&s,
			   "{\"name\":\"t\",\"task_id\":{\"value\":\"t1\"},\"agent_id\":{\"value\":"
			   "\"agent-1\"},\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\","
			   "\"scalar\":{\"value\":1}},{\"name\":\"mem\",\"type\":\"SCALAR\","
			   "\"scalar\":{\"value\":256}}],\"command\":{\"shell\":true,\"value\":%s},"
			   "\"health_check\":%s}",
			   json_object_to_json_string(c), hc) > 0);
	json_object_put(c);
	return s;
}

static void expect_pass_fail_kill(const char *cmd, const char *hc)
{
	char *ti = task_json(cmd, hc);
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
