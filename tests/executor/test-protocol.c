/* Executor protocol: calls as the reference spells them, events, TaskInfo,
 * durations, VM names from task ids. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "src/executor/env.h"
#include "src/executor/check-spec.h"
#include "src/executor/health-spec.h"
#include "src/executor/protocol.h"
#include "src/executor/tasks.h"

static struct json_object *path(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v = NULL;
	cr_assert(json_object_object_get_ex(o, a, &v), "missing %s", a);
	if (b)
		cr_assert(json_object_object_get_ex(v, b, &v), "missing %s.%s", a, b);
	return v;
}

Test(protocol, base64_roundtrip)
{
	const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	for (size_t i = 0; i < 7; i++) {
		char *e = proto_b64_encode(cases[i], strlen(cases[i]));
		unsigned char *d;
		size_t n;
		cr_assert_str_eq(e, enc[i]);
		cr_assert_eq(proto_b64_decode(e, &d, &n), 0);
		cr_assert_eq(n, strlen(cases[i]));
		cr_assert_eq(memcmp(d, cases[i], n), 0);
		free(d);
		free(e);
	}
	unsigned char *d;
	size_t n;
	cr_assert_eq(proto_b64_decode("Zg=", &d, &n), -1);
	cr_assert_eq(proto_b64_decode("Z!==", &d, &n), -1);
	cr_assert_eq(proto_b64_decode("Zg==Zg==", &d, &n), -1);
}

Test(protocol, status_has_fresh_16_byte_uuid)
{
	char *u1 = NULL, *u2 = NULL;
	struct json_object *s1 = proto_status("T1", "TASK_RUNNING", "EX", "m", "10.0.2.15", &u1);
	struct json_object *s2 = proto_status("T1", "TASK_RUNNING", "EX", NULL, NULL, &u2);
	unsigned char *raw;
	size_t n;

	cr_assert_str_neq(u1, u2);
	cr_assert_eq(proto_b64_decode(u1, &raw, &n), 0);
	cr_assert_eq(n, 16, "uuid must be 16 raw bytes, got %zu", n);
	cr_assert_eq(raw[6] >> 4, 4, "version 4");
	free(raw);
	cr_assert_str_eq(json_object_get_string(path(s1, "uuid", NULL)), u1);
	cr_assert_str_eq(json_object_get_string(path(s1, "task_id", "value")), "T1");
	cr_assert_str_eq(json_object_get_string(path(s1, "executor_id", "value")), "EX");
	cr_assert_str_eq(json_object_get_string(path(s1, "source", NULL)), "SOURCE_EXECUTOR");
	cr_assert_str_eq(json_object_get_string(path(s1, "state", NULL)), "TASK_RUNNING");
	cr_assert(json_object_is_type(path(s1, "timestamp", NULL), json_type_double));
	cr_assert(strstr(json_object_to_json_string(path(s1, "labels", NULL)), "10.0.2.15"));
	cr_assert(strstr(json_object_to_json_string_ext(path(s1, "container_status", NULL),
							JSON_C_TO_STRING_PLAIN),
			 "\"ip_address\":\"10.0.2.15\""));
	cr_assert_not(json_object_object_get_ex(s2, "message", NULL));
	json_object_put(s1);
	json_object_put(s2);
	free(u1);
	free(u2);
}

Test(protocol, update_and_subscribe_calls)
{
	char *u = NULL;
	struct json_object *st = proto_status("T1", "TASK_FINISHED", "EX", NULL, NULL, &u);
	struct json_object *call = proto_update("FW", "EX", st);
	cr_assert_str_eq(json_object_get_string(path(call, "type", NULL)), "UPDATE");
	cr_assert_str_eq(json_object_get_string(path(call, "framework_id", "value")), "FW");
	cr_assert_str_eq(json_object_get_string(path(call, "executor_id", "value")), "EX");
	cr_assert_eq(path(path(call, "update", "status"), "uuid", NULL), path(st, "uuid", NULL));
	json_object_put(call);

	struct json_object *ups = json_object_new_array(), *tasks = json_object_new_array();
	json_object_array_add(ups, json_object_get(st));
	json_object_array_add(tasks, json_tokener_parse("{\"task_id\":{\"value\":\"T1\"}}"));
	call = proto_subscribe("FW", "EX", tasks, ups);
	cr_assert_str_eq(json_object_get_string(path(call, "type", NULL)), "SUBSCRIBE");
	struct json_object *sub = path(call, "subscribe", NULL), *a;
	cr_assert(json_object_object_get_ex(sub, "unacknowledged_updates", &a));
	cr_assert_eq(json_object_array_length(a), 1);
	/* Call.Update has only "status" (executor.proto): nothing else may be there. */
	cr_assert_eq(json_object_object_length(json_object_array_get_idx(a, 0)), 1);
	cr_assert_str_eq(json_object_get_string(path(
			     path(json_object_array_get_idx(a, 0), "status", NULL), "uuid", NULL)),
			 u);
	cr_assert(json_object_object_get_ex(sub, "unacknowledged_tasks", &a));
	cr_assert_eq(json_object_array_length(a), 1);
	json_object_put(call);
	json_object_put(ups);
	json_object_put(tasks);
	json_object_put(st);
	free(u);

	call = proto_message("FW", "EX", "hi", 2);
	cr_assert_str_eq(json_object_get_string(path(call, "message", "data")), "aGk=");
	cr_assert(!json_object_object_get_ex(call, "data", NULL),
		  "Call has no top-level data (it is message.data)");
	json_object_put(call);
}

