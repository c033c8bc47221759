#include "src/executor/protocol.h"
#include "src/util/err.h"

#include "src/util/b64.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

/* The codec is the shared one (src/util/b64.c, in libvmclient); these keep the
 * executor's string-in/-1-out convention for its callers. */
char *proto_b64_encode(const void *data, size_t len)
{
	return b64_encode(data, len);
}

int proto_b64_decode(const char *s, unsigned char **out, size_t *len)
{
	unsigned char *buf = b64_decode(s, strlen(s), len);

	if (!buf)
		return -1;
	*out = buf;
	return 0;
}

static const char *const EVENT_NAMES[] = {
    [EV_SUBSCRIBED] = "SUBSCRIBED",	[EV_LAUNCH] = "LAUNCH",
    [EV_LAUNCH_GROUP] = "LAUNCH_GROUP", [EV_KILL] = "KILL",
    [EV_ACKNOWLEDGED] = "ACKNOWLEDGED", [EV_MESSAGE] = "MESSAGE",
    [EV_SHUTDOWN] = "SHUTDOWN",		[EV_ERROR] = "ERROR",
    [EV_HEARTBEAT] = "HEARTBEAT",
};

const char *proto_event_name(enum proto_event_type t)
{
	return (size_t)t < sizeof(EVENT_NAMES) / sizeof(EVENT_NAMES[0]) ? EVENT_NAMES[t] : "?";
}

/* obj.key as an object, or NULL. */
static struct json_object *get_obj(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_object))
		return NULL;
	return v;
}

