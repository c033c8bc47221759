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
	/* a template's clones would all bring its MAC: refused (not done) */
	{
		const char *gd = getenv("VMSUP_GUEST_DIR");
		char body[1024];

		snprintf(body, sizeof(body),
			 "{\"name\":\"t\",\"accel\":\"tcg\",\"kernel\":\"%s/vmlinuz\","
			 "\"initrd\":\"%s/initrd.img\",\"net\":{\"mode\":\"bridge\","
			 "\"bridge\":\"" BR "\"}}",
			 gd ? gd : "/tmp/guest", gd ? gd : "/tmp/guest");
		r = td_http(&d, "POST", "/v1/templates", body, &st);
		cr_expect_eq(st, 400, "template on a bridge: %ld %s", st, td_err_desc(r));
		cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "bridge"), "%s", td_err_desc(r));
		json_object_put(r);
	}
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
 * root vmsupd exec'd from here lacks it) says so, and creates nothing. */
Test(bridge, no_cap_net_admin_is_a_clear_error)
{
	struct json_object *r;
	long st;

	cr_assert_eq(prctl(PR_CAPBSET_DROP, CAP_NET_ADMIN, 0, 0, 0), 0);
	td_start(&d, "bridge = " BR "\n");
	r = gt_create_bare(&d, "c", "{\"mode\":\"bridge\"}", &st);
	cr_expect(st >= 400 && st < 600 && st != 500, "%ld %s", st, td_err_desc(r));
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "CAP_NET_ADMIN"), "'%s'",
		  td_err_desc(r));
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/vms/c", NULL, &st);
	cr_expect_eq(st, 404, "a refused create left a VM");
	json_object_put(r);
	cr_expect_eq(count_taps(), 0);
}
