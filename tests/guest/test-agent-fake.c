/*
 * The agent module against a fake QGA peer (tests/fakes/fake-agent): the
 * normal path and each fault the issue names. Every case must end in a
 * clear error or a resync, and never disturb a second agent.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include "src/guest/agent.h"
#include "tests/fakes/fake-agent.h"

#define MAC    "52:54:00:12:34:56"
#define PUBKEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTestsOnly vmsupd"
#define IFACES                                                                                     \
	"[{\"name\":\"lo\",\"hardware-address\":\"00:00:00:00:00:00\",\"ip-addresses\":"           \
	"[{\"ip-address-type\":\"ipv4\",\"ip-address\":\"127.0.0.1\",\"prefix\":8}]},"             \
	"{\"name\":\"eth0\",\"hardware-address\":\"" MAC "\",\"ip-addresses\":"                    \
	"[{\"ip-address-type\":\"ipv4\",\"ip-address\":\"10.0.2.15\",\"prefix\":24}]}]"

static struct event_base *base;
static char dir[] = "/tmp/vmagent-fake-XXXXXX";
static struct json_object *ifaces;

struct ipres {
	int done;
	char ip[64];
	struct qmp_error err;
	int failed;
	double ms;
	struct timeval start;
};

static double now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

/* Run the loop until *flag or ms passed; returns *flag. */
static int run_until(int *flag, unsigned ms)
{
	double end = now_ms() + ms;
	struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = {0, 5000};

	evtimer_add(t, &tv);
	while (!*flag && now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}

static void run_for(unsigned ms)
{
	int never = 0;

	run_until(&never, ms);
}

static void setup(void)
{
	base = event_base_new();
	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0700);
	ifaces = json_tokener_parse(IFACES);
}

static void teardown(void)
{
	json_object_put(ifaces);
	event_base_free(base);
	rmdir(dir);
}

TestSuite(agent_fake, .init = setup, .fini = teardown, .timeout = 60);

struct watch {
	int ready;
	int transitions;
	enum agent_state last;
	int version_known;
	/* call_on_drop: a call as the agent leaves ready (in the turn of the
	 * drop, before the reap), its error */
	int call_on_drop, called;
	struct qmp_error drop_err;
};

static void ignore_reply(struct qmp_session *s, struct json_object *ret,
			 const struct qmp_error *err, void *arg)
{
}

static void on_state(struct agent *a, enum agent_state st, void *arg)
{
	struct watch *w = arg;

	w->transitions++;
	if (w->call_on_drop && w->last == AGENT_READY && st != AGENT_READY && !w->called) {
		int64_t id = agent_call(a, "guest-ping", NULL, 0, ignore_reply, NULL, &w->drop_err);
		w->called = id < 0 ? 1 : 2;
	}
	w->last = st;
	if (st == AGENT_READY)
		w->ready = 1;
}

static void on_version(struct agent *a, const char *version, void *arg)
{
	struct watch *w = arg;

	w->version_known = 1;
}

static const struct agent_callbacks cbs = {.state_changed = on_state, .version_known = on_version};

static struct fake_agent *fake(const char *name, enum fake_agent_fault fault, const char *cmd,
			       int times)
{
	char path[128];
	struct fake_agent_opts o = {fault, cmd, times, NULL, ifaces, NULL};
	struct fake_agent *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fake_agent_new(base, path, &o);
	cr_assert_not_null(f);
	return f;
}

static struct agent *agent(const char *name, struct watch *w)
{
	char path[128];
	struct agent_config cfg = {NULL, PUBKEY, NULL, 400, 300, 20, false};
	struct agent *a;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	a = agent_new(base, path, MAC, &cfg, &cbs, w);
	cr_assert_not_null(a);
	return a;
}

