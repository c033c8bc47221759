/*
 * The agent against the real test guest under TCG: readiness from
 * VSERPORT_CHANGE, the address the guest really has, key injection that
 * makes ssh work, guest-exec streams and exit statuses.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "src/guest/keys.h"
#include "tests/lib/agent-harness.h"

static struct event_base *base;
static struct th_guest g;
static char *pubkey;
static char keypath[200];

struct ipres {
	int done, failed;
	struct qmp_error err;
	char ip[64];
	double ms;
};

static void got_ip(struct json_object *ipinfo, const struct qmp_error *err, void *arg)
{
	struct ipres *r = arg;
	struct json_object *v;

	r->done = 1;
	if (err) {
		r->failed = 1;
		r->err = *err;
	} else if (json_object_object_get_ex(ipinfo, "ip", &v) && v) {
		snprintf(r->ip, sizeof(r->ip), "%s", json_object_get_string(v));
	}
}

struct execres {
	int done, failed;
	struct qmp_error err;
	struct gexec_result res;
};

static void got_exec(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct execres *r = arg;

	r->done = 1;
	if (err) {
		r->failed = 1;
		r->err = *err;
		return;
	}
	r->res = *res;
	/* Take copies: res is only valid during the call. */
	r->res.out = malloc(res->out_len + 1);
	memcpy(r->res.out, res->out, res->out_len + 1);
	r->res.err = malloc(res->err_len + 1);
	memcpy(r->res.err, res->err, res->err_len + 1);
}

static void run(struct execres *r, const char *const *argv, const void *in, size_t len)
{
	struct qmp_error err;

	memset(r, 0, sizeof(*r));
	cr_assert_not_null(agent_exec(g.agent, argv, in, len, 60000, got_exec, r, &err), "%s: %s",
			   err.cls, err.desc);
	cr_assert(th_run_until(base, &r->done, 90000), "exec hung");
	cr_assert(!r->failed, "%s: %s", r->err.cls, r->err.desc);
}

static void setup(void)
{
	struct agent_config cfg = {"root", NULL, NULL, 20000, 5000, 0, false};
	struct qmp_error err;
	struct ipres r = {0};

	if (!th_guest_dir() || !th_have_qemu())
		cr_skip_test("no qemu or no test guest (set VMSUP_GUEST_DIR; scripts/mkguest.sh "
			     "builds it)");
	base = event_base_new();
	snprintf(keypath, sizeof(keypath), "/tmp/vmagent-key-%d", (int)getpid());
	cr_assert_eq(keys_ensure(keypath, NULL, &pubkey, &err), 0, "%s", err.desc);
	cfg.pubkey = pubkey;
	cr_assert_eq(th_guest_boot(&g, base, NULL, &cfg), 0, "guest did not start");
	/* Before the guest's agent is up: a clear error, at once. */
	double t0 = th_now_ms();
	cr_assert_eq(agent_get_ip(g.agent, 0, got_ip, &r), 0);
	cr_assert(th_run_until(base, &r.done, 1000));
	cr_expect(r.failed && !strcmp(r.err.cls, "AgentNotReady") &&
		      !strcmp(r.err.desc, "agent not ready"),
		  "wait 0 before the agent: %s %s", r.err.cls, r.err.desc);
	cr_expect_lt(th_now_ms() - t0, 100.0);
	cr_assert(th_run_until(base, &g.agent_ready, 120000), "agent never ready (state %s)",
		  agent_state_name(agent_state(g.agent)));
	cr_expect(g.port_open, "ready without VSERPORT_CHANGE");
}

static void teardown(void)
{
	char pub[220];

	th_guest_stop(&g);
	if (base)
		event_base_free(base);
	free(pubkey);
	unlink(keypath);
	snprintf(pub, sizeof(pub), "%s.pub", keypath);
	unlink(pub);
}

TestSuite(agent_guest, .init = setup, .fini = teardown, .timeout = 600);

Test(agent_guest, everything)
{
	struct ipres r = {0};
	struct execres e;

	/* The address equals what the guest itself reports. */
	cr_assert_eq(agent_get_ip(g.agent, 30000, got_ip, &r), 0);
	cr_assert(th_run_until(base, &r.done, 35000));
	cr_assert(!r.failed, "%s: %s", r.err.cls, r.err.desc);
	cr_assert(r.ip[0], "no address");
	const char *ipaddr[] = {"ip", "-4", "addr", "show", "dev", "eth0", NULL};
	run(&e, ipaddr, NULL, 0);
	char want[80];
	snprintf(want, sizeof(want), "inet %s/", r.ip);
	cr_expect_not_null(strstr((char *)e.res.out, want), "agent says %s, guest says:\n%s", r.ip,
			   e.res.out);
	gexec_result_clear(&e.res);
	/* guest-info went out after the address, ahead of that exec */
	cr_expect_not_null(agent_version(g.agent));
	cr_expect_gt(agent_version(g.agent) ? strlen(agent_version(g.agent)) : 0, 0);

	/* Streams and statuses pass through exactly. */
	const char *three[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
	run(&e, three, NULL, 0);
	cr_expect_str_eq((char *)e.res.out, "out\n");
	cr_expect_str_eq((char *)e.res.err, "err\n");
	cr_expect_eq(e.res.status, 3);
	gexec_result_clear(&e.res);
	const char *zero[] = {"true", NULL};
	run(&e, zero, NULL, 0);
	cr_expect_eq(e.res.status, 0);
	cr_expect_eq(e.res.out_len, 0);
	gexec_result_clear(&e.res);
	const char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
	run(&e, killed, NULL, 0);
	cr_expect_eq(e.res.signal, 9);
	cr_expect_eq(e.res.status, 137);
	gexec_result_clear(&e.res);

	/* Binary-safe: bytes 0-255 in through stdin, out through stdout. */
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	const char *cat[] = {"cat", NULL};
	run(&e, cat, all, sizeof(all));
	cr_expect_eq(e.res.out_len, 256);
	cr_expect_eq(memcmp(e.res.out, all, 256), 0, "bytes changed on the way");
	gexec_result_clear(&e.res);

	/* The pushed key lets ssh in (the image only has its own test key). */
	cr_expect(agent_key_pushed(g.agent), "key not pushed: %s",
		  agent_key_error(g.agent) ? agent_key_error(g.agent) : "?");
	char port[16];
	snprintf(port, sizeof(port), "%d", g.vm.ssh_port);
	pid_t pid = fork();
	if (pid == 0) {
		char *const argv[] = {"ssh",
				      "-i",
				      keypath,
				      "-p",
				      port,
				      "-o",
				      "BatchMode=yes",
				      "-o",
				      "StrictHostKeyChecking=no",
				      "-o",
				      "UserKnownHostsFile=/dev/null",
				      "-o",
				      "IdentitiesOnly=yes",
				      "-o",
				      "ConnectTimeout=60",
				      "-o",
				      "LogLevel=ERROR",
				      "root@127.0.0.1",
				      "exit 7",
				      NULL};
		execvp(argv[0], argv);
		_exit(127);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 7, "ssh with the injected key: status %d",
		  WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}
