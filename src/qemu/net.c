#include "src/qemu/net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "src/util/err.h"

static int get_port(struct json_object *e, const char *key, unsigned min, unsigned *out, char **err)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(e, key, &v) || json_object_is_type(v, json_type_null))
		return min ? vmsup_err(err, "'%s' is required", key) : 0;
	if (!json_object_is_type(v, json_type_int))
		return vmsup_err(err, "'%s' must be an integer", key);
	n = json_object_get_int64(v);
	if (n < min || n > 65535)
		return vmsup_err(err, "'%s' is %lld, must be in %u..65535", key, (long long)n, min);
	*out = (unsigned)n;
	return 0;
}

static int get_publish(struct json_object *e, const struct vmsup_config *cfg, struct vm_publish *p,
		       char **err)
{
	struct json_object *v;
	struct in_addr a;
	const char *addr = cfg->publish_address;

	if (!json_object_is_type(e, json_type_object))
		return vmsup_err(err, "must be an object");
	json_object_object_foreach(e, k, val)
	{
		(void)val;
		if (strcmp(k, "host_addr") && strcmp(k, "host_port") && strcmp(k, "guest_port") &&
		    strcmp(k, "proto"))
			return vmsup_err(err, "unknown field '%s'", k);
	}
	if (json_object_object_get_ex(e, "host_addr", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string))
			return vmsup_err(err, "'host_addr' must be a string");
		addr = json_object_get_string(v);
	}
	/* the address goes into qemu's option string: only a plain IPv4 one */
	if (inet_pton(AF_INET, addr, &a) != 1)
		return vmsup_err(err, "'host_addr': '%s' is not an IPv4 address", addr);
	if (!(p->host_addr = strdup(addr)))
		return vmsup_err(err, "out of memory");
	if (get_port(e, "host_port", 0, &p->host_port, err) ||
	    get_port(e, "guest_port", 1, &p->guest_port, err))
		return -1;
	if (json_object_object_get_ex(e, "proto", &v) && !json_object_is_type(v, json_type_null)) {
		const char *s = json_object_get_string(v);
		if (!json_object_is_type(v, json_type_string) ||
		    (strcmp(s, "tcp") && strcmp(s, "udp")))
			return vmsup_err(err, "'proto' must be tcp or udp");
		p->udp = !strcmp(s, "udp");
	}
	return 0;
}

static int get_publishes(struct json_object *arr, const struct vmsup_config *cfg, struct vm_net *n,
			 char **err)
{
	size_t len;

	if (!json_object_is_type(arr, json_type_array))
		return vmsup_err(err, "'net': 'publish' must be an array");
	len = json_object_array_length(arr);
	if (len > VM_PUBLISH_MAX)
		return vmsup_err(err, "'net': at most %u published ports", VM_PUBLISH_MAX);
	if (len && !(n->publish = calloc(len, sizeof(*n->publish))))
		return vmsup_err(err, "out of memory");
	for (size_t i = 0; i < len; i++) {
		char *why = NULL;
		n->npublish = i + 1;
		if (get_publish(json_object_array_get_idx(arr, i), cfg, &n->publish[i], &why)) {
			vmsup_err(err, "'net': 'publish[%zu]': %s", i, why);
			free(why);
			return -1;
		}
		/* two forwards of one host port: qemu would fail at start */
		for (size_t j = 0; j < i; j++)
			if (n->publish[i].host_port &&
			    n->publish[j].host_port == n->publish[i].host_port &&
			    n->publish[j].udp == n->publish[i].udp)
				return vmsup_err(err,
						 "'net': 'publish[%zu]': host port %u/%s is "
						 "published twice",
						 i, n->publish[i].host_port,
						 n->publish[i].udp ? "udp" : "tcp");
	}
	return 0;
}

bool vm_net_ifname_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

const char *vm_net_mode_name(const struct vm_net *n)
{
	return n->none ? "none" : n->bridge ? "bridge" : "user";
}

