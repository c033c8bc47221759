#include <criterion/criterion.h>
#include <string.h>
#include "src/guest/ipselect.h"

#define MAC "52:54:00:12:34:56"

static struct json_object *sel(const char *ifaces_json, const char *mac)
{
	struct json_object *in = json_tokener_parse(ifaces_json), *out;
	struct qmp_error err;

	cr_assert_not_null(in, "bad test JSON: %s", ifaces_json);
	out = ipselect(in, mac, false, &err);
	json_object_put(in);
	cr_assert_not_null(out, "%s: %s", err.cls, err.desc);
	return out;
}

static const char *field(struct json_object *o, const char *key)
{
	struct json_object *v;

	cr_assert(json_object_object_get_ex(o, key, &v), "no %s", key);
	return v ? json_object_get_string(v) : NULL;
}

#define LO                                                                                         \
	"{\"name\":\"lo\",\"hardware-address\":\"00:00:00:00:00:00\",\"ip-addresses\":["           \
	"{\"ip-address-type\":\"ipv4\",\"ip-address\":\"127.0.0.1\",\"prefix\":8},"                \
	"{\"ip-address-type\":\"ipv6\",\"ip-address\":\"::1\",\"prefix\":128}]}"

struct row {
	const char *what, *ifaces, *mac, *ip, *ipv6;
};

static const struct row rows[] = {
    {"loopback only", "[" LO "]", MAC, NULL, NULL},
    {"link-local only",
     "[{\"name\":\"eth0\",\"hardware-address\":\"" MAC "\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"169.254.3.4\",\"prefix\":16},"
     "{\"ip-address-type\":\"ipv6\",\"ip-address\":\"fe80::5054:ff:fe12:3456\",\"prefix\":64},"
     "{\"ip-address-type\":\"ipv6\",\"ip-address\":\"febf::1\",\"prefix\":64}]}]",
     MAC, NULL, NULL},
    {"plain",
     "[" LO ",{\"name\":\"eth0\",\"hardware-address\":\"" MAC "\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.2.15\",\"prefix\":24}]}]",
     MAC, "10.0.2.15", NULL},
    {"MAC preferred over order",
     "[{\"name\":\"eth0\",\"hardware-address\":\"52:54:00:aa:aa:aa\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"192.168.7.2\",\"prefix\":24}]},"
     "{\"name\":\"eth1\",\"hardware-address\":\"52:54:00:12:34:56\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.2.15\",\"prefix\":24}]}]",
     MAC, "10.0.2.15", NULL},
    {"MAC matched case-insensitively",
     "[{\"name\":\"eth0\",\"hardware-address\":\"52:54:00:aa:aa:aa\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"192.168.7.2\",\"prefix\":24}]},"
     "{\"name\":\"eth1\",\"hardware-address\":\"52:54:00:12:34:56\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.2.15\",\"prefix\":24}]}]",
     "52:54:00:12:34:56", "10.0.2.15", NULL},
    {"no MAC match: guest order",
     "[{\"name\":\"eth0\",\"hardware-address\":\"52:54:00:aa:aa:aa\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"192.168.7.2\",\"prefix\":24}]},"
     "{\"name\":\"eth1\",\"hardware-address\":\"52:54:00:bb:bb:bb\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.2.15\",\"prefix\":24}]}]",
     MAC, "192.168.7.2", NULL},
    {"no MAC given",
     "[{\"name\":\"eth0\",\"hardware-address\":\"52:54:00:aa:aa:aa\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"192.168.7.2\",\"prefix\":24}]}]",
     NULL, "192.168.7.2", NULL},
    {"IPv4 before IPv6 on the same NIC",
     "[{\"name\":\"eth0\",\"hardware-address\":\"" MAC "\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv6\",\"ip-address\":\"fec0::5054:ff:fe12:3456\",\"prefix\":64},"
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.2.15\",\"prefix\":24}]}]",
     MAC, "10.0.2.15", "fec0::5054:ff:fe12:3456"},
    {"IPv6 only",
     "[" LO ",{\"name\":\"eth0\",\"hardware-address\":\"" MAC "\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv6\",\"ip-address\":\"fe80::1\",\"prefix\":64},"
     "{\"ip-address-type\":\"ipv6\",\"ip-address\":\"2001:db8::15\",\"prefix\":64}]}]",
     MAC, "2001:db8::15", "2001:db8::15"},
    {"missing fields and garbage skipped",
     "[17, \"x\", {\"hardware-address\":\"" MAC "\"},"
     "{\"name\":\"eth0\",\"hardware-address\":\"zz\",\"ip-addresses\":["
     "{\"ip-address-type\":\"ipv4\"},{\"ip-address\":\"10.1.1.1\"},"
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"300.1.1.1\"},"
     "{\"ip-address-type\":\"ipv9\",\"ip-address\":\"10.1.1.1\"},"
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":42},"
     "{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.9.9.9\",\"prefix\":\"x\"}]},"
     "{\"name\":\"eth1\",\"ip-addresses\":17}]",
     MAC, "10.9.9.9", NULL},
    {"empty", "[]", MAC, NULL, NULL},
    {"no ip-addresses", "[{\"name\":\"eth0\",\"hardware-address\":\"" MAC "\"}]", MAC, NULL, NULL},
};