static void got_ip(struct json_object *ipinfo, const struct qmp_error *err, void *arg)
{
	struct ipres *r = arg;
	struct json_object *v;

	r->done = 1;
	r->ms = now_ms() - (r->start.tv_sec * 1e3 + r->start.tv_usec / 1e3);
	if (err) {
		r->failed = 1;
		r->err = *err;
		return;
	}
	if (json_object_object_get_ex(ipinfo, "ip", &v) && v)
		snprintf(r->ip, sizeof(r->ip), "%s", json_object_get_string(v));
}

static void get_ip(struct agent *a, unsigned wait_ms, struct ipres *r)
{
	memset(r, 0, sizeof(*r));
	gettimeofday(&r->start, NULL);
	cr_assert_eq(agent_get_ip(a, wait_ms, got_ip, r), 0);
}

Test(agent_fake, normal_path)
{
	struct fake_agent *f = fake("a.sock", FA_NONE, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("a.sock", &w);
	struct ipres r;

	cr_expect_eq(agent_state(a), AGENT_ABSENT);
	agent_port_event(a, 1);
	cr_expect_eq(agent_state(a), AGENT_CONNECTING);
	cr_assert(run_until(&w.ready, 5000), "never ready");
	get_ip(a, 5000, &r);
	cr_assert(run_until(&r.done, 5000));
	cr_expect(!r.failed, "%s", r.err.desc);
	cr_expect_str_eq(r.ip, "10.0.2.15");
	/* qemu-ga runs one command at a time, each slow the first time under
	 * TCG: the address is asked right after the sync; the key push and
	 * guest-info (the version: nothing waits on it) follow */
	cr_assert(run_until(&w.version_known, 5000), "guest-info never answered");
	cr_expect_str_eq(json_object_to_json_string(fake_agent_order(f)),
			 "[ \"guest-sync-delimited\", \"guest-network-get-interfaces\", "
			 "\"guest-ssh-add-authorized-keys\", \"guest-info\" ]");
	cr_expect(agent_key_pushed(a));
	cr_expect_null(agent_key_error(a));
	cr_assert_eq(json_object_array_length(fake_agent_keys(f)), 1);
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(fake_agent_keys(f), 0)),
			 PUBKEY);
	cr_expect_str_eq(agent_state_name(agent_state(a)), "ready");
	cr_expect_str_eq(agent_version(a), "7.2.0-fake");
	/* Cached: a second ask is answered without the agent. */
	int before = fake_agent_count(f, "guest-network-get-interfaces");
	get_ip(a, 0, &r);
	cr_assert(run_until(&r.done, 1000));
	cr_expect_str_eq(r.ip, "10.0.2.15");
	cr_expect_eq(fake_agent_count(f, "guest-network-get-interfaces"), before);
	agent_free(a);
	fake_agent_free(f);
}

/* guest-info hangs: the agent is ready all the same (the sync answered),
 * and the address and the key come. */
Test(agent_fake, ready_without_guest_info)
{
	struct fake_agent *f = fake("ni.sock", FA_SILENT, "guest-info", 0);
	struct watch w = {0};
	struct agent *a = agent("ni.sock", &w);
	struct ipres r;

	agent_port_event(a, 1);
	get_ip(a, 5000, &r);
	cr_assert(run_until(&r.done, 5000));
	cr_expect(!r.failed, "%s", r.err.desc);
	cr_expect_str_eq(r.ip, "10.0.2.15");
	run_for(150); /* the key's reply; guest-info times out at 400 ms */
	cr_expect(agent_key_pushed(a));
	cr_expect_null(agent_version(a));
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, wait0_before_ready_fails_fast)
{
	struct watch w = {0};
	struct agent *a = agent("none.sock", &w);
	struct ipres r;

	get_ip(a, 0, &r);
	cr_assert(run_until(&r.done, 1000));
	cr_expect(r.failed);
	cr_expect_str_eq(r.err.cls, "AgentNotReady");
	cr_expect_str_eq(r.err.desc, "agent not ready");
	cr_expect_lt(r.ms, 50.0, "took %.1f ms", r.ms);
	agent_free(a);
}

