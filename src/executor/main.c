/*
 * mesos-vm-executor: a Mesos v1 HTTP API executor that runs each task in its
 * own VM through vmsupd. Configuration comes from the agent's environment.
 */
#include "config.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/client/client.h"
#include "src/executor/agent_conn.h"
#include "src/executor/check.h"
#include "src/executor/env.h"
#include "src/executor/launch.h"
#include "src/executor/protocol.h"
#include "src/executor/tasks.h"
#include "src/executor/wrap.h"

#define BACKOFF_MIN_NS 100000000LL
/* Leaves time inside the shutdown grace for deleting the VMs. */
#define SHUTDOWN_RESERVE_NS 2000000000LL
/* Without checkpointing and never subscribed: how long to keep trying. */
#define FIRST_SUBSCRIBE_NS (60 * 1000000000LL)
/* UPDATE calls the agent did not take (no reply, 5xx) are posted again after
 * this, doubling up to the cap, while the stream stays up. */
#define RESEND_MIN_NS 500000000LL
#define RESEND_MAX_NS 8000000000LL
/* How much of a framework message goes into the log. */
#define MESSAGE_LOG_MAX 200

struct executor {
	struct event_base *base;
	struct exec_env env;
	struct task_table tasks;
	struct launcher *launcher;
	struct agent_conn *conn;
	bool subscribed;
	bool ever_subscribed;
	bool shutting_down;
	bool exiting;
	/* The framework declared TASK_KILLING_STATE (the launcher says it). */
	bool killing_capable;
	int64_t backoff_ns;
	int64_t resend_ns;
	struct event *resend_ev;
	struct event *retry_ev;
	struct event *recovery_ev;
	struct event *deadline_ev;
	struct event *sigterm_ev;
	struct event *sigint_ev;
	int exit_code;
};

