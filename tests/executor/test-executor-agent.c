/*
 * mesos-vm-executor against the fake agent, in the scenarios that end before
 * any VM exists: subscription, bad input, garbage in the stream, reconnect
 * with an unacknowledged update, shutdown. vmsupd is pointed at a socket
 * nobody serves, so a bug that reached it would show as a wrong message.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/executor/fake-agent-run.h"

#define NOSOCK "--env", "VMSUP_SOCKET=/nonexistent/vmsupd.sock"

static char *sandbox;

static void setup(void)
{
	sandbox = fa_sandbox();
}

static void teardown(void)
{
	fa_rmrf(sandbox);
	free(sandbox);
}

TestSuite(executor_agent, .init = setup, .fini = teardown, .timeout = 120);

static char *executor_log(void)
{
	char p[4200];
	snprintf(p, sizeof(p), "%s/stderr", sandbox);
	return fa_slurp(p);
}

Test(executor_agent, subscribes_heartbeat_message_shutdown)
{
	const char *args[] = {"--scenario", "idle", NOSOCK, NULL};
	struct json_object *r = fa_run(sandbox, args);
	struct json_object *subs;
	cr_assert_eq(fa_violations(r), 0);
	json_object_object_get_ex(r, "subscribes", &subs);
	cr_assert_eq(json_object_array_length(subs), 1);
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	cr_assert_lt(fa_double(r, "exit_after_shutdown_s"), 5.0, "exits within the grace");
	char *log = executor_log();
	cr_assert(strstr(log, "MESSAGE of 2 byte(s)") && strstr(log, "\"hi\""),
		  "the framework message is logged: %s", log);
	free(log);
	json_object_put(r);
}

/* Every call is checked against mesos.v1.executor.Call by the fake agent; a
 * MESSAGE event is schema-valid too, and the calls made are the ones expected. */
Test(executor_agent, calls_are_schema_valid)
{
	const char *args[] = {"--scenario", "idle", NOSOCK, NULL};
	struct json_object *r = fa_run(sandbox, args), *calls;
	cr_assert_eq(fa_violations(r), 0);
	cr_assert(json_object_object_get_ex(r, "calls", &calls));
	cr_assert_geq(json_object_array_length(calls), 1);
	cr_assert_str_eq(json_object_get_string(json_object_array_get_idx(calls, 0)), "SUBSCRIBE");
	json_object_put(r);
}

/* An agent with --authenticate_http_executors: the token goes on every call. */
Test(executor_agent, auth_token_is_sent_on_every_call)
{
	const char *args[] = {"--scenario", "error", NOSOCK,
			      "--mem",	    "1",     "--token",
			      "s3cr3t",	    "--env", "MESOS_EXECUTOR_AUTHENTICATION_TOKEN=s3cr3t",
			      NULL};
	struct json_object *r = fa_run(sandbox, args), *calls;
	cr_assert_eq(fa_violations(r), 0);
	cr_assert_eq(fa_int(r, "unauthorized"), 0, "no call went without the token");
	char *st = fa_states(r, "t1");
	cr_assert_str_eq(st, "TASK_ERROR", "the UPDATE got through: %s", st);
	free(st);
	json_object_object_get_ex(r, "calls", &calls);
	cr_assert_geq(json_object_array_length(calls), 2, "SUBSCRIBE and UPDATE");
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	json_object_put(r);
}

/* Without the token (or with a wrong one) the agent answers 401: a clear
 * line in the executor's log and an exit, not an endless retry. */
static void refused(const char *env_token)
{
	const char *args[] = {"--scenario",
			      "idle",
			      NOSOCK,
			      "--token",
			      "s3cr3t",
			      "--checkpoint",
			      env_token ? "--env" : NULL,
			      env_token,
			      NULL};
	struct json_object *r = fa_run(sandbox, args);
	cr_assert_geq(fa_int(r, "unauthorized"), 1);
	cr_assert_eq(fa_int(r, "exit_code"), 1);
	char *log = executor_log();
	cr_assert(strstr(log, "401 Unauthorized") &&
		      strstr(log, env_token ? "did not accept" : "is not set"),
		  "the log says why: %s", log);
	free(log);
	json_object_put(r);
}

Test(executor_agent, no_auth_token_is_a_clear_error)
{
	refused(NULL);
}

Test(executor_agent, wrong_auth_token_is_a_clear_error)
{
	refused("MESOS_EXECUTOR_AUTHENTICATION_TOKEN=wrong");
}

