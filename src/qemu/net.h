/*
 * A VM's network (issue 22): the "net" object of its spec, the qemu
 * -netdev it becomes, and the host ports it publishes. User mode is QEMU's
 * user networking, restricted (no connection out of the guest) unless the
 * VM asks for egress and the daemon allows it; none gives the workload no
 * NIC at all (the agent's virtio-serial channel still works); bridge gives
 * the VM a tap on an existing host bridge (src/net/), so its address is a
 * real one that the host and the other VMs on the bridge reach directly.
 */
#ifndef VMSUP_NET_H
#define VMSUP_NET_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "src/qemu/config.h"
#include "src/qemu/spawn.h"

#define VM_PUBLISH_MAX 32

struct vm_publish {
	char *host_addr;    /* IPv4, the config's publish_address when not given */
	unsigned host_port; /* 0: a free one, picked at each start */
	unsigned guest_port;
	bool udp;
	unsigned bound_port; /* not in the JSON: the host port of this run */
};

enum vm_net_mode { VM_NET_USER, VM_NET_NONE, VM_NET_BRIDGE };

/* qemu's descriptor of a bridge VM's tap: fds[VM_SPAWN_TAP_FD] (spawn.h) */
#define VM_NET_TAP_QEMU_FD (3 + VM_SPAWN_TAP_FD)

struct vm_net {
	bool none;    /* mode "none" */
	bool bridge;  /* mode "bridge" (neither: "user") */
	char *brname; /* the bridge of mode bridge */
	bool egress;
	struct vm_publish *publish;
	size_t npublish;
};

/* The "net" field of spec j into out (defaults from cfg); -1 and a
 * message fit for a 400 reply. */
int vm_net_from_json(struct json_object *j, const struct vmsup_config *cfg, struct vm_net *out,
		     char **err);
struct json_object *vm_net_to_json(const struct vm_net *n);
/* The published ports with the ports bound in this run (status, vmctl port). */
struct json_object *vm_net_ports_json(const struct vm_net *n);
void vm_net_release(struct vm_net *n);

/*
 * Before qemu starts: fixed host ports must be free (bound and released
 * here, so a taken port is refused before anything runs; -1 with *err
 * naming it), port 0 gets a free one. Sets bound_port of each.
 */
int vm_net_bind_ports(struct vm_net *n, char **err);

/*
 * A reattach's bound ports: those of the run still going, from the "ports"
 * of the state file (vm_net_ports_json). A port the kernel picked (host_port
 * 0) is only known from there; qemu keeps forwarding it, so status must go
 * on naming it. Entries that do not match the spec's publish list (edited
 * file) are ignored: such a port is reported as unknown, never a guess.
 */
void vm_net_ports_restore(struct vm_net *n, struct json_object *ports);

/* "user", "none" or "bridge" */
const char *vm_net_mode_name(const struct vm_net *n);

/* A Linux interface name (1..15 of [A-Za-z0-9_.-], not "." or ".."). */
bool vm_net_ifname_valid(const char *s);

/* The -netdev value: user mode's (ssh forward, published ports), or the
 * tap of bridge mode; NULL when out of memory. */
char *vm_net_netdev(const struct vm_net *n, int ssh_port);

#endif
