/*
 * VM networking (issue 22), user and none modes: bad "net" specs are 400s
 * that create nothing, a taken host port is a 409 before qemu starts, and
 * with the test guest under TCG: a published port reaches a server in the
 * guest, egress is off unless asked for, mode none has no eth0 but exec.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/guest/gtest.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

TestSuite(net, .fini = down, .timeout = 900);

static int nvms(void)
{
	long st;
	struct json_object *r = td_http(&d, "GET", "/v1/vms", NULL, &st), *a = r;
	int n;

	cr_assert_eq(st, 200);
	if (json_object_is_type(r, json_type_object))
		json_object_object_get_ex(r, "vms", &a);
	n = (int)json_object_array_length(a);
	json_object_put(r);
	return n;
}

Test(net, bad_specs_are_400_and_create_nothing)
{
	static const char *const bad[] = {
	    "{\"mode\":\"wifi\"}",
	    "{\"mode\":\"bridge\"}",
	    "{\"mode\":\"user\",\"colour\":1}",
	    "\"user\"",
	    "{\"egress\":\"yes\"}",
	    "{\"egress\":true}", /* allow_egress is false by default */
	    "{\"publish\":[{\"host_port\":70000,\"guest_port\":80}]}",
	    "{\"publish\":[{\"host_port\":8000,\"guest_port\":0}]}",
	    "{\"publish\":[{\"host_port\":8000}]}",
	    "{\"publish\":[{\"host_port\":8000,\"guest_port\":80,\"proto\":\"sctp\"}]}",
	    "{\"publish\":[{\"host_addr\":\"localhost\",\"host_port\":8000,\"guest_port\":80}]}",
	    "{\"publish\":[{\"host_port\":41000,\"guest_port\":80},"
	    "{\"host_port\":41000,\"guest_port\":81}]}",
	    "{\"mode\":\"none\",\"publish\":[{\"host_port\":0,\"guest_port\":80}]}",
	};
	struct json_object *r;
	long st;

	td_start(&d, NULL);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = gt_create_bare(&d, "b", bad[i], &st);
		cr_expect_eq(st, 400, "%s: %ld %s", bad[i], st, td_err_desc(r));
		cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "net"),
			  "%s: '%s' names no 'net'", bad[i], td_err_desc(r));
		json_object_put(r);
	}
	cr_expect_eq(nvms(), 0, "a rejected spec left a VM");
	cr_expect_eq(td_count_qemus(&d), 0);
	/* the same port for tcp and udp is two forwards, fine */
	r = gt_create_bare(&d, "ok",
			   "{\"publish\":[{\"host_port\":0,\"guest_port\":80},"
			   "{\"host_port\":0,\"guest_port\":80,\"proto\":\"udp\"}]}",
			   &st);
	cr_expect_eq(st, 201, "%ld %s", st, td_err_desc(r));
	json_object_put(r);
}

/* Listen on 127.0.0.1 (a free port); the fd, *port set. */
static int listen_local(int *port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) && !listen(fd, 4) &&
		  !getsockname(fd, (struct sockaddr *)&sa, &len));
	*port = ntohs(sa.sin_port);
	return fd;
}

Test(net, taken_host_port_is_409_before_spawn)
{
	char net[256];
	struct json_object *r;
	long st;
	int port, fd = listen_local(&port);

	td_start(&d, NULL);
	snprintf(net, sizeof(net), "{\"publish\":[{\"host_port\":%d,\"guest_port\":80}]}", port);
	r = gt_create_bare(&d, "t", net, &st);
	cr_expect_eq(st, 409, "%ld %s", st, td_err_desc(r));
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "already in use"), "%s", td_err_desc(r));
	json_object_put(r);
	cr_expect_eq(nvms(), 0);
	cr_expect_eq(td_count_qemus(&d), 0);
	close(fd);
}

/* The test guest as name with this "net"; waits for its agent. */
static void create_guest(const char *name, const char *net)
{
	char extra[512], path[160];
	struct json_object *r;
	long st;

	snprintf(extra, sizeof(extra), "\"net\":%s", net);
	gt_create_with(&d, name, extra);
	/* the agent answers once the guest's userland is up */
	snprintf(path, sizeof(path), "/v1/vms/%s/exec", name);
	for (double end = td_now() + GT_BOOT_S;; sleep(2)) {
		r = td_http(&d, "POST", path, "{\"argv\":[\"true\"]}", &st);
		json_object_put(r);
		if (st == 200)
			break;
		cr_assert(td_now() < end, "%s: no agent in %d s", name, GT_BOOT_S);
	}
}

/* Connect to 127.0.0.1:port and read the guest's first line (what its nc
 * sends, or sshd's banner, which is followed by nothing until we speak). */
static int read_from(int port, char *buf, size_t n)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	ssize_t got = 0, k;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	buf[0] = '\0';
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	for (struct pollfd p = {fd, POLLIN, 0};
	     (size_t)got < n - 1 && !strchr(buf, '\n') && poll(&p, 1, 10000) == 1; got += k) {
		if ((k = read(fd, buf + got, n - 1 - (size_t)got)) <= 0)
			break;
		buf[got + k] = '\0';
	}
	buf[got] = '\0';
	close(fd);
	return (int)got;
}

/* In the background: nc waits for the peer to close, which ours does
 * only after the exec returns. */
#define CONNECT_OUT "(echo x | nc 10.0.2.2 %d >/dev/null 2>&1 &) ; sleep 3"

/* Did anything connect to the listener within ms? */
static bool accepted(int lfd, int ms)
{
	struct pollfd p = {lfd, POLLIN, 0};
	int c;

	if (poll(&p, 1, ms) != 1)
		return false;
	c = accept(lfd, NULL, NULL);
	if (c >= 0)
		close(c);
	return c >= 0;
}

