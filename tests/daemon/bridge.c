/*
 * VM networking (issue 22), mode bridge, with real parts only: the test
 * makes its own network namespace with a bridge and dnsmasq serving DHCP
 * on that bridge alone (tests/lib/bridge-net.h), joins the namespace and
 * runs vmsupd there, so qemu, the taps and the guests' addresses never
 * touch the host's network. Needs root (taps, namespaces) and dnsmasq;
 * skips with a line saying why otherwise.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/guest/gtest.h"
#include "tests/lib/bridge-net.h"

#define BR TB_BRIDGE

static struct tdaemon d;
static struct tbridge net;

static void down(void)
{
	td_stop(&d);
	tb_down(&net);
}

static void up(void)
{
	tb_up(&net);
}

TestSuite(bridge, .init = up, .fini = down, .timeout = 600);

/* POST /v1/templates of the test guest as template t, with net (or none) */
static struct json_object *make_template(const char *netspec, long *st)
{
	const char *gd = getenv("VMSUP_GUEST_DIR");
	char body[1024];

	snprintf(body, sizeof(body),
		 "{\"name\":\"t\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s/vmlinuz\","
		 "\"initrd\":\"%s/initrd.img\"%s%s}",
		 gd ? gd : "/tmp/guest", gd ? gd : "/tmp/guest", netspec ? ",\"net\":" : "",
		 netspec ? netspec : "");
	return td_http(&d, "POST", "/v1/templates", body, st);
}

static int count_taps(void)
{
	int n = 0;
	struct if_nameindex *l = if_nameindex(), *i;

	for (i = l; i && i->if_name; i++)
		n += !strncmp(i->if_name, "vmsup-", 6);
	if_freenameindex(l);
	return n;
}

Test(bridge, bad_input_is_4xx_and_creates_nothing)
{
	static const struct {
		const char *net, *needle;
	} bad[] = {
	    {"{\"mode\":\"bridge\",\"bridge\":\"nosuchbr0\"}", "nosuchbr0"},
	    {"{\"mode\":\"bridge\",\"bridge\":\"lo\"}", "not a bridge"},
	    {"{\"mode\":\"bridge\",\"bridge\":\"a/b\"}", "interface name"},
	    {"{\"mode\":\"bridge\",\"bridge\":\"" BR "\",\"publish\":[{\"host_port\":0,"
	     "\"guest_port\":80}]}",
	     "publish"},
	    {"{\"mode\":\"user\",\"bridge\":\"" BR "\"}", "needs mode bridge"},
	};
	struct json_object *r;
	long st;

	td_start(&d, NULL); /* no default bridge */
	r = gt_create_bare(&d, "b", "{\"mode\":\"bridge\"}", &st);
	cr_expect_eq(st, 400, "no bridge named, no default: %ld %s", st, td_err_desc(r));
	json_object_put(r);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = gt_create_bare(&d, "b", bad[i].net, &st);
		cr_expect(st >= 400 && st < 500, "%s: %ld", bad[i].net, st);
		cr_expect(td_err_desc(r) && strstr(td_err_desc(r), bad[i].needle),
			  "%s: '%s' does not say '%s'", bad[i].net, td_err_desc(r), bad[i].needle);
		json_object_put(r);
	}
	/* a template on a bridge that is not there: before any qemu */
	r = make_template("{\"mode\":\"bridge\",\"bridge\":\"nosuchbr0\"}", &st);
	cr_expect_eq(st, 400, "template on a missing bridge: %ld %s", st, td_err_desc(r));
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "nosuchbr0"), "%s", td_err_desc(r));
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/vms/b", NULL, &st);
	cr_expect_eq(st, 404, "a rejected spec left a VM");
	json_object_put(r);
	cr_expect_eq(count_taps(), 0);
	cr_expect_eq(td_count_qemus(&d), 0);
}

struct gvm {
	const char *name;
	char ip[64], mac[32], tap[32];
	int pid;
};