static int parse(const char *s, struct proto_event *ev)
{
	char *err = NULL;
	int rc = proto_event_parse(s, strlen(s), ev, &err);
	free(err);
	return rc;
}

Test(protocol, events)
{
	struct proto_event ev;
	cr_assert_eq(parse("{\"type\":\"HEARTBEAT\"}", &ev), 0);
	cr_assert_eq(ev.type, EV_HEARTBEAT);
	proto_event_clear(&ev);
	cr_assert_eq(parse("{\"type\":\"SHUTDOWN\"}", &ev), 0);
	cr_assert_eq(ev.type, EV_SHUTDOWN);
	proto_event_clear(&ev);
	cr_assert_eq(parse("{\"type\":\"KILL\",\"kill\":{\"task_id\":{\"value\":\"T1\"},"
			   "\"kill_policy\":{\"grace_period\":{\"nanoseconds\":3000000000}}}}",
			   &ev),
		     0);
	cr_assert_eq(ev.type, EV_KILL);
	cr_assert_str_eq(ev.task_id, "T1");
	cr_assert_eq(ev.grace_ns, 3000000000LL);
	proto_event_clear(&ev);
	cr_assert_eq(parse("{\"type\":\"KILL\",\"kill\":{\"task_id\":{\"value\":\"T1\"}}}", &ev),
		     0);
	cr_assert_eq(ev.grace_ns, -1);
	proto_event_clear(&ev);
	cr_assert_eq(parse("{\"type\":\"ACKNOWLEDGED\",\"acknowledged\":{\"task_id\":{\"value\":"
			   "\"T1\"},\"uuid\":\"AAAAAAAAAAAAAAAAAAAAAA==\"}}",
			   &ev),
		     0);
	cr_assert_str_eq(ev.uuid_b64, "AAAAAAAAAAAAAAAAAAAAAA==");
	proto_event_clear(&ev);
	cr_assert_eq(parse("{\"type\":\"LAUNCH\",\"launch\":{\"task\":{\"task_id\":{\"value\":"
			   "\"T1\"}}}}",
			   &ev),
		     0);
	cr_assert_eq(json_object_array_length(ev.tasks), 1);
	proto_event_clear(&ev);
	cr_assert_eq(parse("{\"type\":\"LAUNCH_GROUP\",\"launch_group\":{\"task_group\":{\"tasks\":"
			   "[{\"task_id\":{\"value\":\"a\"}},{\"task_id\":{\"value\":\"b\"}}]}}}",
			   &ev),
		     0);
	cr_assert_eq(json_object_array_length(ev.tasks), 2);
	proto_event_clear(&ev);
	cr_assert_eq(parse("{\"type\":\"ERROR\",\"error\":{\"message\":\"boom\"}}", &ev), 0);
	cr_assert_str_eq(ev.message, "boom");
	proto_event_clear(&ev);
	/* Broken stream vs. a bad event on a good stream. */
	cr_assert_eq(parse("{\"type\":", &ev), -1);
	cr_assert_eq(parse("{\"type\":\"HEARTBEAT\"} {}", &ev), -1);
	cr_assert_eq(parse("{\"type\":\"NOPE\"}", &ev), -2);
	cr_assert_eq(parse("{\"type\":\"KILL\"}", &ev), -2);
	cr_assert_eq(parse("[1]", &ev), -2);
}