static const char *get_str(struct json_object *obj, const char *key)
{
	struct json_object *v;
	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* {"key": {"value": "..."}} -> the non-empty string, or NULL. */
static const char *get_id(struct json_object *obj, const char *key)
{
	const char *s = get_str(get_obj(obj, key), "value");
	return s && *s ? s : NULL;
}

static int64_t get_grace(struct json_object *kill_policy)
{
	struct json_object *gp = get_obj(kill_policy, "grace_period"), *ns;
	if (!gp || !json_object_object_get_ex(gp, "nanoseconds", &ns))
		return -1;
	/* int64 fields may come as JSON strings from protobuf's JSON mapping. */
	if (json_object_is_type(ns, json_type_string)) {
		char *end;
		errno = 0;
		long long v = strtoll(json_object_get_string(ns), &end, 10);
		return errno || *end || v < 0 ? -1 : v;
	}
	if (!json_object_is_type(ns, json_type_int))
		return -1;
	int64_t v = json_object_get_int64(ns);
	return v < 0 ? -1 : v;
}

int proto_event_parse(const char *json, size_t len, struct proto_event *ev, char **err)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *root, *sub, *v;
	const char *type;
	size_t i;

	memset(ev, 0, sizeof(*ev));
	ev->grace_ns = -1;
	if (!tok) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	root = json_tokener_parse_ex(tok, json, (int)len);
	if (!root || json_tokener_get_parse_end(tok) != len) {
		vmsup_err(err, "event is not one JSON value: %s",
			  json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(root);
		json_tokener_free(tok);
		return -1;
	}
	json_tokener_free(tok);
	ev->root = root;
	if (!json_object_is_type(root, json_type_object) || !(type = get_str(root, "type"))) {
		vmsup_err(err, "event has no \"type\"");
		goto bad;
	}
	for (i = 0; i < sizeof(EVENT_NAMES) / sizeof(EVENT_NAMES[0]); i++)
		if (strcmp(type, EVENT_NAMES[i]) == 0)
			break;
	if (i == sizeof(EVENT_NAMES) / sizeof(EVENT_NAMES[0])) {
		vmsup_err(err, "unknown event type '%s'", type);
		goto bad;
	}
	ev->type = (enum proto_event_type)i;
	switch (ev->type) {
	case EV_SUBSCRIBED:
		if (!get_obj(root, "subscribed")) {
			vmsup_err(err, "SUBSCRIBED without \"subscribed\"");
			goto bad;
		}
		break;
	case EV_LAUNCH:
		sub = get_obj(root, "launch");
		if (!sub || !(v = get_obj(sub, "task"))) {
			vmsup_err(err, "LAUNCH without \"launch.task\"");
			goto bad;
		}
		/* Seen as a group of one, so both launch paths are the same. */
		ev->tasks = json_object_new_array();
		json_object_array_add(ev->tasks, json_object_get(v));
		json_object_object_add(root, "_tasks", ev->tasks);
		break;
	case EV_LAUNCH_GROUP:
		sub = get_obj(get_obj(root, "launch_group"), "task_group");
		if (!sub || !json_object_object_get_ex(sub, "tasks", &v) ||
		    !json_object_is_type(v, json_type_array)) {
			vmsup_err(err, "LAUNCH_GROUP without \"launch_group.task_group.tasks\"");
			goto bad;
		}
		ev->tasks = v;
		break;
	case EV_KILL:
		sub = get_obj(root, "kill");
		if (!(ev->task_id = get_id(sub, "task_id"))) {
			vmsup_err(err, "KILL without \"kill.task_id.value\"");
			goto bad;
		}
		ev->grace_ns = get_grace(get_obj(sub, "kill_policy"));
		break;
	case EV_ACKNOWLEDGED:
		sub = get_obj(root, "acknowledged");
		if (!(ev->task_id = get_id(sub, "task_id")) ||
		    !(ev->uuid_b64 = get_str(sub, "uuid"))) {
			vmsup_err(err, "ACKNOWLEDGED without task_id or uuid");
			goto bad;
		}
		break;
	case EV_MESSAGE:
		ev->data_b64 = get_str(get_obj(root, "message"), "data");
		break;
	case EV_ERROR:
		ev->message = get_str(get_obj(root, "error"), "message");
		if (!ev->message)
			ev->message = "(no message)";
		break;
	case EV_SHUTDOWN:
	case EV_HEARTBEAT:
		break;
	}
	return 0;
bad:
	json_object_put(root);
	ev->root = NULL;
	return -2;
}

void proto_event_clear(struct proto_event *ev)
{
	json_object_put(ev->root);
	memset(ev, 0, sizeof(*ev));
}

static double scalar_sum(struct json_object *resources, const char *name, bool *found)
{
	double sum = 0;
	size_t n = resources && json_object_is_type(resources, json_type_array)
		       ? json_object_array_length(resources)
		       : 0;
	*found = false;
	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(resources, i), *s, *v;
		const char *rn = get_str(r, "name");
		if (!rn || strcmp(rn, name) != 0 || !(s = get_obj(r, "scalar")) ||
		    !json_object_object_get_ex(s, "value", &v))
			continue;
		if (!json_object_is_type(v, json_type_double) &&
		    !json_object_is_type(v, json_type_int))
			continue;
		sum += json_object_get_double(v);
		*found = true;
	}
	return sum;
}

