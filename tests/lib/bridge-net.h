/*
 * A private bridged network for the bridge-mode tests (issue 22): a network
 * namespace of the test's own, a bridge in it (10.77.0.1/24) and dnsmasq
 * serving DHCP on that bridge alone. The calling process joins the
 * namespace, so vmsupd, the executor, qemu and its taps started from it
 * live there and nothing touches the host's network.
 */
#ifndef TESTS_BRIDGE_NET_H
#define TESTS_BRIDGE_NET_H

#include <stddef.h>
#include <sys/types.h>

#define TB_BRIDGE "vmsbr0"
/* the first three octets of dnsmasq's range (.50 to .99) */
#define TB_PREFIX "10.77.0."

struct tbridge {
	char ns[32];
	char leases[96];
	pid_t dnsmasq;
};

/* Skips the test (with a line saying why) without root, /dev/net/tun or
 * dnsmasq; else the namespace, joined, its bridge and dnsmasq. */
void tb_up(struct tbridge *b);
/* dnsmasq killed, its lease file and the namespace removed. */
void tb_down(struct tbridge *b);
/* dnsmasq's lease of mac (any case): its address into ip, or "". */
void tb_lease_of(const struct tbridge *b, const char *mac, char *ip, size_t n);

#endif