/* The bridge of mode bridge: name (the spec's) or the config's default. */
static int set_bridge(struct vm_net *n, const struct vmsup_config *cfg, const char *name,
		      char **err)
{
	if (!n->bridge)
		return 0;
	if (!name)
		name = cfg->bridge;
	if (!name)
		return vmsup_err(err, "'net': mode bridge needs 'bridge' (no default bridge "
				      "in vmsupd.conf)");
	if (!vm_net_ifname_valid(name))
		return vmsup_err(err, "'net': 'bridge': '%s' is not a network interface name",
				 name);
	if (!(n->brname = strdup(name)))
		return vmsup_err(err, "out of memory");
	return 0;
}

int vm_net_from_json(struct json_object *j, const struct vmsup_config *cfg, struct vm_net *n,
		     char **err)
{
	struct json_object *o, *v;

	memset(n, 0, sizeof(*n));
	n->none = cfg->net_mode == VM_NET_NONE;
	n->bridge = cfg->net_mode == VM_NET_BRIDGE;
	if (!json_object_object_get_ex(j, "net", &o) || json_object_is_type(o, json_type_null))
		return set_bridge(n, cfg, NULL, err);
	if (!json_object_is_type(o, json_type_object))
		return vmsup_err(err, "'net' must be an object");
	json_object_object_foreach(o, k, val)
	{
		(void)val;
		if (strcmp(k, "mode") && strcmp(k, "egress") && strcmp(k, "publish") &&
		    strcmp(k, "bridge"))
			return vmsup_err(err, "'net': unknown field '%s'", k);
	}
	if (json_object_object_get_ex(o, "mode", &v) && !json_object_is_type(v, json_type_null)) {
		const char *m = json_object_get_string(v);
		if (!json_object_is_type(v, json_type_string) ||
		    (strcmp(m, "user") && strcmp(m, "none") && strcmp(m, "bridge")))
			return vmsup_err(err, "'net': 'mode' must be user, none or bridge");
		n->none = !strcmp(m, "none");
		n->bridge = !strcmp(m, "bridge");
	}
	if (json_object_object_get_ex(o, "bridge", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string))
			return vmsup_err(err, "'net': 'bridge' must be a string");
		if (!n->bridge)
			return vmsup_err(err, "'net': 'bridge' needs mode bridge");
	} else {
		v = NULL;
	}
	if (set_bridge(n, cfg, v ? json_object_get_string(v) : NULL, err))
		return -1;
	if (json_object_object_get_ex(o, "egress", &v) && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean))
			return vmsup_err(err, "'net': 'egress' must be true or false");
		n->egress = json_object_get_boolean(v);
	}
	if (n->egress && (n->none || n->bridge))
		return vmsup_err(err, "'net': 'egress' needs mode user (mode %s has %s)",
				 vm_net_mode_name(n),
				 n->none ? "no network" : "the bridge's own routing");
	if (n->egress && !cfg->allow_egress)
		return vmsup_err(err, "'net': 'egress' is not allowed here (vmsupd.conf: "
				      "allow_egress = false)");
	if (json_object_object_get_ex(o, "publish", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (get_publishes(v, cfg, n, err))
			return -1;
		if (n->npublish && n->none)
			return vmsup_err(err, "'net': 'publish' needs mode user (mode none "
					      "has no network to publish from)");
		if (n->npublish && n->bridge)
			return vmsup_err(err, "'net': 'publish' needs mode user (on a bridge "
					      "the VM's own address is reached directly)");
	}
	return 0;
}

struct json_object *vm_net_to_json(const struct vm_net *n)
{
	struct json_object *o = json_object_new_object(), *arr = json_object_new_array();

	json_object_object_add(o, "mode", json_object_new_string(vm_net_mode_name(n)));
	if (n->bridge)
		json_object_object_add(o, "bridge", json_object_new_string(n->brname));
	json_object_object_add(o, "egress", json_object_new_boolean(n->egress));
	for (size_t i = 0; i < n->npublish; i++) {
		const struct vm_publish *p = &n->publish[i];
		struct json_object *e = json_object_new_object();
		json_object_object_add(e, "host_addr", json_object_new_string(p->host_addr));
		json_object_object_add(e, "host_port", json_object_new_int64(p->host_port));
		json_object_object_add(e, "guest_port", json_object_new_int64(p->guest_port));
		json_object_object_add(e, "proto", json_object_new_string(p->udp ? "udp" : "tcp"));
		json_object_array_add(arr, e);
	}
	json_object_object_add(o, "publish", arr);
	return o;
}