/* The "ports" RANGES resources into t->ports. 0, or -1 with *err. */
static int ports_of(struct json_object *resources, struct proto_task *t, char **err)
{
	size_t n = resources && json_object_is_type(resources, json_type_array)
		       ? json_object_array_length(resources)
		       : 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(resources, i), *rs, *ra, *b, *e;
		const char *rn = get_str(r, "name");
		if (!rn || strcmp(rn, "ports") != 0)
			continue;
		if (!(rs = get_obj(r, "ranges")) || !json_object_object_get_ex(rs, "range", &ra) ||
		    !json_object_is_type(ra, json_type_array))
			return vmsup_err(err, "resource ports has no ranges");
		for (size_t j = 0; j < json_object_array_length(ra); j++) {
			struct json_object *g = json_object_array_get_idx(ra, j);
			int64_t lo, hi;
			if (!json_object_object_get_ex(g, "begin", &b) ||
			    !json_object_object_get_ex(g, "end", &e) ||
			    !json_object_is_type(b, json_type_int) ||
			    !json_object_is_type(e, json_type_int))
				return vmsup_err(err,
						 "resource ports: a range without begin and end");
			lo = json_object_get_int64(b);
			hi = json_object_get_int64(e);
			if (lo < 1 || hi > 65535 || lo > hi)
				return vmsup_err(err,
						 "resource ports: range %lld-%lld is not ports",
						 (long long)lo, (long long)hi);
			if (hi - lo + 1 > (int64_t)(PROTO_MAX_PORTS - t->nports))
				return vmsup_err(err,
						 "resource ports: more than %d ports (each is "
						 "published for tcp and udp)",
						 PROTO_MAX_PORTS);
			for (int64_t p = lo; p <= hi; p++)
				t->ports[t->nports++] = (uint16_t)p;
		}
	}
	return 0;
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int proto_task_parse(struct json_object *info, struct proto_task *t, char **err)
{
	struct json_object *cmd, *res = NULL, *v, *envo;
	const char *s;
	bool found;

	memset(t, 0, sizeof(*t));
	t->cpus = t->mem_mib = -1;
	t->grace_ns = -1;
	if (!info || !json_object_is_type(info, json_type_object)) {
		vmsup_err(err, "TaskInfo is not an object");
		return -1;
	}
	t->info = json_object_get(info);
	if (!(s = get_id(info, "task_id"))) {
		vmsup_err(err, "TaskInfo without task_id");
		return -1;
	}
	t->task_id = strdup(s);
	t->name = dup_or_null(get_str(info, "name"));
	json_object_object_get_ex(info, "resources", &res);
	t->cpus = scalar_sum(res, "cpus", &found);
	if (!found)
		t->cpus = -1;
	t->mem_mib = scalar_sum(res, "mem", &found);
	if (!found)
		t->mem_mib = -1;
	t->grace_ns = get_grace(get_obj(info, "kill_policy"));
	if (ports_of(res, t, err) < 0)
		return -1;

	if (get_obj(info, "container")) {
		vmsup_err(err, "TaskInfo.container is not supported: the task runs in its own VM");
		return -1;
	}
	if (!(cmd = get_obj(info, "command"))) {
		vmsup_err(err, "TaskInfo has no command (the VM executor runs a CommandInfo)");
		return -1;
	}
	t->shell = true;
	if (json_object_object_get_ex(cmd, "shell", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			vmsup_err(err, "command.shell is not a boolean");
			return -1;
		}
		t->shell = json_object_get_boolean(v);
	}
	s = get_str(cmd, "value");
	if (!s || !*s) {
		vmsup_err(err, "command has no value");
		return -1;
	}
	t->value = strdup(s);
	if (!t->shell && json_object_object_get_ex(cmd, "arguments", &v)) {
		size_t n;
		if (!json_object_is_type(v, json_type_array)) {
			vmsup_err(err, "command.arguments is not an array");
			return -1;
		}
		n = json_object_array_length(v);
		t->argv = calloc(n + 1, sizeof(char *));
		if (!t->argv)
			goto oom;
		for (size_t i = 0; i < n; i++) {
			struct json_object *a = json_object_array_get_idx(v, i);
			if (!json_object_is_type(a, json_type_string)) {
				vmsup_err(err, "command.arguments[%zu] is not a string", i);
				return -1;
			}
			if (!(t->argv[i] = strdup(json_object_get_string(a))))
				goto oom;
			t->argc++;
		}
	}
	if ((envo = get_obj(cmd, "environment")) &&
	    json_object_object_get_ex(envo, "variables", &v)) {
		size_t n;
		if (!json_object_is_type(v, json_type_array)) {
			vmsup_err(err, "command.environment.variables is not an array");
			return -1;
		}
		n = json_object_array_length(v);
		t->env = calloc(n ? n : 1, sizeof(*t->env));
		if (!t->env)
			goto oom;
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			const char *name = get_str(e, "name"), *val = get_str(e, "value"),
				   *type = get_str(e, "type");
			if (type && strcmp(type, "VALUE") != 0) {
				vmsup_err(err, "environment variable %s: type %s is not supported",
					  name ? name : "?", type);
				return -1;
			}
			if (!name || !*name || strchr(name, '=') || !val) {
				vmsup_err(
				    err, "environment variable %zu has no valid name and value", i);
				return -1;
			}
			for (const char *c = name; *c; c++) {
				if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') ||
				      (*c >= 'a' && *c <= 'z') ||
				      (c != name && *c >= '0' && *c <= '9'))) {
					vmsup_err(err,
						  "environment variable name '%s' is not valid",
						  name);
					return -1;
				}
			}
			t->env[i].name = strdup(name);
			t->env[i].value = strdup(val);
			t->nenv++;
			if (!t->env[i].name || !t->env[i].value)
				goto oom;
		}
	}
	s = get_str(cmd, "user");
	if (s && *s)
		t->user = strdup(s);
	return 0;