Test(agent_fake, wait_without_agent_ends_in_clear_error)
{
	struct watch w = {0};
	struct agent *a = agent("none.sock", &w);
	struct ipres r;

	/* No socket at all: on-demand probing, bounded by the wait. */
	get_ip(a, 300, &r);
	cr_assert(run_until(&r.done, 3000));
	cr_expect(r.failed);
	cr_expect_str_eq(r.err.cls, "AgentNotReady");
	cr_expect_geq(r.ms, 290.0);
	run_for(100);
	cr_expect_eq(agent_state(a), AGENT_ABSENT, "still %s", agent_state_name(agent_state(a)));
	agent_free(a);
}

Test(agent_fake, probe_without_port_event)
{
	struct fake_agent *f = fake("p.sock", FA_NONE, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("p.sock", &w);
	struct ipres r;

	/* Reattach: the port is already open, no VSERPORT_CHANGE will come. */
	get_ip(a, 5000, &r);
	cr_assert(run_until(&r.done, 6000));
	cr_expect(!r.failed, "%s: %s", r.err.cls, r.err.desc);
	cr_expect_str_eq(r.ip, "10.0.2.15");
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, garbage_before_sync_reply)
{
	struct fake_agent *f = fake("g.sock", FA_GARBAGE_BEFORE_SYNC, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("g.sock", &w);

	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000), "garbage before the sentinel was not skipped");
	cr_assert(run_until(&w.version_known, 5000), "guest-info never answered");
	cr_expect_str_eq(agent_version(a), "7.2.0-fake");
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, stale_id_then_right_one)
{
	struct fake_agent *f = fake("s.sock", FA_STALE_ID, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("s.sock", &w);

	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000), "stale reply not skipped");
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, stale_only_keeps_connecting_then_resyncs)
{
	struct fake_agent *f = fake("so.sock", FA_STALE_ONLY, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("so.sock", &w);

	agent_port_event(a, 1);
	run_for(1000);
	cr_expect(!w.ready, "ready on a stale id");
	cr_expect_eq(agent_state(a), AGENT_CONNECTING);
	cr_expect_geq(fake_agent_count(f, "guest-sync-delimited"), 2, "no retry");
	fake_agent_set_fault(f, FA_NONE, NULL, 0);
	cr_assert(run_until(&w.ready, 5000), "no resync once the agent answers");
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, no_reply_at_all)
{
	struct fake_agent *f = fake("n.sock", FA_SILENT, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("n.sock", &w);
	struct ipres r;

	agent_port_event(a, 1);
	get_ip(a, 800, &r);
	cr_assert(run_until(&r.done, 5000), "hung");
	cr_expect(r.failed);
	cr_expect_str_eq(r.err.cls, "AgentNotReady");
	cr_expect_eq(agent_state(a), AGENT_CONNECTING);
	agent_free(a);
	fake_agent_free(f);
}

struct callres {
	int done;
	struct qmp_error err;
	int failed;
};

static void got_reply(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		      void *arg)
{
	struct callres *c = arg;

	if (getenv("FAKE_AGENT_TRACE"))
		fprintf(stderr, "reply: %s %s\n", ret ? json_object_to_json_string(ret) : "-",
			err ? err->desc : "-");
	c->done = 1;
	if (err) {
		c->failed = 1;
		c->err = *err;
	}
}

Test(agent_fake, hung_command_times_out_and_resyncs)
{
	struct fake_agent *f = fake("h.sock", FA_NONE, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("h.sock", &w);
	struct callres c1 = {0}, c2 = {0}, c3 = {0};
	struct qmp_error err;

	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000));
	run_for(200);
	fake_agent_set_fault(f, FA_SILENT, "guest-get-time", 0);
	cr_assert_geq(agent_call(a, "guest-get-time", NULL, 300, got_reply, &c1, &err), 0);
	cr_assert_geq(agent_call(a, "guest-get-time", NULL, 300, got_reply, &c2, &err), 0);
	cr_assert(run_until(&c2.done, 5000));
	cr_expect(c1.done && c1.failed && !strcmp(c1.err.cls, QMP_ERR_TIMEOUT), "%s", c1.err.cls);
	cr_expect(c2.failed && !strcmp(c2.err.cls, QMP_ERR_TIMEOUT), "%s", c2.err.cls);
	/* The agent recovers: resync and back to ready, commands work again. */
	fake_agent_set_fault(f, FA_NONE, NULL, 0);
	w.ready = 0;
	cr_assert(run_until(&w.ready, 5000), "no resync");
	cr_assert_geq(agent_call(a, "guest-ping", NULL, 1000, got_reply, &c3, &err), 0);
	cr_assert(run_until(&c3.done, 3000));
	cr_expect(!c3.failed, "%s: %s", c3.err.cls, c3.err.desc);
	cr_expect_geq(fake_agent_count(f, "guest-sync-delimited"), 2, "no resync sent");
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, disconnect_mid_sync_reply)
{
	struct fake_agent *f = fake("d.sock", FA_DISCONNECT_MID, NULL, 1);
	struct watch w = {0};
	struct agent *a = agent("d.sock", &w);

	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000), "no reconnect after the peer died mid-reply");
	cr_expect_geq(fake_agent_connections(f), 2);
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, disconnect_mid_command_reply)
{
	struct fake_agent *f = fake("dc.sock", FA_NONE, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("dc.sock", &w);
	struct callres c = {0};
	struct qmp_error err;

	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000));
	run_for(200);
	fake_agent_set_fault(f, FA_DISCONNECT_MID, "guest-info", 1);
	w.ready = 0;
	cr_assert_geq(agent_call(a, "guest-info", NULL, 2000, got_reply, &c, &err), 0);
	cr_assert(run_until(&c.done, 5000));
	cr_expect(c.failed);
	cr_expect_str_eq(c.err.cls, QMP_ERR_DISCONNECTED);
	cr_assert(run_until(&w.ready, 5000), "no reconnect");
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, call_right_after_the_connection_is_lost)
{
	struct fake_agent *f = fake("w.sock", FA_NONE, NULL, 0);
	struct watch w = {.call_on_drop = 1};
	struct agent *a = agent("w.sock", &w);
	struct qmp_error err;

	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000));
	run_for(200);
	fake_agent_kick(f); /* qemu goes: the socket closes under a ready agent */
	cr_assert(run_until(&w.called, 5000), "the agent never left ready");
	/* as an exec's poll whose timer fired in the turn of the close: told
	 * the connection was lost (as the execs are next turn), not "not ready" */
	cr_assert_eq(w.called, 1, "the call was queued");
	cr_expect_str_eq(w.drop_err.cls, QMP_ERR_DISCONNECTED, "%s", w.drop_err.desc);
	/* reaped, and no agent to reconnect to: plain "not ready" again */
	fake_agent_free(f);
	run_for(50);
	cr_expect_lt(agent_call(a, "guest-ping", NULL, 0, ignore_reply, NULL, &err), 0);
	cr_expect_str_eq(err.cls, AGENT_ERR_NOT_READY, "%s", err.desc);
	agent_free(a);
}

