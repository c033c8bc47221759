/*
 * General checks end to end: TaskInfo.check (CheckInfo) run by
 * mesos-vm-executor inside the task's real VM, each change of its result a
 * TASK_RUNNING with REASON_TASK_CHECK_STATUS_UPDATED and the result in
 * check_status, as Mesos's executors send them (the fake agent validates
 * every call against the vendored mesos.proto). Every other update carries
 * the empty check_status of the type. A check never kills its task: each
 * task here ends on its own, TASK_FINISHED.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/executor/vm-harness.h"

TestSuite(executor_check, .init = setup, .fini = teardown, .timeout = 600);

/* task_id's updates as STATE or STATE{result}, comma separated, where
 * result is check_status's command / http / tcp object ({} when empty).
 * Every update must carry check_status of type; those with a result must
 * say REASON_TASK_CHECK_STATUS_UPDATED, the others must not. */
static char *check_states(struct json_object *r, const char *task_id, const char *type)
{
	struct json_object *ups, *cs, *res;
	const char *key = strcmp(type, "COMMAND") == 0 ? "command"
			  : strcmp(type, "HTTP") == 0  ? "http"
						       : "tcp";
	char *s = calloc(1, 4096);

	json_object_object_get_ex(r, "updates", &ups);
	for (size_t i = 0; i < json_object_array_length(ups); i++) {
		struct json_object *u = json_object_array_get_idx(ups, i);
		const char *state = fa_str(u, "state"), *reason = fa_str(u, "reason");
		bool is_check = reason && strcmp(reason, "REASON_TASK_CHECK_STATUS_UPDATED") == 0;

		if (strcmp(fa_str(u, "task_id"), task_id) != 0)
			continue;
		if (*s)
			strncat(s, ",", 4095 - strlen(s));
		strncat(s, state, 4095 - strlen(s));
		cr_assert(json_object_object_get_ex(u, "check_status", &cs) && cs,
			  "%s without check_status", state);
		cr_assert_str_eq(fa_str(cs, "type"), type);
		cr_assert(json_object_object_get_ex(cs, key, &res) && res,
			  "%s: check_status without %s", state, key);
		if (is_check) {
			cr_assert_str_eq(state, "TASK_RUNNING");
			strncat(s, json_object_to_json_string_ext(res, JSON_C_TO_STRING_PLAIN),
				4095 - strlen(s));
			cr_log_info("%.2f s %s: %s", fa_double(u, "t"), state,
				    fa_str(u, "message"));
		} else {
			cr_assert_eq(json_object_object_length(res), 0,
				     "%s (reason %s) carries a check result", state,
				     reason ? reason : "none");
		}
	}
	return s;
}

/* The task runs to its end (not killed by its check); its updates. */
static void expect_states(const char *cmd, const char *ck, const char *type, const char *want)
{
	char *ti = vm_task_json(cmd, "check", ck);
	const char *args[] = {"--scenario", "finish", "--task", ti, VMENV, NULL};
	struct json_object *r = run(args);
	char *states = check_states(r, "t1", type);

	cr_assert_str_eq(states, want);
	assert_nothing_left();
	free(states);
	free(ti);
	json_object_put(r);
}

/* The result flips when the task creates the file the check looks for
 * (in the guest's own /tmp): exit code 1, then 0; no update while it
 * stays the same. Once the check hangs, its timeout gives no result: the
 * empty one, as Mesos's checker reports a timed-out command. */
Test(executor_check, command_check_result_changes_are_updates)
{
	expect_states("sleep 5; touch /tmp/flag; sleep 5; touch /tmp/hang; sleep 16",
		      "{\"type\":\"COMMAND\",\"command\":{\"command\":{\"value\":"
		      "\"test -e /tmp/flag || exit 1; test -e /tmp/hang && sleep 600; exit 0\"}},"
		      "\"delay_seconds\":0,\"interval_seconds\":1,\"timeout_seconds\":8}",
		      "COMMAND",
		      "TASK_STARTING,TASK_RUNNING,TASK_RUNNING{\"exit_code\":1},"
		      "TASK_RUNNING{\"exit_code\":0},TASK_RUNNING{},TASK_FINISHED");
}

/* busybox httpd on the task's port: 404 while the page is missing, 200 once
 * the task wrote it (a status code, not a verdict), then no answer at all
 * once the task stopped serving: the empty result. */
Test(executor_check, http_check_reports_the_status_code)
{
	expect_states("mkdir -p www && { httpd -f -p 127.0.0.1:8080 -h www & p=$!; sleep 5; "
		      "echo ok > www/index.html; sleep 5; kill $p; sleep 5; }",
		      "{\"type\":\"HTTP\",\"http\":{\"port\":8080,\"path\":\"/index.html\"},"
		      "\"delay_seconds\":0,\"interval_seconds\":1,\"timeout_seconds\":20}",
		      "HTTP",
		      "TASK_STARTING,TASK_RUNNING,TASK_RUNNING{\"status_code\":404},"
		      "TASK_RUNNING{\"status_code\":200},TASK_RUNNING{},TASK_FINISHED");
}

/* TCP: no listener yet (succeeded false), the task's port open, closed. */
Test(executor_check, tcp_check_follows_the_task_port)
{
	expect_states("sleep 5; mkdir -p www && { httpd -f -p 127.0.0.1:8080 -h www & p=$!; "
		      "sleep 5; kill $p; sleep 5; }",
		      "{\"type\":\"TCP\",\"tcp\":{\"port\":8080},"
		      "\"delay_seconds\":0,\"interval_seconds\":1,\"timeout_seconds\":20}",
		      "TCP",
		      "TASK_STARTING,TASK_RUNNING,TASK_RUNNING{\"succeeded\":false},"
		      "TASK_RUNNING{\"succeeded\":true},TASK_RUNNING{\"succeeded\":false},"
		      "TASK_FINISHED");
}

/* In a LAUNCH_GROUP each task has its own check, run in the group's VM: g1
 * and g2 both see g1's flag appear; g1 ends on its own, then g2 is killed
 * (the group's policy) and its check stops with it. */
Test(executor_check, each_task_of_a_group_has_its_check)
{
	const char *args[] = {
	    "--scenario",
	    "group",
	    VMENV,
	    "--cpus",
	    "0.5",
	    "--command",
	    "sleep 8; touch /tmp/flag; sleep 8",
	    "--command2",
	    "sleep 600",
	    "--task-extra",
	    "{\"check\":{\"type\":\"COMMAND\",\"command\":{\"command\":{\"value\":"
	    "\"test -e /tmp/flag\"}},\"delay_seconds\":0,\"interval_seconds\":1,"
	    "\"timeout_seconds\":20}}",
	    NULL};
	struct json_object *r = run(args);
	char *g1 = check_states(r, "g1", "COMMAND"), *g2 = check_states(r, "g2", "COMMAND");
	const char *tail = ",TASK_RUNNING{\"exit_code\":0},TASK_KILLED";

	cr_assert_str_eq(g1, "TASK_STARTING,TASK_RUNNING,TASK_RUNNING{\"exit_code\":1},"
			     "TASK_RUNNING{\"exit_code\":0},TASK_FINISHED");
	cr_assert(strlen(g2) > strlen(tail) && !strcmp(g2 + strlen(g2) - strlen(tail), tail),
		  "g2: %s", g2);
	assert_nothing_left();
	free(g1);
	free(g2);
	json_object_put(r);
}
