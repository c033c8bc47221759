#include "src/guest/agent-internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "src/guest/ipselect.h"

#define DEF_CMD_TIMEOUT_MS  10000u
#define DEF_SYNC_TIMEOUT_MS 5000u
#define MAX_RETRY_MS	    50u /* the bound on any polling */

/*
 * qemu-ga keeps at most 16 MiB of each of a command's stdout and stderr
 * and sends both, base64 (4/3), in one guest-exec-status reply: up to
 * some 45 MB. The agent's channel takes that much, so output qemu-ga
 * capped comes back flagged truncated, not as a protocol error; it still
 * bounds what one reply can make the daemon hold.
 */
#define AGENT_MAX_MESSAGE (48u * 1024 * 1024)

static void set_state(struct agent *a, enum agent_state st)
{
	if (a->st == st)
		return;
	a->st = st;
	if (a->cb.state_changed && !a->freeing)
		a->cb.state_changed(a, st, a->cbarg);
}

void agent_set_ip(struct agent *a, struct json_object *ip)
{
	int changed;

	if (!a->ip && !ip)
		return;
	changed = !a->ip || !ip || !json_object_equal(a->ip, ip);
	json_object_put(a->ip);
	a->ip = ip;
	if (changed && a->cb.ip_changed && !a->freeing)
		a->cb.ip_changed(a, ip, a->cbarg);
}

static void reap(struct agent *a)
{
	struct qmp_error e;

	/* Freeing fails their pending commands, whose callbacks see a stale gen. */
	while (a->ndead > 0)
		qmp_session_free(a->dead[--a->ndead]);
	/* Their processes are out of reach (qemu or its agent gone): fail the
	 * execs between two polls too, as the one polling now just failed,
	 * rather than let the next poll find no agent (AgentNotReady). */
	a->conn_lost = 0;
	if (a->execs_lost) {
		a->execs_lost = 0;
		qmp_error_set(&e, QMP_ERR_DISCONNECTED, "agent connection lost");
		while (a->execs)
			gexec_abort(a->execs->g, &e);
	}
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	reap(arg);
}

/* Sessions are freed from the loop, never inside one of their own callbacks. */
static void drop_session(struct agent *a)
{
	if (!a->s)
		return;
	if (a->ndead == MAX_DEAD)
		reap(a); /* not reached in practice: the reaper runs every turn */
	a->dead[a->ndead++] = a->s;
	a->s = NULL;
	a->gen++;
	a->execs_lost = a->execs != NULL;
	a->conn_lost = a->st == AGENT_READY || a->execs;
	a->ifq_inflight = 0;
	a->pinging = 0;
	event_active(a->reap_ev, EV_TIMEOUT, 0);
}

static void add_ms(struct timeval *tv, unsigned ms)
{
	struct timeval d = {ms / 1000, (ms % 1000) * 1000};

	timeradd(tv, &d, tv);
}

void agent_after_ms(struct event *ev, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(ev, &tv);
}

static int want_connection(struct agent *a)
{
	struct timeval now;

	if (a->port_open)
		return 1;
	if (!a->probing)
		return 0;
	gettimeofday(&now, NULL);
	if (timercmp(&now, &a->probe_until, <))
		return 1;
	a->probing = 0;
	return 0;
}

static void retry_later(struct agent *a)
{
	if (want_connection(a)) {
		set_state(a, AGENT_CONNECTING);
		agent_after_ms(a->retry_ev, a->retry_ms);
	} else {
		set_state(a, AGENT_ABSENT);
	}
}

static void tramp(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		  void *arg)
{
	struct call *c = arg;
	struct agent *a = c->a;
	int current = !a->freeing && c->gen == a->gen && a->s;

	if (current && err && !strcmp(err->cls, QMP_ERR_TIMEOUT) && a->st == AGENT_READY) {
		/* libqmp resynchronises before the next command; we send that command. */
		set_state(a, AGENT_CONNECTING);
		agent_after_ms(a->ping_ev, 0);
	}
	if (c->ifn) {
		if (current)
			c->ifn(a, ret, err);
	} else {
		c->fn(s, ret, err, c->arg);
	}
	free(c);
}

static int64_t call_internal(struct agent *a, const char *cmd, struct json_object *args,
			     internal_fn ifn)
{
	struct qmp_error err;
	struct call *c;
	int64_t id;

	c = calloc(1, sizeof(*c));
	if (!c || !a->s) {
		free(c);
		json_object_put(args);
		return -1;
	}
	c->a = a;
	c->gen = a->gen;
	c->ifn = ifn;
	id = qmp_call(a->s, cmd, args, a->cmd_timeout_ms, tramp, c, &err);
	if (id < 0)
		free(c);
	return id;
}