static void describe(struct gvm *g)
{
	struct json_object *r;
	long st;
	char path[96];

	r = gt_wait_ip(&d, g->name);
	snprintf(g->ip, sizeof(g->ip), "%s", td_str(r, "ip") ? td_str(r, "ip") : "");
	json_object_put(r);
	snprintf(path, sizeof(path), "/v1/vms/%s", g->name);
	r = td_http(&d, "GET", path, NULL, &st);
	cr_assert_eq(st, 200);
	cr_expect_str_eq(td_str(r, "net_mode"), "bridge");
	cr_expect_str_eq(td_str(r, "bridge"), BR);
	snprintf(g->mac, sizeof(g->mac), "%s", td_str(r, "mac") ? td_str(r, "mac") : "");
	snprintf(g->tap, sizeof(g->tap), "%s", td_str(r, "tap") ? td_str(r, "tap") : "");
	g->pid = (int)td_int(r, "pid");
	json_object_put(r);
}

/* Connect to ip:port from the namespace; what the peer sends first. */
static int read_from(const char *ip, int port, char *buf, size_t n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	ssize_t got = 0, k;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, ip, &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	for (struct pollfd p = {fd, POLLIN, 0};
	     (size_t)got < n - 1 && poll(&p, 1, 5000) == 1 && !strchr(buf, '\n'); got += k) {
		if ((k = read(fd, buf + got, n - 1 - (size_t)got)) <= 0)
			break;
		buf[got + k] = '\0';
	}
	buf[got] = '\0';
	close(fd);
	return (int)got;
}

/* vmctl ARGS against the test's daemon: its exit status, stdout in out */
static int vmctl(const char *args, char *out, size_t n)
{
	const char *b = getenv("top_builddir");
	char cmd[512];
	size_t got;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "%s/src/cli/vmctl --socket %s %s 2>&1", b ? b : ".", d.sock,
		 args);
	p = popen(cmd, "r");
	cr_assert(p, "%s", cmd);
	got = fread(out, 1, n - 1, p);
	out[got] = '\0';
	return WEXITSTATUS(pclose(p));
}

static long destroy(const char *name)
{
	char path[96];
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	json_object_put(td_http(&d, "DELETE", path, NULL, &st));
	return st;
}

static bool gone(const char *tap, int secs)
{
	for (double end = td_now() + secs; td_now() < end; usleep(100000))
		if (!if_nametoindex(tap))
			return true;
	return false;
}