oom:
	vmsup_err(err, "out of memory");
	return -1;
}

void proto_task_clear(struct proto_task *t)
{
	free(t->task_id);
	free(t->name);
	free(t->value);
	for (size_t i = 0; t->argv && i < t->argc; i++)
		free(t->argv[i]);
	free(t->argv);
	for (size_t i = 0; i < t->nenv; i++) {
		free(t->env[i].name);
		free(t->env[i].value);
	}
	free(t->env);
	free(t->user);
	json_object_put(t->info);
	memset(t, 0, sizeof(*t));
}

static struct json_object *id_obj(const char *v)
{
	struct json_object *o = json_object_new_object();
	json_object_object_add(o, "value", json_object_new_string(v));
	return o;
}

static struct json_object *call_new(const char *type, const char *fw, const char *ex)
{
	struct json_object *c = json_object_new_object();
	json_object_object_add(c, "type", json_object_new_string(type));
	json_object_object_add(c, "framework_id", id_obj(fw));
	json_object_object_add(c, "executor_id", id_obj(ex));
	return c;
}

static struct json_object *copy_array(struct json_object *a)
{
	struct json_object *out = json_object_new_array();
	size_t n = a ? json_object_array_length(a) : 0;
	for (size_t i = 0; i < n; i++)
		json_object_array_add(out, json_object_get(json_object_array_get_idx(a, i)));
	return out;
}

struct json_object *proto_subscribe(const char *fw, const char *ex, struct json_object *tasks,
				    struct json_object *statuses)
{
	struct json_object *c = call_new("SUBSCRIBE", fw, ex), *sub = json_object_new_object();
	struct json_object *updates = json_object_new_array();
	size_t n = statuses ? json_object_array_length(statuses) : 0;

	for (size_t i = 0; i < n; i++) {
		/* Call.Update has only "status": the framework is the call's own. */
		struct json_object *u = json_object_new_object();
		json_object_object_add(u, "status",
				       json_object_get(json_object_array_get_idx(statuses, i)));
		json_object_array_add(updates, u);
	}
	json_object_object_add(sub, "unacknowledged_tasks", copy_array(tasks));
	json_object_object_add(sub, "unacknowledged_updates", updates);
	json_object_object_add(c, "subscribe", sub);
	return c;
}

struct json_object *proto_update(const char *fw, const char *ex, struct json_object *status)
{
	struct json_object *c = call_new("UPDATE", fw, ex), *u = json_object_new_object();
	json_object_object_add(u, "status", json_object_get(status));
	json_object_object_add(c, "update", u);
	return c;
}

struct json_object *proto_message(const char *fw, const char *ex, const void *data, size_t len)
{
	struct json_object *c = call_new("MESSAGE", fw, ex), *m;
	char *b = proto_b64_encode(data, len);
	if (!b) {
		json_object_put(c);
		return NULL;
	}
	m = json_object_new_object();
	json_object_object_add(m, "data", json_object_new_string(b));
	json_object_object_add(c, "message", m);
	free(b);
	return c;
}