Test(agent_fake, port_close_then_reopen)
{
	struct fake_agent *f = fake("r.sock", FA_NONE, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("r.sock", &w);

	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000));
	agent_port_event(a, 0);
	cr_expect_eq(agent_state(a), AGENT_ABSENT);
	cr_expect_null(agent_ip_cached(a));
	run_for(100);
	fake_agent_kick(f); /* the chardev peer goes as the guest's agent restarts */
	w.ready = 0;
	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000));
	cr_expect_geq(fake_agent_connections(f), 2);
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, key_push_failure_is_reported_not_fatal)
{
	char path[128];
	struct fake_agent_opts o = {FA_NONE, NULL, 0, NULL, ifaces, "user 'root' not found"};
	struct fake_agent *f;
	struct watch w = {0};
	struct agent *a;
	struct ipres r;

	snprintf(path, sizeof(path), "%s/k.sock", dir);
	f = fake_agent_new(base, path, &o);
	a = agent("k.sock", &w);
	agent_port_event(a, 1);
	get_ip(a, 5000, &r);
	cr_assert(run_until(&r.done, 5000));
	cr_expect_str_eq(r.ip, "10.0.2.15");
	cr_expect_eq(agent_state(a), AGENT_READY);
	/* the push follows the address: its failure is known by guest-info's answer */
	cr_assert(run_until(&w.version_known, 5000), "guest-info never answered");
	cr_expect(!agent_key_pushed(a));
	cr_assert_not_null(agent_key_error(a));
	cr_expect_not_null(strstr(agent_key_error(a), "not found"), "%s", agent_key_error(a));
	agent_free(a);
	fake_agent_free(f);
}