struct json_object *vm_net_ports_json(const struct vm_net *n)
{
	struct json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n->npublish; i++) {
		const struct vm_publish *p = &n->publish[i];
		struct json_object *e = json_object_new_object();
		unsigned port = p->bound_port ? p->bound_port : p->host_port;
		json_object_object_add(e, "host_addr", json_object_new_string(p->host_addr));
		json_object_object_add(e, "host_port", port ? json_object_new_int64(port) : NULL);
		json_object_object_add(e, "guest_port", json_object_new_int64(p->guest_port));
		json_object_object_add(e, "proto", json_object_new_string(p->udp ? "udp" : "tcp"));
		json_object_array_add(arr, e);
	}
	return arr;
}

void vm_net_release(struct vm_net *n)
{
	for (size_t i = 0; i < n->npublish; i++)
		free(n->publish[i].host_addr);
	free(n->publish);
	free(n->brname);
	memset(n, 0, sizeof(*n));
}

/* Bind addr:port (0: any free one) and release it; the port, or -1. */
static int probe(const struct vm_publish *p, unsigned port, char **err)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	socklen_t len = sizeof(sa);
	int fd, one = 1, got;

	inet_pton(AF_INET, p->host_addr, &sa.sin_addr);
	fd = socket(AF_INET, (p->udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return vmsup_err(err, "socket: %s", strerror(errno));
	/* as qemu's own forward does: a port in TIME_WAIT is free to it */
	if (!p->udp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0) {
		int e = errno;
		close(fd);
		return vmsup_err(err, "host port %s:%u/%s: %s", p->host_addr, port,
				 p->udp ? "udp" : "tcp",
				 e == EADDRINUSE ? "already in use" : strerror(e));
	}
	got = ntohs(sa.sin_port);
	close(fd);
	return got;
}

int vm_net_bind_ports(struct vm_net *n, char **err)
{
	for (size_t i = 0; i < n->npublish; i++) {
		int port = probe(&n->publish[i], n->publish[i].host_port, err);
		if (port < 0)
			return -1;
		n->publish[i].bound_port = (unsigned)port;
	}
	return 0;
}

void vm_net_ports_restore(struct vm_net *n, struct json_object *ports)
{
	if (!json_object_is_type(ports, json_type_array))
		return;
	for (size_t i = 0; i < n->npublish && i < json_object_array_length(ports); i++) {
		struct vm_publish *p = &n->publish[i];
		struct json_object *e = json_object_array_get_idx(ports, i), *v;
		unsigned guest = 0, host = 0;
		char *why = NULL;

		if (!json_object_is_type(e, json_type_object) ||
		    get_port(e, "guest_port", 1, &guest, &why) ||
		    get_port(e, "host_port", 1, &host, &why) || guest != p->guest_port ||
		    !json_object_object_get_ex(e, "proto", &v) ||
		    !json_object_is_type(v, json_type_string) ||
		    strcmp(json_object_get_string(v), p->udp ? "udp" : "tcp") ||
		    (p->host_port && host != p->host_port)) {
			free(why);
			continue;
		}
		p->bound_port = host;
	}
}

char *vm_net_netdev(const struct vm_net *n, int ssh_port)
{
	char *s = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&s, &len);

	if (!f)
		return NULL;
	if (n->bridge)
		fprintf(f, "tap,id=n0,fd=%d", VM_NET_TAP_QEMU_FD);
	else
		fprintf(f, "user,id=n0,restrict=%s,hostfwd=tcp:127.0.0.1:%d-:22",
			n->egress ? "off" : "on", ssh_port);
	for (size_t i = 0; i < n->npublish; i++) {
		const struct vm_publish *p = &n->publish[i];
		fprintf(f, ",hostfwd=%s:%s:%u-:%u", p->udp ? "udp" : "tcp", p->host_addr,
			p->bound_port ? p->bound_port : p->host_port, p->guest_port);
	}
	if (fclose(f)) {
		free(s);
		return NULL;
	}
	return s;
}
