/*
 * Mesos v1 Executor HTTP API in JSON: building calls (SUBSCRIBE, UPDATE,
 * MESSAGE) and status updates, parsing events and TaskInfo.
 */
#ifndef VMEXEC_PROTOCOL_H
#define VMEXEC_PROTOCOL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum proto_event_type {
	EV_SUBSCRIBED,
	EV_LAUNCH,
	EV_LAUNCH_GROUP,
	EV_KILL,
	EV_ACKNOWLEDGED,
	EV_MESSAGE,
	EV_SHUTDOWN,
	EV_ERROR,
	EV_HEARTBEAT,
};

/* A parsed event; every pointer is borrowed from root. */
struct proto_event {
	enum proto_event_type type;
	struct json_object *root;  /* owned: proto_event_clear */
	struct json_object *tasks; /* LAUNCH (one) / LAUNCH_GROUP: array of TaskInfo */
	const char *task_id;	   /* KILL, ACKNOWLEDGED */
	int64_t grace_ns;	   /* KILL: kill_policy.grace_period, -1 if absent */
	const char *uuid_b64;	   /* ACKNOWLEDGED */
	const char *message;	   /* ERROR */
	const char *data_b64;	   /* MESSAGE, may be NULL */
};

const char *proto_event_name(enum proto_event_type t);

/* Parse one record. 0; -1 with *err when it is not one JSON value (the
 * stream is broken); -2 with *err for valid JSON that is not a known event
 * (unknown type, missing fields). The event owns the parsed JSON. */
int proto_event_parse(const char *json, size_t len, struct proto_event *ev, char **err);
void proto_event_clear(struct proto_event *ev);

struct proto_env_var {
	char *name;
	char *value;
};

/* Ports a task may be given: each is published for tcp and udp, and vmsupd
 * publishes at most 32 forwards per VM. */
#define PROTO_MAX_PORTS 16

/* What the executor needs from a TaskInfo. */
struct proto_task {
	char *task_id;
	char *name;
	double cpus;	/* -1 if no "cpus" resource */
	double mem_mib; /* -1 if no "mem" resource */
	bool shell;
	char *value; /* shell command, or program with shell=false */
	char **argv; /* shell=false: arguments (NULL-terminated), may be empty */
	size_t argc;
	struct proto_env_var *env;
	size_t nenv;
	char *user;			 /* NULL if unset */
	int64_t grace_ns;		 /* kill_policy.grace_period, -1 if absent */
	uint16_t ports[PROTO_MAX_PORTS]; /* the "ports" resource's ranges, expanded */
	size_t nports;
	struct json_object *info; /* the TaskInfo (reference held) */
};

/*
 * Parse a TaskInfo. 0, or -1 with *err; on error t->task_id is still set when
 * the TaskInfo had one, so the caller can answer TASK_ERROR for it.
 */
int proto_task_parse(struct json_object *info, struct proto_task *t, char **err);
void proto_task_clear(struct proto_task *t);

/* Calls. The results are new JSON objects; statuses/tasks arrays are borrowed
 * (NULL = empty). */
struct json_object *proto_subscribe(const char *fw, const char *ex, struct json_object *tasks,
				    struct json_object *updates);
struct json_object *proto_update(const char *fw, const char *ex, struct json_object *status);
struct json_object *proto_message(const char *fw, const char *ex, const void *data, size_t len);

/* Fills the 16 bytes with a random version-4 UUID. 0 or -1 (errno). */
int proto_uuid(unsigned char out[16]);

/*
 * A TaskStatus with source SOURCE_EXECUTOR, a fresh uuid and the time now.
 * message and ip may be NULL; ip goes into labels (vm_ip) and
 * container_status.network_infos, as Mesos reports a task's address.
 * *uuid_b64 (malloc'd) receives the uuid as sent. NULL on failure.
 */
struct json_object *proto_status(const char *task_id, const char *state, const char *ex,
				 const char *message, const char *ip, char **uuid_b64);

/* Mark st with TaskStatus.healthy (unless healthy < 0) and, when not NULL,
 * reason (a TaskStatus.Reason name). */
void proto_status_health(struct json_object *st, int healthy, const char *reason);

/* Add port_mappings (host port = container port, tcp and udp) to st's
 * network_infos, which must be there (an ip was given). */
void proto_status_ports(struct json_object *st, const uint16_t *ports, size_t n);

/* true for TASK_FINISHED FAILED KILLED ERROR LOST DROPPED GONE. */
bool proto_state_terminal(const char *state);

/* Base64 (standard alphabet, padded). encode: malloc'd string. decode: 0 with
 * *out malloc'd and *len, or -1 if not valid base64. */
char *proto_b64_encode(const void *data, size_t len);
int proto_b64_decode(const char *s, unsigned char **out, size_t *len);

#endif