Test(agent_fake, hung_agent_does_not_affect_another)
{
	struct fake_agent *fa = fake("x.sock", FA_SILENT, NULL, 0);
	struct fake_agent *fb = fake("y.sock", FA_NONE, NULL, 0);
	struct watch wa = {0}, wb = {0};
	struct agent *a = agent("x.sock", &wa), *b = agent("y.sock", &wb);
	struct ipres ra, rb;

	agent_port_event(a, 1);
	agent_port_event(b, 1);
	get_ip(a, 3000, &ra);
	get_ip(b, 3000, &rb);
	cr_assert(run_until(&rb.done, 3000));
	cr_expect(!rb.failed, "%s", rb.err.desc);
	cr_expect_str_eq(rb.ip, "10.0.2.15");
	cr_expect_lt(rb.ms, 1000.0, "the healthy VM waited %.0f ms", rb.ms);
	cr_expect(!ra.done);
	agent_free(a); /* pending waiter answered with Disconnected */
	cr_expect(ra.done && ra.failed);
	cr_expect_str_eq(ra.err.cls, QMP_ERR_DISCONNECTED);
	agent_free(b);
	fake_agent_free(fa);
	fake_agent_free(fb);
}

Test(agent_fake, exec_before_ready_fails_fast)
{
	struct watch w = {0};
	struct agent *a = agent("e.sock", &w);
	const char *argv[] = {"true", NULL};
	struct qmp_error err;

	cr_expect_null(agent_exec(a, argv, NULL, 0, 1000, NULL, NULL, &err));
	cr_expect_str_eq(err.cls, "AgentNotReady");
	agent_free(a);
}