static int task(const char *json, struct proto_task *t, char **err)
{
	struct json_object *o = json_tokener_parse(json);
	cr_assert_not_null(o, "test JSON: %s", json);
	int rc = proto_task_parse(o, t, err);
	json_object_put(o);
	return rc;
}

Test(protocol, taskinfo)
{
	struct proto_task t;
	char *err = NULL;
	cr_assert_eq(task("{\"task_id\":{\"value\":\"T1\"},\"resources\":["
			  "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.5}},"
			  "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":256}},"
			  "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":32}}],"
			  "\"command\":{\"value\":\"echo hi\",\"environment\":{\"variables\":"
			  "[{\"name\":\"A\",\"value\":\"x y\"}]},\"user\":\"nobody\"}}",
			  &t, &err),
		     0, "%s", err);
	cr_assert_str_eq(t.task_id, "T1");
	cr_assert_float_eq(t.cpus, 0.5, 1e-9);
	cr_assert_float_eq(t.mem_mib, 288, 1e-9);
	cr_assert(t.shell, "shell defaults to true");
	cr_assert_str_eq(t.value, "echo hi");
	cr_assert_eq(t.nenv, 1);
	cr_assert_str_eq(t.env[0].value, "x y");
	cr_assert_str_eq(t.user, "nobody");
	proto_task_clear(&t);

	cr_assert_eq(task("{\"task_id\":{\"value\":\"T2\"},\"command\":{\"shell\":false,"
			  "\"value\":\"/bin/echo\",\"arguments\":[\"echo\",\"a b\"]}}",
			  &t, &err),
		     0);
	cr_assert_not(t.shell);
	cr_assert_eq(t.argc, 2);
	cr_assert_str_eq(t.argv[1], "a b");
	cr_assert_eq(t.cpus, -1);
	proto_task_clear(&t);

	/* Errors keep the task id so TASK_ERROR can name the task. */
	cr_assert_eq(task("{\"task_id\":{\"value\":\"T3\"}}", &t, &err), -1);
	cr_assert_str_eq(t.task_id, "T3");
	cr_assert(strstr(err, "no command"), "%s", err);
	free(err);
	err = NULL;
	proto_task_clear(&t);
	cr_assert_eq(task("{\"task_id\":{\"value\":\"T4\"},\"command\":{\"value\":\"x\","
			  "\"environment\":{\"variables\":[{\"name\":\"S\",\"type\":\"SECRET\","
			  "\"secret\":{}}]}}}",
			  &t, &err),
		     -1);
	cr_assert(strstr(err, "SECRET"), "%s", err);
	free(err);
	err = NULL;
	proto_task_clear(&t);
	cr_assert_eq(task("{\"name\":\"x\"}", &t, &err), -1);
	cr_assert_null(t.task_id);
	free(err);
	proto_task_clear(&t);
}

/* A COMMAND probe with Mesos's default timings, run from the sandbox /sb. */
static void assert_default_command(const struct probe_spec *p)
{
	cr_assert_str_eq(p->type, "COMMAND");
	cr_assert_float_eq(p->delay_s, 15, 1e-9);
	cr_assert_float_eq(p->interval_s, 10, 1e-9);
	cr_assert_float_eq(p->timeout_s, 20, 1e-9);
	cr_assert(strstr(p->script, "cd '/sb'"), "%s", p->script);
}

