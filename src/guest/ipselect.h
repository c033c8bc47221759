/*
 * Choosing the guest's address from guest-network-get-interfaces, as a pure
 * function so the rules can be tested without a guest.
 */
#ifndef VMSUP_IPSELECT_H
#define VMSUP_IPSELECT_H

#include <stdbool.h>

#include <json-c/json.h>
#include "qmp/qmp.h"

/*
 * From the "return" value of guest-network-get-interfaces (borrowed) and the
 * MAC the supervisor gave the VM's primary NIC (may be NULL), build the API's
 * ip reply (a new object):
 *
 *   {"ip": "10.0.2.15" | IPv6 when the guest has no IPv4 | null,
 *    "ipv6": first IPv6 | null,
 *    "interfaces": [{"name", "mac", "addresses": [{"type", "address", "prefix"}]}]}
 *
 * "interfaces" lists every interface and every well-formed address as the
 * guest reported it. "ip"/"ipv6" skip loopback (127/8, ::1, interface "lo")
 * and link-local (169.254/16, fe80::/10) addresses and unspecified or
 * multicast ones; interfaces whose hardware-address equals mac come first,
 * then the others in the guest's order (not with mac_only: a bridge VM is
 * reached on its own NIC alone, and a VM restored from a template has the
 * template's MAC until the guest takes its own); IPv4 before IPv6.
 * Entries of the wrong shape are skipped. Returns NULL (err set, class
 * "ProtocolError") only when ifaces is not an array.
 */
struct json_object *ipselect(struct json_object *ifaces, const char *mac, bool mac_only,
			     struct qmp_error *err);

/* Normalise a MAC "52:54:00:AB:cd:ef" to lower case into out[18]; -1 if malformed. */
int ipselect_mac_norm(const char *mac, char out[18]);

#endif
