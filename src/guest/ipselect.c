#include "src/guest/ipselect.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>

int ipselect_mac_norm(const char *mac, char out[18])
{
	int i;

	if (!mac || strlen(mac) != 17)
		return -1;
	for (i = 0; i < 17; i++) {
		unsigned char c = (unsigned char)mac[i];
		if (i % 3 == 2) {
			if (c != ':' && c != '-')
				return -1;
			out[i] = ':';
		} else {
			if (!isxdigit(c))
				return -1;
			out[i] = (char)tolower(c);
		}
	}
	out[17] = '\0';
	return 0;
}

static const char *get_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* 4 or 6 for a usable (routable-looking) address, 0 to skip, -1 malformed. */
static int classify(const char *type, const char *addr)
{
	unsigned char b[16];

	if (!strcmp(type, "ipv4")) {
		if (inet_pton(AF_INET, addr, b) != 1)
			return -1;
		if (b[0] == 127 || b[0] == 0 || (b[0] == 169 && b[1] == 254) || b[0] >= 224)
			return 0;
		return 4;
	}
	if (!strcmp(type, "ipv6")) {
		static const unsigned char zero[16];
		if (inet_pton(AF_INET6, addr, b) != 1)
			return -1;
		if (!memcmp(b, zero, 15) && (b[15] == 0 || b[15] == 1)) /* :: and ::1 */
			return 0;
		if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 */
			return 0;
		if (b[0] == 0xff) /* multicast */
			return 0;
		return 6;
	}
	return -1;
}

struct json_object *ipselect(struct json_object *ifaces, const char *mac, bool mac_only,
			     struct qmp_error *err)
{
	struct json_object *res, *list, *ip4 = NULL, *ip6 = NULL;
	char want[18] = "";
	size_t n, i;
	int pass;

	if (!json_object_is_type(ifaces, json_type_array)) {
		qmp_error_set(err, QMP_ERR_PROTOCOL,
			      "guest-network-get-interfaces did not return an array");
		return NULL;
	}
	if (mac && ipselect_mac_norm(mac, want) < 0)
		want[0] = '\0';
	res = json_object_new_object();
	list = json_object_new_array();
	n = json_object_array_length(ifaces);

	/* Pass 0 picks from the NIC with our MAC, pass 1 from the rest. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			struct json_object *ifc = json_object_array_get_idx(ifaces, i), *addrs,
					   *out_addrs;
			const char *name, *hw;
			char hwn[18] = "";
			int matches, loop;
			size_t j, m;

			if (!json_object_is_type(ifc, json_type_object))
				continue;
			name = get_str(ifc, "name");
			hw = get_str(ifc, "hardware-address");
			if (!name)
				continue;
			if (hw && ipselect_mac_norm(hw, hwn) < 0)
				hwn[0] = '\0';
			matches = want[0] && !strcmp(hwn, want);
			if (pass == 0 && !matches)
				continue;
			loop = !strcmp(name, "lo") || !strcmp(hwn, "00:00:00:00:00:00");
			if (pass == 1) {
				/* The listing is built once, in the guest's order. */
				struct json_object *e = json_object_new_object();
				json_object_object_add(e, "name", json_object_new_string(name));
				json_object_object_add(
				    e, "mac",
				    hw ? json_object_new_string(hwn[0] ? hwn : hw) : NULL);
				out_addrs = json_object_new_array();
				json_object_object_add(e, "addresses", out_addrs);
				json_object_array_add(list, e);
			} else {
				out_addrs = NULL;
			}
			if (!json_object_object_get_ex(ifc, "ip-addresses", &addrs) ||
			    !json_object_is_type(addrs, json_type_array))
				continue;
			m = json_object_array_length(addrs);
			for (j = 0; j < m; j++) {
				struct json_object *a = json_object_array_get_idx(addrs, j), *pfx;
				const char *type = get_str(a, "ip-address-type");
				const char *addr = get_str(a, "ip-address");
				int cls;

				if (!type || !addr)
					continue;
				cls = classify(type, addr);
				if (cls < 0)
					continue;
				if (out_addrs) {
					struct json_object *e = json_object_new_object();
					json_object_object_add(e, "type",
							       json_object_new_string(type));
					json_object_object_add(e, "address",
							       json_object_new_string(addr));
					if (json_object_object_get_ex(a, "prefix", &pfx) &&
					    json_object_is_type(pfx, json_type_int))
						json_object_object_add(
						    e, "prefix",
						    json_object_new_int(json_object_get_int(pfx)));
					json_object_array_add(out_addrs, e);
				}
				if (loop || (pass == 1 && (matches || mac_only)))
					continue;
				if (cls == 4 && !ip4)
					ip4 = json_object_new_string(addr);
				else if (cls == 6 && !ip6)
					ip6 = json_object_new_string(addr);
			}
		}
	}
	json_object_object_add(res, "ip", ip4 ? ip4 : (ip6 ? json_object_get(ip6) : NULL));
	json_object_object_add(res, "ipv6", ip6);
	json_object_object_add(res, "interfaces", list);
	return res;
}