/* health_check: Mesos's defaults, and the script each type runs in the guest. */
Test(protocol, health_checks)
{
	struct health_spec h;
	char *err = NULL;
	struct json_object *ti = json_tokener_parse(
	    "{\"health_check\":{\"type\":\"COMMAND\",\"command\":{\"value\":\"test -f 'a b'\","
	    "\"environment\":{\"variables\":[{\"name\":\"X\",\"value\":\"it's\"}]}}}}");

	cr_assert_eq(health_spec_parse(ti, "/sb", &h, &err), 1, "%s", err);
	assert_default_command(&h.p);
	cr_assert_float_eq(h.grace_s, 10, 1e-9);
	cr_assert_eq(h.consecutive_failures, 3);
	cr_assert(strstr(h.p.script, "export X='it'\\''s'"), "%s", h.p.script);
	cr_assert(strstr(h.p.script, "exec /bin/sh -c 'test -f '\\''a b'\\'''"), "%s", h.p.script);
	health_spec_clear(&h);
	json_object_put(ti);

	ti = json_tokener_parse(
	    "{\"health_check\":{\"type\":\"HTTP\",\"http\":{\"port\":8080,"
	    "\"path\":\"/h\"},\"consecutive_failures\":1,\"timeout_seconds\":0}}");
	cr_assert_eq(health_spec_parse(ti, "/sb", &h, &err), 1, "%s", err);
	cr_assert(strstr(h.p.script, "url='http://127.0.0.1:8080/h'"), "%s", h.p.script);
	cr_assert_eq(h.consecutive_failures, 1);
	cr_assert_float_eq(h.p.timeout_s, 0, 1e-9);
	health_spec_clear(&h);
	json_object_put(ti);

	ti = json_tokener_parse("{\"health_check\":{\"type\":\"TCP\",\"tcp\":{\"port\":22}}}");
	cr_assert_eq(health_spec_parse(ti, "/sb", &h, &err), 1, "%s", err);
	cr_assert(strstr(h.p.script, "127.0.0.1 22 -e true"), "%s", h.p.script);
	health_spec_clear(&h);
	json_object_put(ti);

	ti = json_tokener_parse("{\"name\":\"no check\"}");
	cr_assert_eq(health_spec_parse(ti, "/sb", &h, &err), 0);
	json_object_put(ti);
	ti = json_tokener_parse("{\"health_check\":{\"type\":\"HTTP\"}}");
	cr_assert_eq(health_spec_parse(ti, "/sb", &h, &err), -1);
	cr_assert(strstr(err, "health_check.http.port"), "%s", err);
	free(err);
	json_object_put(ti);
}

/* check (CheckInfo): Mesos's defaults; COMMAND's CommandInfo is
 * check.command.command; HTTP prints the status code it got (any). */
Test(protocol, checks)
{
	static const char *const ok[][3] = {
	    {"{\"check\":{\"type\":\"COMMAND\",\"command\":{\"command\":{\"value\":\"test -e "
	     "/tmp/flag\"}}}}",
	     "exec /bin/sh -c 'test -e /tmp/flag'", "cd '/sb'"},
	    {"{\"check\":{\"type\":\"HTTP\",\"http\":{\"port\":8080,\"path\":\"/h\"},"
	     "\"interval_seconds\":0.5}}",
	     "url='http://127.0.0.1:8080/h'", "echo \"$code\""},
	    {"{\"check\":{\"type\":\"TCP\",\"tcp\":{\"port\":22}}}", "127.0.0.1 22 -e true",
	     "exit 1"},
	};
	struct probe_spec c;
	char *err = NULL;
	struct json_object *ti;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ti = json_tokener_parse(ok[i][0]);
		cr_assert_eq(check_spec_parse(ti, "/sb", &c, &err), 1, "%s", err);
		if (i == 0)
			assert_default_command(&c);
		else if (i == 1)
			cr_assert_float_eq(c.interval_s, 0.5, 1e-9);
		for (int k = 1; k < 3; k++)
			cr_assert(strstr(c.script, ok[i][k]), "%s", c.script);
		probe_spec_clear(&c);
		json_object_put(ti);
	}
	ti = json_tokener_parse("{\"name\":\"no check\"}");
	cr_assert_eq(check_spec_parse(ti, "/sb", &c, &err), 0);
	json_object_put(ti);
}