Test(agent_fake, qmp_event_routing)
{
	struct fake_agent *f = fake("q.sock", FA_NONE, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("q.sock", &w);
	struct json_object *other = json_tokener_parse("{\"id\":\"other\",\"open\":true}");
	struct json_object *ours =
	    json_tokener_parse("{\"id\":\"" AGENT_PORT_ID "\",\"open\":true}");

	cr_expect_eq(agent_qmp_event(a, "VSERPORT_CHANGE", other), 0);
	cr_expect_eq(agent_state(a), AGENT_ABSENT);
	cr_expect_eq(agent_qmp_event(a, "VSERPORT_CHANGE", ours), 1);
	cr_assert(run_until(&w.ready, 5000));
	cr_expect_eq(agent_qmp_event(a, "POWERDOWN", NULL), 0);
	json_object_put(other);
	json_object_put(ours);
	agent_free(a);
	fake_agent_free(f);
}

/* Queries of the interfaces the agent sends after one event, waited for 300 ms. */
static int ifqs_after(struct agent *a, struct fake_agent *f, const char *event,
		      struct json_object *data)
{
	int before = fake_agent_count(f, "guest-network-get-interfaces");

	agent_qmp_event(a, event, data);
	run_for(300);
	return fake_agent_count(f, "guest-network-get-interfaces") - before;
}

/*
 * A plain pause/cont (STOP, then RESUME) keeps the cached address and asks
 * the guest nothing; a RESUME without a STOP before it (an incoming
 * migration's first cont), a RESET, or a resume inside a live job (a
 * snapshot-load stops and resumes the VM) re-query.
 */
Test(agent_fake, plain_resume_keeps_the_address)
{
	struct fake_agent *f = fake("r.sock", FA_NONE, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("r.sock", &w);
	struct json_object *run = json_tokener_parse("{\"id\":\"j1\",\"status\":\"running\"}");
	struct json_object *end = json_tokener_parse("{\"id\":\"j1\",\"status\":\"concluded\"}");
	struct ipres r;

	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000), "never ready");
	get_ip(a, 5000, &r);
	cr_assert(run_until(&r.done, 5000));
	cr_assert_str_eq(r.ip, "10.0.2.15");

	cr_expect_eq(ifqs_after(a, f, "STOP", NULL), 0);
	cr_expect_eq(ifqs_after(a, f, "RESUME", NULL), 0, "a plain cont re-queried");
	cr_expect_not_null(agent_ip_cached(a));
	cr_expect_eq(ifqs_after(a, f, "RESUME", NULL), 1, "a RESUME with no STOP before");
	cr_expect_eq(ifqs_after(a, f, "STOP", NULL), 0);
	cr_expect_eq(ifqs_after(a, f, "RESET", NULL), 1);
	cr_expect_eq(ifqs_after(a, f, "RESUME", NULL), 1, "a reset came between");
	cr_expect_eq(ifqs_after(a, f, "JOB_STATUS_CHANGE", run), 0);
	cr_expect_eq(ifqs_after(a, f, "STOP", NULL), 0);
	cr_expect_eq(ifqs_after(a, f, "RESUME", NULL), 1, "a job's resume");
	cr_expect_eq(ifqs_after(a, f, "JOB_STATUS_CHANGE", end), 0);
	cr_expect_eq(ifqs_after(a, f, "STOP", NULL), 0);
	cr_expect_eq(ifqs_after(a, f, "RESUME", NULL), 0, "the job had ended");
	json_object_put(run);
	json_object_put(end);
	agent_free(a);
	fake_agent_free(f);
}

/*
 * The guest's agent answers before its DHCP lease (a systemd guest on a
 * bridge): with no one waiting, the agent still asks again, backing off,
 * and the cached address (the VM's status, its events) appears once the
 * guest has one; then it stops asking. It used to keep the empty answer
 * until someone waited on the address.
 */
Test(agent_fake, address_after_the_agent_is_found_without_a_waiter)
{
	struct json_object *bare = json_tokener_parse(
	    "[{\"name\":\"eth0\",\"hardware-address\":\"" MAC "\",\"ip-addresses\":[]}]");
	struct fake_agent *f = fake("d.sock", FA_NONE, NULL, 0);
	struct watch w = {0};
	struct agent *a = agent("d.sock", &w);
	struct json_object *ip, *v;
	struct ipres r;
	int n, got = 0;

	fake_agent_set_ifaces(f, bare);
	agent_port_event(a, 1);
	cr_assert(run_until(&w.ready, 5000), "never ready");
	get_ip(a, 0, &r); /* an immediate answer: no address yet */
	cr_assert(run_until(&r.done, 5000));
	cr_assert_str_eq(r.ip, "", "an address before the lease");
	run_for(1000);
	n = fake_agent_count(f, "guest-network-get-interfaces");
	cr_expect_geq(n, 3, "%d queries in the first second: not asked again", n);
	cr_expect_leq(n, 12, "%d queries in the first second: not backing off", n);

	fake_agent_set_ifaces(f, ifaces); /* the lease */
	for (int i = 0; i < 50 && !got; i++) {
		run_for(100);
		ip = agent_ip_cached(a);
		got = ip && json_object_object_get_ex(ip, "ip", &v) && v;
	}
	cr_assert(got, "the address never reached the cache without a waiter");
	cr_expect_str_eq(json_object_get_string(v), "10.0.2.15");
	n = fake_agent_count(f, "guest-network-get-interfaces");
	run_for(2500);
	cr_expect_eq(fake_agent_count(f, "guest-network-get-interfaces"), n,
		     "still asking once the address is known");
	json_object_put(bare);
	agent_free(a);
	fake_agent_free(f);
}
