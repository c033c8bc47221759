/*
 * Private to libvmagent: the state behind struct agent (its session, the
 * IP waiters, the running execs) and the helpers agent.c, agent-ip.c and
 * agent-exec.c share. The interface is agent.h.
 */
#ifndef VMSUP_AGENT_INTERNAL_H
#define VMSUP_AGENT_INTERNAL_H

#include <sys/time.h>
#include "src/guest/agent.h"

#define MAX_DEAD 8

struct waiter {
	struct agent *a;
	agent_ip_fn cb;
	void *arg;
	struct event *ev; /* deadline, or 0 s once the result is known */
	unsigned wait_ms;
	int immediate; /* wait 0: answer after one query, address or not */
	int has_result;
	struct json_object *res;
	struct qmp_error err;
	int has_err;
	struct waiter *next;
};

struct execop {
	struct agent *a;
	struct gexec *g;
	gexec_done_fn cb;
	gexec_chunk_fn chunk;
	void *arg;
	struct execop *next;
};

typedef void (*internal_fn)(struct agent *a, struct json_object *ret, const struct qmp_error *err);

struct call {
	struct agent *a;
	unsigned gen;
	qmp_reply_fn fn;
	void *arg;
	internal_fn ifn;
};

struct agent {
	struct event_base *base;
	char *path, *mac, *user, *pubkey, *port_id;
	bool mac_only; /* agent_config.mac_only */
	unsigned cmd_timeout_ms, sync_timeout_ms, retry_ms;
	struct agent_callbacks cb;
	void *cbarg;

	enum agent_state st;
	struct qmp_session *s;
	unsigned gen; /* bumped whenever s is dropped: replies from older ones are stale */
	struct qmp_session *dead[MAX_DEAD];
	int ndead;
	struct event *reap_ev, *retry_ev, *ping_ev, *requery_ev;

	int port_open;
	int probing;
	struct timeval probe_until;

	char *version;
	char *key_error;
	int key_pushed;
	struct json_object *ip;
	int ifq_inflight, pinging;
	/* a STOP was seen and nothing since could have changed the guest: the
	 * RESUME that follows is a plain pause/cont, its address still holds */
	int plain_pause;
	/* QMP jobs alive by id ({"id": true}): a snapshot-load stops and
	 * resumes the VM inside its job, and what it resumes is another guest */
	struct json_object *jobs;
	int execs_lost; /* a session was dropped under the running execs */
	/* a session that was ready (or ran execs) was dropped and the loss is
	 * not yet reaped: calls until then fail as the connection's did */
	int conn_lost;
	/* asking again, with no one waiting, for an address the guest did not
	 * have yet (DHCP after the agent): the next pause and the time spent */
	unsigned idle_requery_ms, idle_requery_spent_ms;

	struct waiter *waiters;
	struct execop *execs;
	int freeing;
};

/* A call or exec that finds no session: the connection just lost
 * (Disconnected) or none yet (AgentNotReady) into err. */
void agent_no_session(const struct agent *a, struct qmp_error *err);
/* Take over ip as the guest's address (NULL forgets it); tell the owner when it changed. */
void agent_set_ip(struct agent *a, struct json_object *ip);
/* agent-ip.c: a new agent, or an address: the idle re-query starts afresh. */
void agent_idle_requery_reset(struct agent *a);
/* Arm the timer ev to fire in ms milliseconds. */
void agent_after_ms(struct event *ev, unsigned ms);
/* Ask a ready agent for its interfaces, unless a query is already out. */
void agent_start_ifq(struct agent *a);

/* agent-ip.c: hand w its result now (frees w). */
void agent_waiter_deliver(struct waiter *w);
/* Fix w's result (or error); delivered from the loop. */
void agent_waiter_settle(struct waiter *w, struct json_object *res, const struct qmp_error *err);
/*
 * Settle the waiters the cached address answers (an address, a zero wait,
 * or final and any answer); ask again later while some still wait.
 */
void agent_serve_waiters(struct agent *a, int final);

#endif