Test(bridge, two_vms_real_addresses_and_no_tap_left)
{
	struct gvm a = {.name = "a"}, b = {.name = "b"};
	char lease[64], out[512], script[256], buf[256] = "";
	int got = -1;
	long st;
	struct json_object *r;

	td_start(&d, "bridge = " BR "\n");
	gt_create_with(&d, "a", "\"net\":{\"mode\":\"bridge\"}");
	gt_create_with(&d, "b", "\"net\":{\"mode\":\"bridge\",\"bridge\":\"" BR "\"}");
	describe(&a);
	describe(&b);
	cr_expect_str_neq(a.mac, b.mac, "two VMs share MAC %s", a.mac);
	cr_expect_str_neq(a.ip, b.ip, "two VMs share address %s", a.ip);
	cr_expect_eq(count_taps(), 2);
	for (struct gvm *g = &a; g; g = g == &a ? &b : NULL) {
		/* the agent's address is the lease, and what the guest has on eth0 */
		tb_lease_of(&net, g->mac, lease, sizeof(lease));
		cr_expect_str_eq(g->ip, lease, "%s: agent says %s, dnsmasq leased %s", g->name,
				 g->ip, lease);
		cr_expect(!strncmp(g->ip, "10.77.0.", 8), "%s: address %s", g->name, g->ip);
		cr_expect_eq(gt_sh(&d, g->name, "ip -4 addr show dev eth0", out, sizeof(out)), 0);
		snprintf(script, sizeof(script), "inet %s/", g->ip);
		cr_expect(strstr(out, script), "%s: eth0 has no %s: %s", g->name, g->ip, out);
	}

	/* VM a reaches a TCP service in VM b over the bridge */
	cr_assert_eq(gt_sh(&d, "b",
			   "(echo hello-from-b | nc -l -p 7000 >/dev/null 2>&1 &); sleep 1", NULL,
			   0),
		     0);
	snprintf(script, sizeof(script),
		 "for i in 1 2 3 4 5; do nc %s 7000 </dev/null && exit 0; sleep 1; done; exit 1",
		 b.ip);
	cr_expect_eq(gt_sh(&d, "a", script, out, sizeof(out)), 0, "a could not reach b:7000");
	cr_expect(strstr(out, "hello-from-b"), "a got '%s' from b:7000", out);
	/* the namespace reaches the guest's sshd directly, on its own address */
	for (int i = 0; i < 20 && got <= 0; i++, sleep(1))
		got = read_from(a.ip, 22, buf, sizeof(buf));
	cr_expect(got > 0 && !strncmp(buf, "SSH-2.0", 7), "%s:22 answered '%s'", a.ip, buf);

	/* vmctl: ip prints the real address, ssh goes to it (port 22, no forward) */
	vmctl("ip a", out, sizeof(out));
	cr_expect(!strncmp(out, a.ip, strlen(a.ip)), "vmctl ip a: '%s', not %s", out, a.ip);
	cr_expect_eq(vmctl("exec a --via ssh -- sh -c 'echo via-ssh'", out, sizeof(out)), 0);
	cr_expect(strstr(out, "via-ssh"), "vmctl exec --via ssh: '%s'", out);

	/* kill -9 of the daemon and a restart: both adopted, taps kept */
	td_kill9(&d);
	cr_expect_eq(count_taps(), 2, "the daemon's death took a running VM's tap");
	td_restart(&d);
	r = td_http(&d, "GET", "/v1/vms/a", NULL, &st);
	cr_expect_str_eq(td_str(r, "mac"), a.mac, "the MAC changed across a restart");
	cr_expect_str_eq(td_str(r, "state"), "running");
	json_object_put(r);

	/* destroy: its tap goes with it */
	cr_expect_eq(destroy("a"), 200);
	cr_expect(gone(a.tap, 10), "tap %s outlived its VM", a.tap);
	/* qemu killed with -9: its tap goes with it too */
	cr_assert(b.pid > 0);
	kill(b.pid, SIGKILL);
	cr_expect(gone(b.tap, 10), "tap %s outlived its qemu", b.tap);
	cr_expect_eq(destroy("b"), 200);
	cr_expect_eq(count_taps(), 0);
}

/* A daemon without CAP_NET_ADMIN (dropped from the bounding set, so the
 * root vmsupd exec'd from here lacks it) says so, and creates nothing:
 * neither a VM nor a template on the bridge (the template's refusal was a
 * 500 from the tap's open, after its job had begun). */
/* r (consumed) is the 501 that names the capability, and path is 404 after. */
static void refused_for_cap(struct json_object *r, long st, const char *path)
{
	cr_expect_eq(st, 501, "%s: %ld %s", path, st, td_err_desc(r));
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "CAP_NET_ADMIN"), "'%s'",
		  td_err_desc(r));
	json_object_put(r);
	r = td_http(&d, "GET", path, NULL, &st);
	cr_expect_eq(st, 404, "a refused create left %s", path);
	json_object_put(r);
}

Test(bridge, no_cap_net_admin_is_a_clear_error)
{
	struct json_object *r;
	long st;

	cr_assert_eq(prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0), 0);
	td_start(&d, "bridge = " BR "\n");
	r = gt_create_bare(&d, "c", "{\"mode\":\"bridge\"}", &st);
	refused_for_cap(r, st, "/v1/vms/c");
	r = make_template("{\"mode\":\"bridge\"}", &st);
	refused_for_cap(r, st, "/v1/templates/t");
	cr_expect_eq(count_taps(), 0);
}

/* Once the VM's post-restore refresh is reported: whether its identity
 * step (which takes the new MAC) succeeded. */
