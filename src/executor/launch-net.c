/* A task's Mesos "ports" as the VM's published ports (launch-internal.h). */
#include "src/executor/launch-internal.h"

/*
 * Each port is published on the same number on the host (on vmsupd's
 * publish_address) and in the guest, for tcp and udp as a Mesos port
 * resource covers both: a task serving on its assigned port is reachable
 * where a task of Mesos's own executor would be. NULL without ports.
 */
struct json_object *launch_net_spec(const struct task *t)
{
	struct json_object *net, *pub;
	static const char *const protos[] = {"tcp", "udp"};

	if (!t->spec.nports)
		return NULL;
	net = json_object_new_object();
	pub = json_object_new_array();
	json_object_object_add(net, "mode", json_object_new_string("user"));
	for (size_t i = 0; i < t->spec.nports; i++)
		for (size_t j = 0; j < 2; j++) {
			struct json_object *p = json_object_new_object();
			json_object_object_add(p, "host_port",
					       json_object_new_int(t->spec.ports[i]));
			json_object_object_add(p, "guest_port",
					       json_object_new_int(t->spec.ports[i]));
			json_object_object_add(p, "proto", json_object_new_string(protos[j]));
			json_object_array_add(pub, p);
		}
	json_object_object_add(net, "publish", pub);
	return net;
}
