/*
 * The guest agent of one VM, held by vmsupd: readiness (absent ->
 * connecting -> ready) driven by QMP VSERPORT_CHANGE, the guest's address,
 * ssh key injection and guest-exec. Everything is asynchronous on the
 * owner's event_base; one agent never blocks another.
 *
 * Wiring (the owner's side):
 *  - qemu gets `-chardev socket,id=qga0,path=QGA_SOCK,server=on,wait=off
 *    -device virtio-serial -device virtserialport,chardev=qga0,id=AGENT_PORT_ID,
 *    name=org.qemu.guest_agent.0`; the device id is required, QEMU sends
 *    VSERPORT_CHANGE only for ports with an id ({"id": AGENT_PORT_ID, "open": bool}).
 *  - every QMP event goes through agent_qmp_event() (or the owner filters
 *    VSERPORT_CHANGE itself and calls agent_port_event());
 *  - RESET, and a RESUME not right after a STOP (an incoming migration's
 *    or restore's first cont): agent_invalidate() (agent_qmp_event does it
 *    too; a plain pause/cont keeps the cached address);
 *  - on reattach (port may already be open, no event will come): agent_probe().
 */
#ifndef VMSUP_AGENT_H
#define VMSUP_AGENT_H

#include <stddef.h>
#include <event2/event.h>
#include <stdbool.h>

#include <json-c/json.h>
#include "qmp/qmp.h"
#include "src/guest/gexec.h"

#define AGENT_PORT_ID	    "qga0port"
#define AGENT_PORT_NAME	    "org.qemu.guest_agent.0"
#define AGENT_ERR_NOT_READY "AgentNotReady"

enum agent_state {
	AGENT_ABSENT,
	AGENT_CONNECTING,
	AGENT_READY,
};

struct agent_config {
	const char *user;	  /* guest user for the ssh key; NULL = "root" */
	const char *pubkey;	  /* authorized_keys line to push; NULL = none */
	const char *port_id;	  /* virtserialport device id; NULL = AGENT_PORT_ID */
	unsigned cmd_timeout_ms;  /* each QGA command; 0 = 10 s */
	unsigned sync_timeout_ms; /* each guest-sync-delimited handshake; 0 = 5 s */
	unsigned retry_ms;	  /* gap between connection attempts; 0 = 50, max 50 */
	bool mac_only;		  /* the address only from the NIC with mac (ipselect.h) */
};

struct agent;

struct agent_callbacks {
	/* Every change of state (also ready -> connecting while resynchronising). */
	void (*state_changed)(struct agent *a, enum agent_state st, void *arg);
	/* The cached address changed; ipinfo (borrowed) is the ip reply, or NULL. */
	void (*ip_changed)(struct agent *a, struct json_object *ipinfo, void *arg);
	/* guest-info told the version (NULL: it had none), after ready and
	 * after the first address query (agent.c: on_ready). May be NULL. */
	void (*version_known)(struct agent *a, const char *version, void *arg);
	/* agent_key_error changed (the key push's answer); may be NULL. */
	void (*key_changed)(struct agent *a, void *arg);
};

/* Both strings are copied; cfg and cb may be NULL. mac may be NULL (no preference). */
struct agent *agent_new(struct event_base *base, const char *qga_socket_path, const char *mac,
			const struct agent_config *cfg, const struct agent_callbacks *cb,
			void *arg);

/* VSERPORT_CHANGE for the agent port. */
void agent_port_event(struct agent *a, int open);

/*
 * Feed any QMP event: handles VSERPORT_CHANGE for our port, RESET and
 * RESUME (cache refresh), STOP and JOB_STATUS_CHANGE (whether the next
 * RESUME is a plain cont). Returns 1 if the event concerned the agent.
 */
int agent_qmp_event(struct agent *a, const char *name, struct json_object *data);

/*
 * For when no open event will come (reattach): connect on demand, retrying
 * every ≤ 50 ms until ready or deadline_ms passed.
 */
void agent_probe(struct agent *a, unsigned deadline_ms);

enum agent_state agent_state(const struct agent *a);
const char *agent_state_name(enum agent_state st); /* "absent", "connecting", "ready" */
/* guest-info version, or NULL (not yet: it is asked after the address) */
const char *agent_version(const struct agent *a);
/* Why the key could not be pushed, NULL if it was (or none configured). */
const char *agent_key_error(const struct agent *a);
int agent_key_pushed(const struct agent *a);
/* The cached ip reply (borrowed), or NULL. */
struct json_object *agent_ip_cached(const struct agent *a);

/*
 * The ip reply ({"ip","ipv6","interfaces"}, see ipselect.h), delivered to cb
 * later (never inside this call). wait_ms 0: immediate error
 * AgentNotReady "agent not ready" unless the agent is ready. Otherwise waits
 * up to wait_ms for the agent and for an address (re-asking every ≤ 50 ms);
 * at the deadline: AgentNotReady if the agent never became ready, else the
 * reply as it is (its "ip" may be null). ipinfo is borrowed.
 * Returns 0, or -1 on allocation failure.
 */
typedef void (*agent_ip_fn)(struct json_object *ipinfo, const struct qmp_error *err, void *arg);
int agent_get_ip(struct agent *a, unsigned wait_ms, agent_ip_fn cb, void *arg);

/* Drop the cached address and, if ready, ask again (guest reset / resume). */
void agent_invalidate(struct agent *a);

/*
 * guest-exec argv (NULL-terminated) with stdin input, until exited or
 * timeout_ms (0 = none). Fails immediately (NULL, err AgentNotReady) when
 * the agent is not ready; Disconnected "agent connection lost" in the loop
 * turn where a ready connection was lost (its execs fail so on the next).
 * cb as gexec_done_fn.
 */
struct gexec *agent_exec(struct agent *a, const char *const *argv, const void *input, size_t len,
			 unsigned timeout_ms, gexec_done_fn cb, void *arg, struct qmp_error *err);

/*
 * The same for a whole request (req->call_timeout_ms is the agent's):
 * with req->output_max, the output through files in the guest, handed to
 * req->chunk with arg (gexec.h).
 */
struct gexec *agent_exec_req(struct agent *a, const struct gexec_request *req, gexec_done_fn cb,
			     void *arg, struct qmp_error *err);

/*
 * Any QGA command, queued behind the others (one at a time). Returns -1 with
 * err AgentNotReady when there is no connection, Disconnected "agent
 * connection lost" when a ready one was lost in this loop turn (as
 * agent_exec). args is taken.
 */
int64_t agent_call(struct agent *a, const char *cmd, struct json_object *args, unsigned timeout_ms,
		   qmp_reply_fn fn, void *arg, struct qmp_error *err);

/*
 * Pending get_ip and exec callbacks are called with Disconnected before it
 * returns (they must not free the agent).
 */
void agent_free(struct agent *a);

#endif