/* The agent answers 503 while it recovers: the update is posted again (same
 * uuid) until taken, and the executor still exits once it is acknowledged. */
Test(executor_agent, refused_update_is_posted_again)
{
	const char *args[] = {"--scenario", "error", NOSOCK, "--refuse-updates", "2", NULL};
	struct json_object *r = fa_run(sandbox, args);
	struct json_object *refused;
	char *states = fa_states(r, "t1");
	cr_assert_eq(fa_violations(r), 0);
	json_object_object_get_ex(r, "refused_updates", &refused);
	cr_assert_eq(json_object_array_length(refused), 2, "two attempts were refused");
	cr_assert_str_eq(states, "TASK_ERROR", "then taken, once");
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	char *log = executor_log();
	cr_assert(strstr(log, "posting it again"), "logged: %s", log);
	free(log);
	free(states);
	json_object_put(r);
}

/* One bad LAUNCH: a TASK_ERROR naming the task, with a message saying why. */
static void bad_launch(const char *const *args, const char *task_id, const char *why)
{
	struct json_object *r = fa_run(sandbox, args);
	char *states = fa_states(r, task_id);
	cr_assert_eq(fa_violations(r), 0);
	cr_assert_str_eq(states, "TASK_ERROR");
	struct json_object *u = fa_update(r, task_id, "TASK_ERROR");
	cr_assert(strstr(fa_str(u, "message"), why), "message '%s' should say '%s'",
		  fa_str(u, "message"), why);
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	char *log = executor_log();
	cr_assert(strstr(log, "TASK_ERROR"), "executor logs the failure");
	free(log);
	free(states);
	json_object_put(r);
}

Test(executor_agent, launch_without_command)
{
	const char *args[] = {"--scenario",
			      "error",
			      NOSOCK,
			      "--task",
			      "{\"name\":\"x\",\"task_id\":{\"value\":\"nocmd\"},\"resources\":[]}",
			      NULL};
	bad_launch(args, "nocmd", "no command");
}

Test(executor_agent, launch_with_invalid_task_id)
{
	const char *args[] = {"--scenario", "error", NOSOCK, "--task-id", "bad id/../x", NULL};
	bad_launch(args, "bad id/../x", "not allowed");
}

Test(executor_agent, launch_with_more_memory_than_the_host)
{
	const char *args[] = {"--scenario", "error", NOSOCK, "--mem", "999999999", NULL};
	bad_launch(args, "t1", "exceeds the host");
}

Test(executor_agent, launch_with_more_cpus_than_the_host)
{
	const char *args[] = {"--scenario", "error", NOSOCK, "--cpus", "4096", NULL};
	bad_launch(args, "t1", "CPUs");
}

Test(executor_agent, launch_with_secret_environment)
{
	const char *args[] = {
	    "--scenario",
	    "error",
	    NOSOCK,
	    "--task",
	    "{\"task_id\":{\"value\":\"sec\"},\"command\":{\"value\":\"true\",\"environment\":"
	    "{\"variables\":[{\"name\":\"P\",\"type\":\"SECRET\",\"secret\":{\"type\":"
	    "\"REFERENCE\",\"reference\":{\"name\":\"p\"}}}]}}}",
	    NULL};
	bad_launch(args, "sec", "SECRET");
}

/* A task with health_check hc (JSON) is refused with why in the message. */
static void bad_health_check(const char *hc, const char *why)
{
	char ti[1024];
	const char *args[] = {"--scenario", "error", NOSOCK, "--task", ti, NULL};

	snprintf(ti, sizeof(ti),
		 "{\"task_id\":{\"value\":\"hc\"},\"command\":{\"value\":\"true\"},"
		 "\"health_check\":%s}",
		 hc);
	bad_launch(args, "hc", why);
}

/* An invalid health_check refuses the task before any VM exists, with the
 * field named (Mesos's validation::healthCheck refuses the same). */
Test(executor_agent, launch_with_invalid_health_checks)
{
	bad_health_check("{\"type\":\"HTTP\",\"http\":{\"port\":80,\"path\":\"x\"}}",
			 "health_check.http.path");
	bad_health_check("{\"type\":\"TCP\",\"tcp\":{\"port\":70000}}", "health_check.tcp.port");
	bad_health_check("{\"type\":\"COMMAND\",\"interval_seconds\":-1,"
			 "\"command\":{\"value\":\"true\"}}",
			 "interval_seconds");
}