/* Each invalid CheckInfo refused with the field it is about. */
Test(protocol, check_refusals)
{
	static const char *const bad[][2] = {
	    {"{\"check\":[]}", "check is not an object"},
	    {"{\"check\":{\"type\":\"GRPC\",\"tcp\":{\"port\":1}}}",
	     "check.type must be COMMAND, HTTP or TCP"},
	    {"{\"check\":{\"command\":{\"command\":{\"value\":\"true\"}}}}",
	     "check.type must be COMMAND, HTTP or TCP"},
	    {"{\"check\":{\"type\":\"COMMAND\"}}", "check.command is required for type COMMAND"},
	    /* A HealthCheck's layout is not a CheckInfo's. */
	    {"{\"check\":{\"type\":\"COMMAND\",\"command\":{\"value\":\"true\"}}}",
	     "check.command.command is required for type COMMAND"},
	    {"{\"check\":{\"type\":\"COMMAND\",\"command\":{\"command\":{\"shell\":true}}}}",
	     "check.command.command.value is required"},
	    {"{\"check\":{\"type\":\"TCP\",\"tcp\":{\"port\":22},\"interval_seconds\":-1}}",
	     "check.interval_seconds must be a non-negative number of seconds"},
	    {"{\"check\":{\"type\":\"TCP\",\"tcp\":{\"port\":22},\"delay_seconds\":\"5\"}}",
	     "check.delay_seconds is not a number"},
	    {"{\"check\":{\"type\":\"HTTP\",\"http\":{\"port\":70000}}}",
	     "check.http.port 70000 is not a port"},
	    {"{\"check\":{\"type\":\"HTTP\",\"http\":{\"port\":80,\"path\":\"x\"}}}",
	     "check.http.path must start with '/'"},
	    {"{\"check\":{\"type\":\"TCP\"}}", "check.tcp.port is required (an integer)"},
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct probe_spec c;
		char *err = NULL;
		struct json_object *ti = json_tokener_parse(bad[i][0]);

		cr_assert_not_null(ti, "%s", bad[i][0]);
		cr_assert_eq(check_spec_parse(ti, "/sb", &c, &err), -1, "%s", bad[i][0]);
		cr_assert_str_eq(err, bad[i][1], "%s", bad[i][0]);
		cr_assert_null(c.script);
		free(err);
		json_object_put(ti);
	}
}

Test(protocol, terminal_states)
{
	cr_assert(proto_state_terminal("TASK_FINISHED"));
	cr_assert(proto_state_terminal("TASK_ERROR"));
	cr_assert_not(proto_state_terminal("TASK_RUNNING"));
	cr_assert_not(proto_state_terminal("TASK_KILLING"));
}

Test(env, durations)
{
	int64_t ns;
	char *err = NULL;
	cr_assert_eq(env_parse_duration("5secs", &ns, &err), 0);
	cr_assert_eq(ns, 5000000000LL);
	cr_assert_eq(env_parse_duration("1.5secs", &ns, &err), 0);
	cr_assert_eq(ns, 1500000000LL);
	cr_assert_eq(env_parse_duration("15mins", &ns, &err), 0);
	cr_assert_eq(ns, 900000000000LL);
	cr_assert_eq(env_parse_duration("250ms", &ns, &err), 0);
	cr_assert_eq(ns, 250000000LL);
	const char *bad[] = {"", "5", "secs", "5 secs", "-1secs", "5sec", "1e400secs"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(env_parse_duration(bad[i], &ns, &err), -1, "'%s'", bad[i]);
		cr_assert_not_null(err);
		free(err);
		err = NULL;
	}
}

