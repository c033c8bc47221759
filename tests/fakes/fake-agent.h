/*
 * A fake qemu-guest-agent peer for fault injection. It listens on a unix
 * socket the way QEMU's chardev does for the agent port and speaks QGA's
 * framing byte for byte: requests are JSON objects (a 0xFF byte from the
 * client resets the parser), replies are `{"return": ...}\n` with the
 * request's "id" echoed, and the reply to guest-sync-delimited is preceded by
 * a 0xFF sentinel. Runs on the caller's event_base (no threads).
 */
#ifndef TESTS_FAKE_AGENT_H
#define TESTS_FAKE_AGENT_H

#include <event2/event.h>
#include <json-c/json.h>

enum fake_agent_fault {
	FA_NONE,
	FA_GARBAGE_BEFORE_SYNC, /* junk bytes (even a JSON-looking fragment) before 0xFF + reply */
	FA_STALE_ID,		/* a reply for an older id before the real one */
	FA_STALE_ONLY,		/* only the stale reply: the sync never completes */
	FA_SILENT,		/* read everything, answer nothing */
	FA_DISCONNECT_MID,	/* half of the reply, then close */
};

struct fake_agent_opts {
	enum fake_agent_fault fault;
	/* which command the fault applies to: NULL = guest-sync-delimited */
	const char *fault_cmd;
	int fault_times;	    /* how many times; 0 = always */
	const char *version;	    /* guest-info version; NULL = "7.2.0-fake" */
	struct json_object *ifaces; /* guest-network-get-interfaces reply (borrowed, copied) */
	const char *ssh_error;	    /* if set, guest-ssh-add-authorized-keys fails with it */
};

struct fake_agent;

/* Listen on path (removed first). NULL on error. */
struct fake_agent *fake_agent_new(struct event_base *base, const char *path,
				  const struct fake_agent_opts *opts);
/* Change the fault from now on. */
void fake_agent_set_fault(struct fake_agent *f, enum fake_agent_fault fault, const char *cmd,
			  int times);
/* From now on, guest-network-get-interfaces answers ifaces (copied). */
void fake_agent_set_ifaces(struct fake_agent *f, struct json_object *ifaces);
/* Commands received, by name (count), e.g. "guest-sync-delimited". */
int fake_agent_count(const struct fake_agent *f, const char *cmd);
/* Every command received, in order, as one JSON array of names (borrowed). */
struct json_object *fake_agent_order(const struct fake_agent *f);
/* Keys received by guest-ssh-add-authorized-keys, as one JSON array (borrowed). */
struct json_object *fake_agent_keys(const struct fake_agent *f);
/* Drop the current client connection (the guest side went away). */
void fake_agent_kick(struct fake_agent *f);
int fake_agent_connections(const struct fake_agent *f);
void fake_agent_free(struct fake_agent *f);

#endif