/*
 * Between drop_session and the reap on the next loop turn the connection is
 * gone but its execs do not know yet: a call made then (an exec's poll
 * whose timer fired in the same turn) is told what they will be told, not
 * that the agent was never there.
 */
void agent_no_session(const struct agent *a, struct qmp_error *err)
{
	if (a->conn_lost && !a->freeing)
		qmp_error_set(err, QMP_ERR_DISCONNECTED, "agent connection lost");
	else
		qmp_error_set(err, AGENT_ERR_NOT_READY, "agent not ready");
}

int64_t agent_call(struct agent *a, const char *cmd, struct json_object *args, unsigned timeout_ms,
		   qmp_reply_fn fn, void *arg, struct qmp_error *err)
{
	struct call *c;
	int64_t id;

	if (!a->s || a->freeing) {
		json_object_put(args);
		agent_no_session(a, err);
		return -1;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		json_object_put(args);
		qmp_error_set(err, "InternalError", "out of memory");
		return -1;
	}
	c->a = a;
	c->gen = a->gen;
	c->fn = fn;
	c->arg = arg;
	id = qmp_call(a->s, cmd, args, timeout_ms ? timeout_ms : a->cmd_timeout_ms, tramp, c, err);
	if (id < 0)
		free(c);
	return id;
}

static void on_ping(struct agent *a, struct json_object *ret, const struct qmp_error *err)
{
	a->pinging = 0;
	if (err) {
		/* Timeout: tramp did not re-arm (state is not ready), so do it here. */
		if (!strcmp(err->cls, QMP_ERR_TIMEOUT))
			agent_after_ms(a->ping_ev, a->retry_ms);
		return;
	}
	set_state(a, AGENT_READY);
	agent_idle_requery_reset(a);
	if (a->waiters)
		agent_start_ifq(a);
}

static void ping_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	if (!a->s || a->pinging)
		return;
	if (call_internal(a, "guest-ping", NULL, on_ping) >= 0)
		a->pinging = 1;
}

static void on_ifaces(struct agent *a, struct json_object *ret, const struct qmp_error *err)
{
	struct json_object *ip;
	struct qmp_error e;

	a->ifq_inflight = 0;
	if (err)
		return; /* waiters keep waiting for the resync or their deadline */
	ip = ipselect(ret, a->mac, a->mac_only, &e);
	if (!ip)
		return;
	agent_set_ip(a, ip);
	agent_serve_waiters(a, 0);
}

void agent_start_ifq(struct agent *a)
{
	if (a->ifq_inflight || a->st != AGENT_READY)
		return;
	if (call_internal(a, "guest-network-get-interfaces", NULL, on_ifaces) >= 0)
		a->ifq_inflight = 1;
}

static void requery_cb(evutil_socket_t fd, short what, void *arg)
{
	agent_start_ifq(arg);
}

static void on_key(struct agent *a, struct json_object *ret, const struct qmp_error *err)
{
	bool had = a->key_error != NULL;

	free(a->key_error);
	a->key_error = NULL;
	if (err) {
		if (asprintf(&a->key_error, "%s: %s", err->cls, err->desc) < 0)
			a->key_error = NULL;
		a->key_pushed = 0;
	} else {
		a->key_pushed = 1;
	}
	if ((had || a->key_error) && a->cb.key_changed && !a->freeing)
		a->cb.key_changed(a, a->cbarg);
}

static void on_info(struct agent *a, struct json_object *ret, const struct qmp_error *err)
{
	struct json_object *v;
	const char *ver = NULL;

	/* An agent that refuses guest-info (or timed out: tramp resyncs) still
	 * answers everything else: the version stays unknown. */
	if (err)
		return;
	if (json_object_object_get_ex(ret, "version", &v) &&
	    json_object_is_type(v, json_type_string))
		ver = json_object_get_string(v);
	if (ver && a->version && !strcmp(ver, a->version))
		return;
	free(a->version);
	a->version = ver ? strdup(ver) : NULL;
	if (a->cb.version_known && !a->freeing)
		a->cb.version_known(a, a->version, a->cbarg);
}

static void push_key(struct agent *a)
{
	struct json_object *args, *keys;

	args = json_object_new_object();
	keys = json_object_new_array();
	json_object_array_add(keys, json_object_new_string(a->pubkey));
	json_object_object_add(args, "username", json_object_new_string(a->user));
	json_object_object_add(args, "keys", keys);
	json_object_object_add(args, "reset", json_object_new_boolean(0));
	if (call_internal(a, "guest-ssh-add-authorized-keys", args, on_key) < 0)
		on_key(a, NULL, &(struct qmp_error){"InternalError", "could not queue"});
}

