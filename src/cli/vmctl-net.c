/*
 * vmctl's network options (--net user|none|bridge[:NAME], --publish,
 * --egress: the spec's "net",
 * issue 22) and `vmctl port NAME`, which lists the published ports as
 * `docker port` does.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/cli/vmctl.h"

static struct json_object *net_of(struct json_object *spec)
{
	struct json_object *n;

	if (!json_object_object_get_ex(spec, "net", &n)) {
		n = json_object_new_object();
		json_object_object_add(spec, "net", n);
	}
	return n;
}

static int port_of(const char *s, size_t len, int min, long *out)
{
	char buf[8];

	if (!len || len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return vmctl_parse_long(buf, min, 65535, out);
}

/* [ADDR:]HOSTPORT:GUESTPORT[/tcp|/udp], as docker run -p spells it */
static int add_publish(const char *cmd, struct json_object *spec, const char *arg)
{
	const char *proto = "tcp", *slash = strchr(arg, '/'), *end, *c2, *c1;
	struct json_object *n = net_of(spec), *arr, *e;
	char addr[INET_ADDRSTRLEN];
	struct in_addr ia;
	long hp, gp;

	end = slash ? slash : arg + strlen(arg);
	if (slash) {
		if (strcmp(slash + 1, "tcp") && strcmp(slash + 1, "udp"))
			return vmctl_usage_error(cmd, "--publish: '%s': protocol is not tcp or udp",
						 arg);
		proto = slash + 1;
	}
	c2 = memrchr(arg, ':', (size_t)(end - arg));
	if (!c2)
		goto bad;
	c1 = memrchr(arg, ':', (size_t)(c2 - arg));
	if (port_of(c2 + 1, (size_t)(end - c2 - 1), 1, &gp) ||
	    port_of(c1 ? c1 + 1 : arg, (size_t)(c2 - (c1 ? c1 + 1 : arg)), 0, &hp))
		goto bad;
	if (c1) {
		if ((size_t)(c1 - arg) >= sizeof(addr))
			goto bad;
		memcpy(addr, arg, (size_t)(c1 - arg));
		addr[c1 - arg] = '\0';
		if (inet_pton(AF_INET, addr, &ia) != 1)
			return vmctl_usage_error(cmd, "--publish: '%s' is not an IPv4 address",
						 addr);
	}
	if (!json_object_object_get_ex(n, "publish", &arr)) {
		arr = json_object_new_array();
		json_object_object_add(n, "publish", arr);
	}
	e = json_object_new_object();
	if (c1)
		json_object_object_add(e, "host_addr", json_object_new_string(addr));
	json_object_object_add(e, "host_port", json_object_new_int64(hp));
	json_object_object_add(e, "guest_port", json_object_new_int64(gp));
	json_object_object_add(e, "proto", json_object_new_string(proto));
	json_object_array_add(arr, e);
	return 0;
bad:
	return vmctl_usage_error(cmd,
				 "--publish: '%s' is not [ADDR:]HOSTPORT:GUESTPORT[/tcp|/udp] "
				 "(ports 0..65535 on the host, 0 picks one; 1..65535 in the guest)",
				 arg);
}

int vmctl_net_opt(const char *cmd, int opt, const char *arg, struct json_object *spec)
{
	switch (opt) {
	case VMCTL_OPT_NET:
		/* bridge:NAME names the bridge; plain bridge takes vmsupd.conf's */
		if (!strncmp(arg, "bridge:", 7) && arg[7]) {
			json_object_object_add(net_of(spec), "mode",
					       json_object_new_string("bridge"));
			json_object_object_add(net_of(spec), "bridge",
					       json_object_new_string(arg + 7));
			return 0;
		}
		if (strcmp(arg, "user") && strcmp(arg, "none") && strcmp(arg, "bridge"))
			return vmctl_usage_error(cmd,
						 "--net: '%s' is not user, none, bridge or "
						 "bridge:NAME",
						 arg);
		json_object_object_add(net_of(spec), "mode", json_object_new_string(arg));
		return 0;
	case VMCTL_OPT_PUBLISH:
		return add_publish(cmd, spec, arg);
	case VMCTL_OPT_EGRESS:
		json_object_object_add(net_of(spec), "egress", json_object_new_boolean(1));
		return 0;
	}
	return -1;
}

/* docker port's lines: GUESTPORT/PROTO -> ADDR:HOSTPORT */
static void print_ports(struct json_object *vm)
{
	struct json_object *ports;

	if (!json_object_object_get_ex(vm, "ports", &ports))
		ports = NULL;
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
		struct json_object *e = json_object_array_get_idx(ports, i), *v;
		char hp[16] = "-";
		if (json_object_object_get_ex(e, "host_port", &v) && v)
			snprintf(hp, sizeof(hp), "%d", json_object_get_int(v));
		json_object_object_get_ex(e, "guest_port", &v);
		printf("%d/", json_object_get_int(v));
		json_object_object_get_ex(e, "proto", &v);
		printf("%s -> ", json_object_get_string(v));
		json_object_object_get_ex(e, "host_addr", &v);
		printf("%s:%s\n", json_object_get_string(v), hp);
	}
}

int vmctl_cmd_port(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {0}};
	struct vmctl_args a;
	int rc = vmctl_parse_name("port", argc, argv, "h", lo, NULL, NULL, 1, 0, &a);

	if (rc)
		return rc < 0 ? 0 : rc;
	return vmctl_get_print(g, a.pos[0], NULL, "ports", print_ports);
}