Test(ipselect, table)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct json_object *o = sel(rows[i].ifaces, rows[i].mac);
		const char *ip = field(o, "ip"), *ip6 = field(o, "ipv6");

		cr_expect((ip == NULL) == (rows[i].ip == NULL) && (!ip || !strcmp(ip, rows[i].ip)),
			  "%s: ip %s, want %s", rows[i].what, ip ? ip : "null",
			  rows[i].ip ? rows[i].ip : "null");
		cr_expect((ip6 == NULL) == (rows[i].ipv6 == NULL) &&
			      (!ip6 || !strcmp(ip6, rows[i].ipv6)),
			  "%s: ipv6 %s, want %s", rows[i].what, ip6 ? ip6 : "null",
			  rows[i].ipv6 ? rows[i].ipv6 : "null");
		json_object_put(o);
	}
}

Test(ipselect, listing_has_every_interface_and_address)
{
	struct json_object *o =
	    sel("[" LO ",{\"name\":\"eth0\",\"hardware-address\":\"52:54:00:12:34:56\","
		"\"ip-addresses\":[{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.2.15\","
		"\"prefix\":24},{\"ip-address-type\":\"ipv6\",\"ip-address\":\"fe80::1\","
		"\"prefix\":64}]}]",
		MAC);
	struct json_object *ifs, *e, *addrs, *a;

	cr_assert(json_object_object_get_ex(o, "interfaces", &ifs));
	cr_assert_eq(json_object_array_length(ifs), 2);
	e = json_object_array_get_idx(ifs, 1);
	cr_expect_str_eq(field(e, "name"), "eth0");
	cr_expect_str_eq(field(e, "mac"), "52:54:00:12:34:56");
	cr_assert(json_object_object_get_ex(e, "addresses", &addrs));
	cr_assert_eq(json_object_array_length(addrs), 2, "link-local is listed, only not chosen");
	a = json_object_array_get_idx(addrs, 0);
	cr_expect_str_eq(field(a, "type"), "ipv4");
	cr_expect_str_eq(field(a, "address"), "10.0.2.15");
	cr_expect_str_eq(field(a, "prefix"), "24");
	e = json_object_array_get_idx(ifs, 0);
	cr_assert(json_object_object_get_ex(e, "addresses", &addrs));
	cr_expect_eq(json_object_array_length(addrs), 2, "loopback listed too");
	json_object_put(o);
}

Test(ipselect, deterministic)
{
	const char *in = rows[3].ifaces;
	struct json_object *a = sel(in, MAC), *b = sel(in, MAC);

	cr_expect(json_object_equal(a, b));
	json_object_put(a);
	json_object_put(b);
}

/* mac_only (a bridge VM): another NIC's address is never the VM's; a
 * restored VM whose NIC has the template's MAC has none yet. */
Test(ipselect, mac_only_takes_no_other_nic)
{
	static const char ifaces[] =
	    "[" LO ",{\"name\":\"eth0\",\"hardware-address\":\"52:54:00:aa:aa:aa\","
	    "\"ip-addresses\":[{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.77.0.9\","
	    "\"prefix\":24}]}]";
	struct json_object *in = json_tokener_parse(ifaces), *out;
	struct qmp_error err;

	cr_assert_not_null(in);
	out = ipselect(in, MAC, true, &err);
	cr_assert_not_null(out);
	cr_expect_null(field(out, "ip"), "another NIC's address: %s", field(out, "ip"));
	json_object_put(out);
	out = ipselect(in, MAC, false, &err);
	cr_expect_str_eq(field(out, "ip"), "10.77.0.9", "without mac_only the other NIC serves");
	json_object_put(out);
	out = ipselect(in, "52:54:00:AA:AA:AA", true, &err);
	cr_expect_str_eq(field(out, "ip"), "10.77.0.9", "its own NIC");
	json_object_put(out);
	json_object_put(in);
}

Test(ipselect, not_an_array)
{
	struct json_object *in = json_tokener_parse("{\"return\":1}");
	struct qmp_error err;

	cr_expect_null(ipselect(in, MAC, false, &err));
	cr_expect_str_eq(err.cls, QMP_ERR_PROTOCOL);
	cr_expect_null(ipselect(NULL, MAC, false, &err));
	json_object_put(in);
}

Test(ipselect, mac_norm)
{
	char out[18];

	cr_expect_eq(ipselect_mac_norm("52:54:00:AB:cd:EF", out), 0);
	cr_expect_str_eq(out, "52:54:00:ab:cd:ef");
	cr_expect_eq(ipselect_mac_norm("52-54-00-ab-cd-ef", out), 0);
	cr_expect_str_eq(out, "52:54:00:ab:cd:ef");
	cr_expect_eq(ipselect_mac_norm("52:54:00:ab:cd", out), -1);
	cr_expect_eq(ipselect_mac_norm("52:54:00:ab:cd:eg", out), -1);
	cr_expect_eq(ipselect_mac_norm("525:4:00:ab:cd:ef", out), -1);
	cr_expect_eq(ipselect_mac_norm(NULL, out), -1);
}