/*
 * The sync answered: the agent reads and replies, so it is ready. The
 * address is asked first: qemu-ga runs one command at a time, each slow
 * the first time under TCG (15-25 ms), and the IP is what a new VM's
 * user waits for. The key push and guest-info (the version, which
 * nothing here acts on) follow off that path. An ssh login right after
 * the address can beat the key by a few ms; vmctl's ssh probe retries
 * (src/cli/vmctl-run-guest.c), and the key comes before any command
 * queued after the address.
 */
static void on_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct agent *a = arg;

	if (s != a->s || a->freeing)
		return;
	if (err) {
		drop_session(a);
		retry_later(a);
		return;
	}
	set_state(a, AGENT_READY);
	if (s != a->s || a->freeing)
		return; /* the owner's callback dropped us */
	agent_idle_requery_reset(a);
	agent_start_ifq(a);
	if (a->pubkey)
		push_key(a);
	call_internal(a, "guest-info", NULL, on_info);
}

static void on_close(struct qmp_session *s, const struct qmp_error *why, void *arg)
{
	struct agent *a = arg;

	if (s != a->s || a->freeing)
		return;
	drop_session(a);
	agent_set_ip(a, NULL);
	retry_later(a);
}

static void attempt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct qmp_options opt = {AGENT_MAX_MESSAGE, a->sync_timeout_ms};
	struct qmp_error err;

	reap(a);
	if (a->s)
		return;
	if (!want_connection(a)) {
		set_state(a, AGENT_ABSENT);
		return;
	}
	set_state(a, AGENT_CONNECTING);
	a->s = qmp_session_new(a->base, QMP_KIND_QGA, &opt);
	if (!a->s) {
		agent_after_ms(a->retry_ev, a->retry_ms);
		return;
	}
	qmp_on_close(a->s, on_close, a);
	if (qmp_connect(a->s, a->path, on_ready, a, &err) < 0) {
		/* Not there yet (qemu starting) or refused: poll, bounded by want_connection. */
		drop_session(a);
		retry_later(a);
	}
}

/* ---- events and lifecycle ---- */

void agent_port_event(struct agent *a, int open)
{
	a->port_open = open;
	if (!open) {
		/* The guest closed the port (reset, agent restart): nothing will answer. */
		a->probing = 0;
		a->plain_pause = 0;
		drop_session(a);
		agent_set_ip(a, NULL);
		evtimer_del(a->retry_ev);
		set_state(a, AGENT_ABSENT);
		return;
	}
	if (a->st == AGENT_READY) {
		/* Opened again without a close we saw: a new agent, start afresh. */
		drop_session(a);
		agent_set_ip(a, NULL);
	}
	if (!a->s) {
		set_state(a, AGENT_CONNECTING);
		agent_after_ms(a->retry_ev, 0);
	}
	/* else: an attempt is under way; its queued sync reaches the agent now. */
}

/* JOB_STATUS_CHANGE {"id", "status"}: a job is alive until concluded (or dismissed). */
static void track_job(struct agent *a, struct json_object *data)
{
	struct json_object *id, *status;
	const char *st;

	if (!json_object_object_get_ex(data, "id", &id) ||
	    !json_object_object_get_ex(data, "status", &status))
		return;
	st = json_object_get_string(status);
	if (!strcmp(st, "concluded") || !strcmp(st, "null"))
		json_object_object_del(a->jobs, json_object_get_string(id));
	else
		json_object_object_add(a->jobs, json_object_get_string(id),
				       json_object_new_boolean(1));
}

int agent_qmp_event(struct agent *a, const char *name, struct json_object *data)
{
	struct json_object *id, *open;

	if (!strcmp(name, "VSERPORT_CHANGE")) {
		if (!json_object_object_get_ex(data, "id", &id) ||
		    strcmp(json_object_get_string(id), a->port_id) ||
		    !json_object_object_get_ex(data, "open", &open))
			return 0;
		agent_port_event(a, json_object_get_boolean(open));
		return 1;
	}
	if (!strcmp(name, "STOP")) {
		a->plain_pause = 1;
		return 1;
	}
	if (!strcmp(name, "RESUME")) {
		/* A cont after a pause runs the same guest on: its address did
		 * not change, and a re-query (~15 ms under TCG) would queue ahead
		 * of what the resumer sends first (the pool's clock set). The
		 * first cont of an incoming migration or a restore saw no STOP. */
		if (!a->plain_pause || !a->ip || json_object_object_length(a->jobs))
			agent_invalidate(a);
		a->plain_pause = 0;
		return 1;
	}
	if (!strcmp(name, "JOB_STATUS_CHANGE")) {
		track_job(a, data);
		return 1;
	}
	if (!strcmp(name, "RESET")) {
		a->plain_pause = 0;
		agent_invalidate(a);
		return 1;
	}
	return 0;
}