static bool identity_renewed(const char *name)
{
	char path[96];
	struct json_object *r, *t, *f, *v;
	bool ok = false, seen = false;
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	for (double end = td_now() + GT_BOOT_S; !seen && td_now() < end; usleep(200000)) {
		r = td_http(&d, "GET", path, NULL, &st);
		if (json_object_object_get_ex(r, "template", &t) &&
		    json_object_object_get_ex(t, "refresh", &f) && f) {
			seen = true;
			ok = json_object_object_get_ex(f, "identity", &v) &&
			     json_object_get_boolean(v);
			if (!ok)
				cr_log_warn("%s: refresh %s", name, json_object_to_json_string(f));
		}
		json_object_put(r);
	}
	return ok;
}

/* Two VMs restored from one template made on the bridge: the template's RAM
 * holds its MAC, so each clone has the guest take a MAC of its own and ask
 * for a lease again; both then have leases of their own and answer on
 * them, and the template VM's tap went with it. */
Test(bridge, two_clones_get_macs_and_leases_of_their_own)
{
	struct gvm c[2] = {{.name = "c1"}, {.name = "c2"}};
	char body[160], lease[64], out[128], buf[256];
	struct json_object *r;
	const char *tmac;
	long st;

	if (!td_guest_dir())
		cr_skip_test("no test guest (scripts/mkguest.sh builds it)");
	td_start(&d, "bridge = " BR "\n");
	r = make_template("{\"mode\":\"bridge\"}", &st);
	cr_assert_eq(st, 201, "template: %ld %s", st, td_err_desc(r));
	json_object_put(r);
	cr_expect_eq(count_taps(), 0, "the template VM's tap outlived it");
	r = td_http(&d, "GET", "/v1/templates/t", NULL, &st);
	cr_assert(st == 200 && (tmac = td_str(r, "mac")), "%ld", st);
	snprintf(out, sizeof(out), "%s", tmac);
	json_object_put(r);
	for (int i = 0; i < 2; i++) {
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"from\":\"t\"}", c[i].name);
		r = td_http(&d, "POST", "/v1/vms", body, &st);
		cr_assert_eq(st, 201, "restore %s: %ld %s", c[i].name, st, td_err_desc(r));
		cr_assert_str_eq(td_str(r, "state"), "running", "restore %s: %s", c[i].name,
				 td_str(r, "error"));
		json_object_put(r);
	}
	for (int i = 0; i < 2; i++) {
		struct gvm *g = &c[i];
		cr_expect(identity_renewed(g->name), "%s: the refresh did not renew its identity",
			  g->name);
		describe(g);
		cr_expect_str_neq(g->mac, out, "%s has the template's MAC", g->name);
		tb_lease_of(&net, g->mac, lease, sizeof(lease));
		cr_expect_str_eq(g->ip, lease, "%s: agent says %s, dnsmasq leased %s to %s",
				 g->name, g->ip, lease, g->mac);
		cr_expect(!strncmp(g->ip, TB_PREFIX, strlen(TB_PREFIX)), "%s: address %s", g->name,
			  g->ip);
		cr_expect_eq(
		    gt_sh(&d, g->name, "cat /sys/class/net/eth0/address", buf, sizeof(buf)), 0);
		cr_expect(!strncmp(buf, g->mac, strlen(g->mac)), "%s: eth0 has %s, not %s", g->name,
			  buf, g->mac);
		/* reachable from the namespace on its own address */
		buf[0] = '\0';
		for (int k = 0; k < 20 && read_from(g->ip, 22, buf, sizeof(buf)) <= 0; k++)
			sleep(1);
		cr_expect(!strncmp(buf, "SSH-2.0", 7), "%s: %s:22 answered '%s'", g->name, g->ip,
			  buf);
	}
	cr_expect_str_neq(c[0].mac, c[1].mac, "two clones share MAC %s", c[0].mac);
	cr_expect_str_neq(c[0].ip, c[1].ip, "two clones share address %s", c[0].ip);
	cr_expect_eq(destroy("c1"), 200);
	cr_expect_eq(destroy("c2"), 200);
	cr_expect_eq(count_taps(), 0);
}