Test(env, load_requires_the_agent_variables)
{
	struct exec_env e;
	char *err = NULL;
	unsetenv("MESOS_AGENT_ENDPOINT");
	cr_assert_eq(env_load(&e, &err), -1);
	cr_assert(strstr(err, "MESOS_AGENT_ENDPOINT"));
	free(err);
	err = NULL;
	env_free(&e);
	setenv("MESOS_AGENT_ENDPOINT", "127.0.0.1:99999", 1);
	setenv("MESOS_FRAMEWORK_ID", "FW", 1);
	setenv("MESOS_EXECUTOR_ID", "EX", 1);
	setenv("MESOS_DIRECTORY", "/tmp/sb", 1);
	cr_assert_eq(env_load(&e, &err), -1);
	cr_assert(strstr(err, "ip:port"), "%s", err);
	free(err);
	err = NULL;
	env_free(&e);
	setenv("MESOS_AGENT_ENDPOINT", "127.0.0.1:5051", 1);
	setenv("MESOS_CHECKPOINT", "1", 1);
	setenv("MESOS_RECOVERY_TIMEOUT", "2mins", 1);
	setenv("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", "bogus", 1);
	cr_assert_eq(env_load(&e, &err), -1);
	cr_assert(strstr(err, "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"), "%s", err);
	free(err);
	err = NULL;
	env_free(&e);
	unsetenv("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD");
	cr_assert_eq(env_load(&e, &err), 0, "%s", err);
	cr_assert_str_eq(e.agent_host, "127.0.0.1");
	cr_assert_eq(e.agent_port, 5051);
	cr_assert(e.checkpoint);
	cr_assert_eq(e.recovery_timeout_ns, 120000000000LL);
	cr_assert_eq(e.shutdown_grace_ns, 5000000000LL);
	cr_assert_str_eq(e.sandbox, "/tmp/sb", "MESOS_SANDBOX defaults to MESOS_DIRECTORY");
	env_free(&e);
}

Test(tasks, vm_names_and_acks)
{
	char vm[TASK_VM_NAME_MAX + 1], *err = NULL;
	cr_assert_eq(task_vm_name("web.1-a_b", vm, &err), 0);
	cr_assert_str_eq(vm, "mesos-web.1-a_b");
	cr_assert_eq(task_vm_name("a/b", vm, &err), -1);
	free(err);
	err = NULL;
	cr_assert_eq(task_vm_name("", vm, &err), -1);
	free(err);
	err = NULL;
	char longid[80];
	memset(longid, 'a', 79);
	longid[79] = '\0';
	cr_assert_eq(task_vm_name(longid, vm, &err), -1);
	free(err);

	struct task_table tt = {0};
	struct proto_task spec = {0};
	spec.task_id = strdup("T1");
	spec.info = json_tokener_parse("{\"task_id\":{\"value\":\"T1\"}}");
	struct task *t = tasks_add(&tt, &spec);
	char *u1 = NULL, *u2 = NULL;
	struct json_object *s1 = proto_status("T1", "TASK_RUNNING", "EX", NULL, NULL, &u1);
	struct json_object *s2 = proto_status("T1", "TASK_FINISHED", "EX", NULL, NULL, &u2);
	cr_assert_not_null(task_add_update(t, "TASK_RUNNING", s1, u1));
	cr_assert_not_null(task_add_update(t, "TASK_FINISHED", s2, u2));
	struct json_object *a = tasks_unacked_tasks(&tt);
	cr_assert_eq(json_object_array_length(a), 1, "no update acked yet: task listed");
	json_object_put(a);
	cr_assert_not(tasks_all_settled(&tt));
	cr_assert_eq(task_ack(t, u1), 1);
	cr_assert_eq(task_ack(t, u1), 0, "acked once only");
	a = tasks_unacked_tasks(&tt);
	cr_assert_eq(json_object_array_length(a), 0);
	json_object_put(a);
	a = tasks_unacked_updates(&tt);
	cr_assert_eq(json_object_array_length(a), 1);
	json_object_put(a);
	cr_assert_eq(task_ack(t, u2), 1);
	cr_assert(tasks_all_settled(&tt));
	json_object_put(s1);
	json_object_put(s2);
	free(u1);
	free(u2);
	tasks_free(&tt);
}