void agent_probe(struct agent *a, unsigned deadline_ms)
{
	struct timeval until;

	gettimeofday(&until, NULL);
	add_ms(&until, deadline_ms);
	if (!a->probing || timercmp(&until, &a->probe_until, >))
		a->probe_until = until;
	a->probing = 1;
	if (!a->s && a->st != AGENT_READY) {
		set_state(a, AGENT_CONNECTING);
		agent_after_ms(a->retry_ev, 0);
	}
}

enum agent_state agent_state(const struct agent *a)
{
	return a->st;
}

const char *agent_state_name(enum agent_state st)
{
	switch (st) {
	case AGENT_ABSENT:
		return "absent";
	case AGENT_CONNECTING:
		return "connecting";
	case AGENT_READY:
		return "ready";
	}
	return "unknown";
}

const char *agent_version(const struct agent *a)
{
	return a->version;
}

const char *agent_key_error(const struct agent *a)
{
	return a->key_error;
}

int agent_key_pushed(const struct agent *a)
{
	return a->key_pushed;
}

struct json_object *agent_ip_cached(const struct agent *a)
{
	return a->ip;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct agent *agent_new(struct event_base *base, const char *qga_socket_path, const char *mac,
			const struct agent_config *cfg, const struct agent_callbacks *cb, void *arg)
{
	struct agent_config def = {0};
	struct agent *a;

	if (!base || !qga_socket_path || !*qga_socket_path)
		return NULL;
	if (!cfg)
		cfg = &def;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->base = base;
	a->path = strdup(qga_socket_path);
	a->mac = dup_or_null(mac);
	a->mac_only = cfg->mac_only && mac;
	a->user = strdup(cfg->user ? cfg->user : "root");
	a->pubkey = dup_or_null(cfg->pubkey);
	a->port_id = strdup(cfg->port_id ? cfg->port_id : AGENT_PORT_ID);
	a->cmd_timeout_ms = cfg->cmd_timeout_ms ? cfg->cmd_timeout_ms : DEF_CMD_TIMEOUT_MS;
	a->sync_timeout_ms = cfg->sync_timeout_ms ? cfg->sync_timeout_ms : DEF_SYNC_TIMEOUT_MS;
	a->retry_ms = cfg->retry_ms && cfg->retry_ms < MAX_RETRY_MS ? cfg->retry_ms : MAX_RETRY_MS;
	if (cb)
		a->cb = *cb;
	a->cbarg = arg;
	a->reap_ev = event_new(base, -1, 0, reap_cb, a);
	a->retry_ev = evtimer_new(base, attempt_cb, a);
	a->ping_ev = evtimer_new(base, ping_cb, a);
	a->requery_ev = evtimer_new(base, requery_cb, a);
	a->jobs = json_object_new_object();
	if (!a->path || !a->user || !a->port_id || (mac && !a->mac) || !a->jobs ||
	    (cfg->pubkey && !a->pubkey) || !a->reap_ev || !a->retry_ev || !a->ping_ev ||
	    !a->requery_ev) {
		agent_free(a);
		return NULL;
	}
	return a;
}

void agent_free(struct agent *a)
{
	struct qmp_error e;

	if (!a)
		return;
	a->freeing = 1;
	qmp_error_set(&e, QMP_ERR_DISCONNECTED, "agent connection closed");
	while (a->execs)
		gexec_abort(a->execs->g, &e);
	while (a->waiters) {
		struct waiter *w = a->waiters;
		if (!w->has_result)
			agent_waiter_settle(w, NULL, &e);
		agent_waiter_deliver(w);
	}
	drop_session(a);
	reap(a);
	if (a->reap_ev)
		event_free(a->reap_ev);
	if (a->retry_ev)
		event_free(a->retry_ev);
	if (a->ping_ev)
		event_free(a->ping_ev);
	if (a->requery_ev)
		event_free(a->requery_ev);
	json_object_put(a->ip);
	json_object_put(a->jobs);
	free(a->path);
	free(a->mac);
	free(a->user);
	free(a->pubkey);
	free(a->port_id);
	free(a->version);
	free(a->key_error);
	free(a);
}