static void log_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_msg(const char *fmt, ...)
{
	va_list ap;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	va_start(ap, fmt);
	fprintf(stderr, "mesos-vm-executor[%.3f]: ", (double)ts.tv_sec + ts.tv_nsec / 1e9);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static struct timeval tv_of(int64_t ns)
{
	struct timeval tv = {(time_t)(ns / 1000000000LL), (suseconds_t)(ns % 1000000000LL / 1000)};
	return tv;
}

static void maybe_exit(struct executor *x);

/* Which update a call carried: looked up again when the reply comes, since
 * an ACKNOWLEDGED may have dropped it meanwhile. */
struct update_ref {
	struct executor *x;
	char *task_id;
	char *uuid_b64;
};

static void on_update_done(void *arg, int code);

static void post_update(struct executor *x, struct task *t, struct task_update *u)
{
	struct json_object *call = proto_update(x->env.framework_id, x->env.executor_id, u->status);
	struct update_ref *ref = calloc(1, sizeof(*ref));

	if (ref &&
	    (!(ref->task_id = strdup(t->spec.task_id)) || !(ref->uuid_b64 = strdup(u->uuid_b64)))) {
		free(ref->task_id);
		free(ref);
		ref = NULL;
	}
	if (ref)
		ref->x = x;
	agent_conn_call(x->conn, call, "UPDATE", ref ? on_update_done : NULL, ref);
	json_object_put(call);
	u->sent = true;
}

static void post_unsent(struct executor *x)
{
	for (struct task *t = x->tasks.head; t; t = t->next)
		for (struct task_update *u = t->unacked; u; u = u->next)
			if (!u->sent)
				post_update(x, t, u);
}

static void on_resend(evutil_socket_t fd, short what, void *arg)
{
	struct executor *x = arg;
	/* While disconnected, SUBSCRIBE carries them instead. */
	if (x->subscribed)
		post_unsent(x);
}

/*
 * A 202 means the agent has the update (its ACKNOWLEDGED follows). No reply
 * or a 5xx (503 while the agent recovers) means it may not: post it again
 * with backoff. A 4xx would be refused again the same way: it stays
 * unacknowledged, for the next SUBSCRIBE.
 */
static void on_update_done(void *arg, int code)
{
	struct update_ref *ref = arg;
	struct executor *x = ref->x;
	struct task *t = tasks_find(&x->tasks, ref->task_id);
	struct task_update *u = t ? t->unacked : NULL;

	while (u && strcmp(u->uuid_b64, ref->uuid_b64) != 0)
		u = u->next;
	if (code == 202) {
		x->resend_ns = RESEND_MIN_NS;
	} else if (u && u->sent && (code == 0 || code >= 500) && !x->exiting && x->resend_ev) {
		struct timeval tv = {(time_t)(x->resend_ns / 1000000000LL),
				     (suseconds_t)(x->resend_ns % 1000000000LL / 1000)};
		u->sent = false;
		if (!evtimer_pending(x->resend_ev, NULL)) {
			log_msg("%s update of task %s not taken: posting it again in %.1fs",
				u->state, t->spec.task_id, x->resend_ns / 1e9);
			event_add(x->resend_ev, &tv);
			x->resend_ns =
			    x->resend_ns * 2 > RESEND_MAX_NS ? RESEND_MAX_NS : x->resend_ns * 2;
		}
	}
	free(ref->task_id);
	free(ref->uuid_b64);
	free(ref);
}

/* healthy: -1 unset, else TaskStatus.healthy; reason may be NULL. */
static void send_status(struct executor *x, struct task *t, const char *state, const char *msg,
			const char *ip, int healthy, const char *reason)
{
	char *uuid = NULL;
	struct task_update *u = NULL;
	struct json_object *st =
	    proto_status(t->spec.task_id, state, x->env.executor_id, msg, ip, &uuid);
	if (st)
		proto_status_health(st, healthy, reason);
	if (st && ip && t->spec.nports)
		proto_status_ports(st, t->spec.ports, t->spec.nports);
	check_status_attach(t, st, reason);
	if (!st || !(u = task_add_update(t, state, st, uuid))) {
		log_msg("task %s: cannot build the %s update", t->spec.task_id, state);
		json_object_put(st);
		free(uuid);
		return;
	}
	log_msg("task %s: %s%s%s", t->spec.task_id, state, msg ? ": " : "", msg ? msg : "");
	/* While disconnected the update waits for SUBSCRIBE's unacknowledged list. */
	if (x->subscribed)
		post_update(x, t, u);
	json_object_put(st);
	free(uuid);
}

static void send_update(void *ctx, struct task *t, const char *state, const char *msg,
			const char *ip)
{
	/* As Mesos's command executor: a task its health check killed ends
	 * with healthy false (and no reason of its own). */
	send_status(ctx, t, state, msg, ip,
		    t->killed_by_health && proto_state_terminal(state) ? 0 : -1, NULL);
}

/* A TASK_RUNNING carrying a health verdict or a check's result, as Mesos's
 * executors send it; a kill asked for by the health checker uses the task's
 * kill policy. */
static void running_update(void *ctx, struct task *t, int healthy, bool kill, const char *reason,
			   const char *msg)
{
	struct executor *x = ctx;

	if (t->final_state || t->kill_requested)
		return;
	send_status(x, t, "TASK_RUNNING", msg, t->ip, healthy, reason);
	if (kill) {
		t->killed_by_health = true;
		launch_kill(x->launcher, t, -1);
		if (t->final_state && strcmp(t->final_state, "TASK_KILLED") == 0) {
			free(t->final_msg);
			t->final_msg = strdup("killed: its health check failed");
		}
	}
}

static void settled(void *ctx, struct task *t)
{
	maybe_exit(ctx);
}

static const struct launch_ops LAUNCH_OPS = {send_update, running_update, settled};

static void kill_all(struct executor *x, int64_t grace_ns)
{
	for (struct task *t = x->tasks.head; t; t = t->next)
		launch_kill(x->launcher, t, grace_ns);
}

static bool framework_killing_capable(struct json_object *fw)
{
	struct json_object *caps, *c, *type;

	if (!fw || !json_object_object_get_ex(fw, "capabilities", &caps) ||
	    !json_object_is_type(caps, json_type_array))
		return false;
	for (size_t i = 0; i < json_object_array_length(caps); i++) {
		c = json_object_array_get_idx(caps, i);
		if (json_object_is_type(c, json_type_object) &&
		    json_object_object_get_ex(c, "type", &type) &&
		    json_object_is_type(type, json_type_string) &&
		    strcmp(json_object_get_string(type), "TASK_KILLING_STATE") == 0)
			return true;
	}
	return false;
}

/* framework_info of SUBSCRIBED (Event.Launch and LaunchGroup carry none). */
static void note_framework(struct executor *x, struct json_object *root, const char *key)
{
	struct json_object *ev, *fw;

	if (json_object_object_get_ex(root, key, &ev) &&
	    json_object_object_get_ex(ev, "framework_info", &fw)) {
		x->killing_capable = framework_killing_capable(fw);
		launcher_set_killing_state(x->launcher, x->killing_capable);
	}
}

/* Framework messages are opaque to this executor: logged (printable bytes
 * only, bounded) so an operator can see them, not passed to tasks. */
static void log_message(const unsigned char *d, size_t n)
{
	char text[MESSAGE_LOG_MAX + 1];
	size_t k = n < MESSAGE_LOG_MAX ? n : MESSAGE_LOG_MAX;

	for (size_t i = 0; i < k; i++)
		text[i] = d[i] >= 0x20 && d[i] < 0x7f ? (char)d[i] : '.';
	text[k] = '\0';
	log_msg("MESSAGE of %zu byte(s) from the framework (not passed to tasks): \"%s\"%s", n,
		text, n > k ? "..." : "");
}

/* Ends the loop once nothing remains to report: after SHUTDOWN when every
 * terminal update is acknowledged; when giving up on the agent, once every
 * VM is gone. */
static void maybe_exit(struct executor *x)
{
	if (!x->shutting_down || x->exiting)
		return;
	if (x->subscribed ? tasks_all_settled(&x->tasks)
			  : tasks_active(&x->tasks) == 0 && !launcher_busy(x->launcher)) {
		x->exiting = true;
		event_base_loopexit(x->base, NULL);
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct executor *x = arg;
	log_msg("shutdown grace period over: exiting with %zu task(s) not settled",
		tasks_active(&x->tasks));
	x->exiting = true;
	event_base_loopexit(x->base, NULL);
}

/* grace_ns: total time allowed before exiting. */
static void begin_shutdown(struct executor *x, int64_t grace_ns, int exit_code)
{
	int64_t kill_grace = grace_ns - SHUTDOWN_RESERVE_NS;
	struct timeval tv = tv_of(grace_ns);

	if (x->shutting_down)
		return;
	x->shutting_down = true;
	x->exit_code = exit_code;
	if (kill_grace < 1000000000LL)
		kill_grace = 1000000000LL;
	event_add(x->deadline_ev, &tv);
	kill_all(x, kill_grace);
	maybe_exit(x);
}

static void subscribe(struct executor *x)
{
	struct json_object *tasks = tasks_unacked_tasks(&x->tasks);
	struct json_object *updates = tasks_unacked_updates(&x->tasks);
	struct json_object *call =
	    proto_subscribe(x->env.framework_id, x->env.executor_id, tasks, updates);
	log_msg("SUBSCRIBE to %s:%u (%zu unacknowledged task(s), %zu update(s))", x->env.agent_host,
		x->env.agent_port, json_object_array_length(tasks),
		json_object_array_length(updates));
	tasks_mark_all_sent(&x->tasks);
	agent_conn_subscribe(x->conn, call);
	json_object_put(call);
	json_object_put(tasks);
	json_object_put(updates);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	subscribe(arg);
}

static void on_recovery_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct executor *x = arg;
	log_msg("agent did not come back within the recovery timeout: shutting down");
	event_del(x->retry_ev);
	begin_shutdown(x, x->env.shutdown_grace_ns, 1);
}

static void on_closed(void *ctx, const char *why)
{
	struct executor *x = ctx;
	bool retry = x->env.checkpoint || !x->ever_subscribed;

	x->subscribed = false;
	log_msg("disconnected: %s", why);
	if (x->exiting)
		return;
	if (x->shutting_down) {
		maybe_exit(x);
		return;
	}
	if (agent_conn_unauthorized(x->conn)) {
		log_msg("not authorized by the agent: killing every task and exiting");
		begin_shutdown(x, x->env.shutdown_grace_ns, 1);
		return;
	}
	if (!retry) {
		log_msg("no checkpointing: killing every task and exiting");
		begin_shutdown(x, x->env.shutdown_grace_ns, 1);
		return;
	}
	if (!evtimer_pending(x->recovery_ev, NULL)) {
		struct timeval tv =
		    tv_of(x->env.checkpoint ? x->env.recovery_timeout_ns : FIRST_SUBSCRIBE_NS);
		event_add(x->recovery_ev, &tv);
	}
	struct timeval tv = tv_of(x->backoff_ns);
	log_msg("resubscribing in %.1fs", x->backoff_ns / 1e9);
	event_add(x->retry_ev, &tv);
	x->backoff_ns *= 2;
	if (x->backoff_ns > x->env.backoff_max_ns)
		x->backoff_ns =
		    x->env.backoff_max_ns > BACKOFF_MIN_NS ? x->env.backoff_max_ns : BACKOFF_MIN_NS;
}

/* Parse and record one TaskInfo; launched unless out is given (a group
 * member, launched with its group), then *out is the task or NULL. */
static void launch_one(struct executor *x, struct json_object *info, struct task **out)
{
	struct proto_task spec;
	struct task *t;
	char *err = NULL;
	int rc = proto_task_parse(info, &spec, &err);

	if (!spec.task_id) {
		log_msg("protocol error: LAUNCH with %s", err ? err : "a bad TaskInfo");
		goto out;
	}
	if (tasks_find(&x->tasks, spec.task_id)) {
		log_msg("protocol error: task %s launched twice; ignoring the second",
			spec.task_id);
		goto out;
	}
	t = tasks_add(&x->tasks, &spec);
	if (!t) {
		log_msg("out of memory");
		goto out;
	}
	{
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		t->t_launch = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	}
	if (rc < 0 || x->shutting_down) {
		t->phase = PH_DONE;
		send_update(x, t, "TASK_ERROR", rc < 0 ? err : "the executor is shutting down",
			    NULL);
		goto out;
	}
	if (out)
		*out = t;
	else
		launch_task(x->launcher, t);
out:
	proto_task_clear(&spec);
	free(err);
}

static void on_record(void *ctx, const char *data, size_t len)
{
	struct executor *x = ctx;
	struct proto_event ev;
	char *err = NULL;
	struct task *t;
	int rc = proto_event_parse(data, len, &ev, &err);

	if (rc == -1) {
		log_msg("protocol error: %s", err ? err : "bad event");
		agent_conn_abort(x->conn, "protocol error: event is not JSON");
		goto out;
	}
	if (rc < 0) {
		log_msg("protocol error: %s (event ignored)", err ? err : "bad event");
		goto out;
	}
	switch (ev.type) {
	case EV_SUBSCRIBED:
		x->subscribed = true;
		x->ever_subscribed = true;
		x->backoff_ns = BACKOFF_MIN_NS;
		event_del(x->recovery_ev);
		note_framework(x, ev.root, "subscribed");
		log_msg("SUBSCRIBED%s",
			x->killing_capable ? " (framework takes TASK_KILLING)" : "");
		/* Updates made between our SUBSCRIBE and this event. */
		post_unsent(x);
		maybe_exit(x);
		break;
	case EV_LAUNCH:
		launch_one(x, json_object_array_get_idx(ev.tasks, 0), NULL);
		break;
	case EV_LAUNCH_GROUP: {
		size_t n = json_object_array_length(ev.tasks), k = 0;
		struct task **group = calloc(n ? n : 1, sizeof(*group));
		if (!group) {
			log_msg("out of memory");
			break;
		}
		for (size_t i = 0; i < n; i++) {
			struct task *m = NULL;
			launch_one(x, json_object_array_get_idx(ev.tasks, i), &m);
			if (m)
				group[k++] = m;
		}
		launch_group(x->launcher, group, k);
		free(group);
		break;
	}
	case EV_KILL:
		if (!(t = tasks_find(&x->tasks, ev.task_id))) {
			log_msg("KILL for unknown task %s", ev.task_id);
			break;
		}
		log_msg("KILL task %s", ev.task_id);
		launch_kill(x->launcher, t, ev.grace_ns);
		break;
	case EV_ACKNOWLEDGED:
		t = tasks_find(&x->tasks, ev.task_id);
		if (!t || !task_ack(t, ev.uuid_b64))
			log_msg("ACKNOWLEDGED for an unknown update of task %s", ev.task_id);
		maybe_exit(x);
		break;
	case EV_MESSAGE: {
		unsigned char *d = NULL;
		size_t n = 0;
		if (ev.data_b64 && proto_b64_decode(ev.data_b64, &d, &n) < 0)
			log_msg("protocol error: MESSAGE with data that is not base64");
		else
			log_message(d, n);
		free(d);
		break;
	}
	case EV_SHUTDOWN:
		log_msg("SHUTDOWN");
		begin_shutdown(x, x->env.shutdown_grace_ns, 0);
		break;
	case EV_ERROR:
		log_msg("ERROR from the agent: %s", ev.message);
		agent_conn_abort(x->conn, "the agent sent ERROR");
		break;
	case EV_HEARTBEAT:
		break;
	}
out:
	proto_event_clear(&ev);
	free(err);
}

static const struct agent_conn_ops CONN_OPS = {on_record, on_closed};

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct executor *x = arg;
	log_msg("signal %d: shutting down", (int)sig);
	begin_shutdown(x, x->env.shutdown_grace_ns, 0);
}