Test(net, published_port_reaches_guest_and_no_egress_by_default)
{
	struct json_object *r, *ports, *e;
	char buf[128], script[256];
	long st;
	int hp = 0, lport, lfd = listen_local(&lport), got = -1;

	td_start(&d, NULL);
	create_guest("p", "{\"publish\":[{\"host_addr\":\"127.0.0.1\",\"host_port\":0,"
			  "\"guest_port\":8080}]}");
	r = td_http(&d, "GET", "/v1/vms/p", NULL, &st);
	cr_assert_eq(st, 200);
	cr_expect_str_eq(td_str(r, "net_mode"), "user");
	cr_assert(json_object_object_get_ex(r, "ports", &ports) &&
		  json_object_array_length(ports) == 1);
	e = json_object_array_get_idx(ports, 0);
	hp = (int)td_int(e, "host_port");
	cr_expect_eq(td_int(e, "guest_port"), 8080);
	cr_expect_str_eq(td_str(e, "host_addr"), "127.0.0.1");
	json_object_put(r);
	cr_assert(hp > 0 && hp < 65536, "no host port reported: %d", hp);

	/* a one-shot server in the guest, left running after exec returns */
	cr_assert_eq(gt_sh(&d, "p",
			   "(echo hello-from-guest | nc -l -p 8080 >/dev/null 2>&1 &) ; "
			   "sleep 1",
			   NULL, 0),
		     0);
	for (int i = 0; i < 10 && got <= 0; i++, sleep(1))
		got = read_from(hp, buf, sizeof(buf));
	cr_expect(got > 0 && strstr(buf, "hello-from-guest"), "host port %d gave '%s'", hp,
		  got > 0 ? buf : "(nothing)");

	/* restrict=on: the host's 10.0.2.2 is out of reach */
	snprintf(script, sizeof(script), CONNECT_OUT, lport);
	gt_sh(&d, "p", script, NULL, 0);
	cr_expect(!accepted(lfd, 2000), "the guest reached the host without egress");
	close(lfd);
}

/* vm's one published port as status reports it (-1: null) */
static int status_port(const char *vm)
{
	struct json_object *r, *ports;
	char path[96];
	long st;
	int hp = -1;

	snprintf(path, sizeof(path), "/v1/vms/%s", vm);
	r = td_http(&d, "GET", path, NULL, &st);
	cr_assert_eq(st, 200);
	cr_assert(json_object_object_get_ex(r, "ports", &ports) &&
		  json_object_array_length(ports) == 1);
	hp = (int)td_int(json_object_array_get_idx(ports, 0), "host_port");
	json_object_put(r);
	return hp;
}

/* The guest's sshd banner on host port hp, within a few tries. */
static bool sshd_answers(int hp)
{
	char buf[128] = "";

	for (int i = 0; i < 20; i++, sleep(1))
		if (read_from(hp, buf, sizeof(buf)) > 0 && !strncmp(buf, "SSH-2.0", 7))
			return true;
	cr_log_warn("host port %d: last answer '%s'", hp, buf);
	return false;
}

/* host_port 0: the kernel's pick is what the state file records, so after
 * kill -9 of the daemon and a restart (qemu still forwarding it) status
 * names the same port, and it still reaches the guest's sshd. */
Test(net, picked_host_port_survives_a_daemon_restart)
{
	struct json_object *sf, *ports;
	char path[300];
	int hp, again;

	td_start(&d, NULL);
	create_guest("r", "{\"publish\":[{\"host_port\":0,\"guest_port\":22}]}");
	hp = status_port("r");
	cr_assert(hp > 0 && hp < 65536, "no host port reported: %d", hp);
	cr_expect(sshd_answers(hp), "host port %d does not reach the guest's sshd", hp);
	snprintf(path, sizeof(path), "%s/state/r.json", d.dir);
	cr_assert(sf = json_object_from_file(path), "%s", path);
	cr_expect(json_object_object_get_ex(sf, "ports", &ports) &&
		      td_int(json_object_array_get_idx(ports, 0), "host_port") == hp,
		  "the state file %s does not record port %d", path, hp);
	json_object_put(sf);

	td_kill9(&d);
	td_restart(&d);
	again = status_port("r");
	cr_expect_eq(again, hp, "after the restart status names port %d, qemu forwards %d", again,
		     hp);
	cr_expect(sshd_answers(hp), "after the restart host port %d does not reach the guest", hp);
}

Test(net, egress_when_asked_and_allowed)
{
	char script[256];
	int lport, lfd = listen_local(&lport);

	td_start(&d, "allow_egress = true\n");
	create_guest("o", "{\"egress\":true}");
	snprintf(script, sizeof(script), CONNECT_OUT, lport);
	gt_sh(&d, "o", script, NULL, 0);
	cr_expect(accepted(lfd, 10000), "with egress the guest did not reach 10.0.2.2:%d", lport);
	close(lfd);
}

Test(net, mode_none_has_no_nic_but_exec_works)
{
	struct json_object *r;
	long st;

	td_start(&d, NULL);
	create_guest("n", "{\"mode\":\"none\"}");
	r = td_http(&d, "GET", "/v1/vms/n", NULL, &st);
	cr_assert_eq(st, 200);
	cr_expect_str_eq(td_str(r, "net_mode"), "none");
	cr_expect_eq(td_int(r, "ssh_port"), -1, "a VM without a NIC has an ssh port");
	json_object_put(r);
	cr_expect_eq(
	    gt_sh(&d, "n", "test -e /sys/class/net/lo && ! test -e /sys/class/net/eth0", NULL, 0),
	    0, "the guest has an eth0 in mode none");
}