/* More ports than a VM can publish (16, each for tcp and udp). */
Test(executor_agent, launch_with_too_many_ports)
{
	const char *args[] = {
	    "--scenario",
	    "error",
	    NOSOCK,
	    "--task",
	    "{\"task_id\":{\"value\":\"pt\"},\"command\":{\"value\":\"true\"},\"resources\":[{"
	    "\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":31000,"
	    "\"end\":31100}]}}]}",
	    NULL};
	bad_launch(args, "pt", "more than 16 ports");
}

Test(executor_agent, vmsupd_unreachable_is_a_task_error)
{
	const char *args[] = {"--scenario", "error", NOSOCK, NULL};
	bad_launch(args, "t1", "could not be created");
}

Test(executor_agent, garbage_without_checkpoint_exits)
{
	const char *args[] = {"--scenario", "garbage", NOSOCK, NULL};
	struct json_object *r = fa_run(sandbox, args);
	cr_assert_eq(fa_violations(r), 0);
	cr_assert_eq(fa_int(r, "exit_code"), 1, "a broken stream without checkpointing ends us");
	char *log = executor_log();
	cr_assert(strstr(log, "protocol error"), "logged: %s", log);
	free(log);
	json_object_put(r);
}

Test(executor_agent, garbage_with_checkpoint_resubscribes)
{
	const char *args[] = {"--scenario", "garbage", "--checkpoint", NOSOCK, "--garbage",
			      "5\\nhello",  NULL};
	struct json_object *r = fa_run(sandbox, args);
	struct json_object *subs;
	cr_assert_eq(fa_violations(r), 0);
	json_object_object_get_ex(r, "subscribes", &subs);
	cr_assert_geq(json_object_array_length(subs), 2, "resubscribed after the bad record");
	cr_assert_eq(fa_int(r, "exit_code"), 0, "then shut down cleanly");
	char *log = executor_log();
	cr_assert(strstr(log, "protocol error"), "logged: %s", log);
	free(log);
	json_object_put(r);
}

Test(executor_agent, garbage_length_prefix)
{
	const char *args[] = {"--scenario", "garbage",	 "--checkpoint",
			      NOSOCK,	    "--garbage", "99999999999999999999999\\n",
			      NULL};
	struct json_object *r = fa_run(sandbox, args);
	cr_assert_eq(fa_violations(r), 0);
	cr_assert_eq(fa_int(r, "exit_code"), 0);
	char *log = executor_log();
	cr_assert(strstr(log, "recordio"), "logged: %s", log);
	free(log);
	json_object_put(r);
}

Test(executor_agent, reconnect_resends_unacknowledged_update)
{
	const char *args[] = {"--scenario", "reconnect",	 "--checkpoint", NOSOCK, "--mem",
			      "1",	    "--reconnect-after", "TASK_ERROR",	 NULL};
	struct json_object *r = fa_run(sandbox, args);
	struct json_object *subs, *last, *ups, *tasks;
	cr_assert_eq(fa_violations(r), 0);
	json_object_object_get_ex(r, "subscribes", &subs);
	cr_assert_geq(json_object_array_length(subs), 2);
	last = json_object_array_get_idx(subs, json_object_array_length(subs) - 1);
	json_object_object_get_ex(last, "updates", &ups);
	json_object_object_get_ex(last, "tasks", &tasks);
	cr_assert_eq(json_object_array_length(ups), 1, "the unacknowledged update is resent");
	cr_assert_str_eq(fa_str(json_object_array_get_idx(ups, 0), "uuid"),
			 fa_str(fa_update(r, "t1", "TASK_ERROR"), "uuid"),
			 "resent with its original uuid");
	cr_assert_eq(json_object_array_length(tasks), 1, "task never acknowledged: listed");
	cr_assert_eq(fa_int(r, "exit_code"), 0, "exits once the update is acknowledged");
	json_object_put(r);
}

Test(executor_agent, agent_gone_without_checkpoint_exits)
{
	const char *args[] = {"--scenario",	   "reconnect",	 NOSOCK,      "--mem", "1",
			      "--reconnect-after", "TASK_ERROR", "--timeout", "20",    NULL};
	struct json_object *r = fa_run(sandbox, args);
	struct json_object *subs;
	json_object_object_get_ex(r, "subscribes", &subs);
	cr_assert_eq(json_object_array_length(subs), 1, "no resubscribe without checkpointing");
	cr_assert_eq(fa_int(r, "exit_code"), 1);
	json_object_put(r);
}