int proto_uuid(unsigned char out[16])
{
	size_t got = 0;
	while (got < 16) {
		ssize_t n = getrandom(out + got, 16 - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	out[6] = (unsigned char)((out[6] & 0x0f) | 0x40);
	out[8] = (unsigned char)((out[8] & 0x3f) | 0x80);
	return 0;
}

struct json_object *proto_status(const char *task_id, const char *state, const char *ex,
				 const char *message, const char *ip, char **uuid_b64)
{
	unsigned char u[16];
	struct timespec ts;
	struct json_object *s;
	char *b;

	if (proto_uuid(u) < 0 || !(b = proto_b64_encode(u, sizeof(u))))
		return NULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	s = json_object_new_object();
	json_object_object_add(s, "task_id", id_obj(task_id));
	json_object_object_add(s, "state", json_object_new_string(state));
	json_object_object_add(s, "source", json_object_new_string("SOURCE_EXECUTOR"));
	json_object_object_add(s, "executor_id", id_obj(ex));
	json_object_object_add(s, "uuid", json_object_new_string(b));
	json_object_object_add(s, "timestamp",
			       json_object_new_double((double)ts.tv_sec + ts.tv_nsec / 1e9));
	if (message)
		json_object_object_add(s, "message", json_object_new_string(message));
	if (ip) {
		struct json_object *labels = json_object_new_object(),
				   *arr = json_object_new_array(), *l = json_object_new_object();
		json_object_object_add(l, "key", json_object_new_string("vm_ip"));
		json_object_object_add(l, "value", json_object_new_string(ip));
		json_object_array_add(arr, l);
		json_object_object_add(labels, "labels", arr);
		json_object_object_add(s, "labels", labels);

		struct json_object *cs = json_object_new_object(), *nis = json_object_new_array(),
				   *ni = json_object_new_object(), *ips = json_object_new_array(),
				   *ipa = json_object_new_object();
		json_object_object_add(ipa, "protocol", json_object_new_string("IPv4"));
		json_object_object_add(ipa, "ip_address", json_object_new_string(ip));
		json_object_array_add(ips, ipa);
		json_object_object_add(ni, "ip_addresses", ips);
		json_object_array_add(nis, ni);
		json_object_object_add(cs, "network_infos", nis);
		json_object_object_add(s, "container_status", cs);
	}
	*uuid_b64 = b;
	return s;
}

void proto_status_health(struct json_object *st, int healthy, const char *reason)
{
	if (healthy >= 0)
		json_object_object_add(st, "healthy", json_object_new_boolean(healthy));
	if (reason)
		json_object_object_add(st, "reason", json_object_new_string(reason));
}

void proto_status_ports(struct json_object *st, const uint16_t *ports, size_t n)
{
	struct json_object *cs, *nis, *maps;

	if (!json_object_object_get_ex(st, "container_status", &cs) ||
	    !json_object_object_get_ex(cs, "network_infos", &nis) ||
	    json_object_array_length(nis) < 1)
		return;
	maps = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		for (int udp = 0; udp < 2; udp++) {
			struct json_object *m = json_object_new_object();
			json_object_object_add(m, "host_port", json_object_new_int(ports[i]));
			json_object_object_add(m, "container_port", json_object_new_int(ports[i]));
			json_object_object_add(m, "protocol",
					       json_object_new_string(udp ? "udp" : "tcp"));
			json_object_array_add(maps, m);
		}
	json_object_object_add(json_object_array_get_idx(nis, 0), "port_mappings", maps);
}

bool proto_state_terminal(const char *state)
{
	static const char *const terminal[] = {"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED",
					       "TASK_ERROR",	"TASK_LOST",   "TASK_DROPPED",
					       "TASK_GONE"};
	for (size_t i = 0; i < sizeof(terminal) / sizeof(terminal[0]); i++)
		if (strcmp(state, terminal[i]) == 0)
			return true;
	return false;
}