/* Last resort after the loop: VMs that are still there must not outlive us. */
static void reap_vms(struct executor *x)
{
	const char *sock = vmsup_client_socket(x->env.vmsup_socket);
	for (struct task *t = x->tasks.head; t; t = t->next) {
		long status = 0;
		struct json_object *reply = NULL;
		char *err = NULL, path[128];
		if (!t->vm_exists)
			continue;
		snprintf(path, sizeof(path), "/v1/vms/%s?timeout=0", t->vm);
		if (vmsup_request(sock, "DELETE", path, NULL, 30000L, &status, &reply, &err) < 0 ||
		    (status != 200 && status != 404))
			log_msg("VM %s left behind: %s", t->vm,
				err ? err : vmsup_error_desc(reply, status));
		else
			log_msg("VM %s deleted on exit", t->vm);
		json_object_put(reply);
		free(err);
	}
}

int main(int argc, char **argv)
{
	struct executor x;
	char *err = NULL;
	int rc = 1;

	memset(&x, 0, sizeof(x));
	/* A framework's own executor in a VM instead of tasks in VMs. */
	if (argc > 1 && !strcmp(argv[1], "--wrap"))
		return wrap_main(argc - 1, argv + 1);
	if (argc > 1) {
		fprintf(stderr,
			"usage: %s (configured by the Mesos agent's MESOS_* environment)\n"
			"       %s --wrap [vmctl run options] -- CMD [ARG...]\n",
			argv[0], argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);
	if (env_load(&x.env, &err) < 0) {
		fprintf(stderr, "mesos-vm-executor: %s\n", err ? err : "bad environment");
		free(err);
		return 1;
	}
	/* Before any thread: curl's global state is not thread-safe to set up. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	x.backoff_ns = BACKOFF_MIN_NS;
	x.resend_ns = RESEND_MIN_NS;
	x.base = event_base_new();
	if (!x.base)
		goto out;
	x.launcher = launcher_new(x.base, &x.env, &x.tasks, &LAUNCH_OPS, &x, &err);
	x.conn = agent_conn_new(x.base, x.env.agent_host, x.env.agent_port, x.env.auth_token,
				&CONN_OPS, &x);
	x.retry_ev = evtimer_new(x.base, on_retry, &x);
	x.resend_ev = evtimer_new(x.base, on_resend, &x);
	x.recovery_ev = evtimer_new(x.base, on_recovery_timeout, &x);
	x.deadline_ev = evtimer_new(x.base, on_deadline, &x);
	x.sigterm_ev = evsignal_new(x.base, SIGTERM, on_signal, &x);
	x.sigint_ev = evsignal_new(x.base, SIGINT, on_signal, &x);
	if (!x.launcher || !x.conn || !x.retry_ev || !x.resend_ev || !x.recovery_ev ||
	    !x.deadline_ev || !x.sigterm_ev || !x.sigint_ev) {
		fprintf(stderr, "mesos-vm-executor: %s\n", err ? err : "out of memory");
		goto out;
	}
	event_add(x.sigterm_ev, NULL);
	event_add(x.sigint_ev, NULL);
	log_msg("executor %s of framework %s, agent %s:%u, sandbox %s, checkpoint %s",
		x.env.executor_id, x.env.framework_id, x.env.agent_host, x.env.agent_port,
		x.env.directory, x.env.checkpoint ? "on" : "off");
	subscribe(&x);
	event_base_dispatch(x.base);
	reap_vms(&x);
	rc = x.exit_code;
	log_msg("exiting with status %d", rc);
out:
	agent_conn_free(x.conn);
	launcher_free(x.launcher);
	struct event *evs[] = {x.retry_ev,    x.resend_ev,  x.recovery_ev,
			       x.deadline_ev, x.sigterm_ev, x.sigint_ev};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (x.base)
		event_base_free(x.base);
	tasks_free(&x.tasks);
	env_free(&x.env);
	free(err);
	curl_global_cleanup();
	return rc;
}
