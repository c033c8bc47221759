/*
 * VM owners (issue 19): a VM belongs to the uid that created it; others in
 * api_group do not see it (404 on every route, absent from the list), root
 * and admin_group members act on any. Real vmsupd and qemu (guest-less);
 * clients are other users through setpriv + curl, so SO_PEERCRED decides.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/daemon/as-user.h"
#include "tests/lib/daemon-harness.h"

static struct tdaemon d;

static void down(void)
{
	td_stop(&d);
}

/* nobody and daemon (uid 1) as plain api_group members; daemon with the
 * adm group as an admin */
#define CONF "api_group = nogroup\nadmin_group = adm\n"

static void up(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (setpriv to nobody and daemon)");
	if (system("command -v setpriv >/dev/null && command -v curl >/dev/null") != 0)
		cr_skip_test("needs setpriv(1) and curl(1)");
	td_start(&d, CONF);
	/* the test dir is 0700: let the users reach the socket itself */
	cr_assert_eq(chmod(d.dir, 0711), 0);
}

static long as(const char *user, const char *groups, const char *method, const char *path,
	       const char *data, char *body, size_t bsize)
{
	return td_as_user(d.sock, user, "nogroup", groups, method, path, data, body, bsize);
}

#define GUESTLESS(name, start)                                                                     \
	"{\"name\":\"" name "\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,\"start\":" start \
	"}"

TestSuite(owners, .fini = down, .timeout = 300);

Test(owners, another_users_vm_is_not_there)
{
	static const struct {
		const char *method, *path, *data;
	} routes[] = {
	    {"GET", "/v1/vms/rootvm", NULL},
	    {"DELETE", "/v1/vms/rootvm", NULL},
	    {"POST", "/v1/vms/rootvm/start", NULL},
	    {"POST", "/v1/vms/rootvm/stop", NULL},
	    {"POST", "/v1/vms/rootvm/pause", NULL},
	    {"POST", "/v1/vms/rootvm/resume", NULL},
	    {"POST", "/v1/vms/rootvm/kill", NULL},
	    {"POST", "/v1/vms/rootvm/reset", NULL},
	    {"POST", "/v1/vms/rootvm/qmp", "{\"execute\":\"query-status\"}"},
	    {"PUT", "/v1/vms/rootvm/memory", "{\"mem_mib\":64}"},
	    {"PUT", "/v1/vms/rootvm/cpu", "{\"quota_pct\":50}"},
	    {"PUT", "/v1/vms/rootvm/autostart", "{\"autostart\":true}"},
	    {"GET", "/v1/vms/rootvm/ip", NULL},
	    {"POST", "/v1/vms/rootvm/exec", "{\"argv\":[\"true\"]}"},
	    {"GET", "/v1/events?vm=rootvm", NULL},
	};
	char body[8192];
	struct json_object *o;
	long st;

	up();
	o = td_http(&d, "POST", "/v1/vms", GUESTLESS("rootvm", "true"), &st);
	cr_assert_eq(st, 201, "root's create: %ld", st);
	cr_expect_eq(td_int(o, "owner"), 0, "root's VM is root's");
	json_object_put(o);
	cr_assert_eq(
	    as("nobody", NULL, "POST", "/v1/vms", GUESTLESS("mine", "false"), body, sizeof(body)),
	    201);
	cr_expect(strstr(body, "\"owner\":65534") || strstr(body, "\"owner\": 65534"), "%s", body);

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		cr_expect_eq(as("nobody", NULL, routes[i].method, routes[i].path, routes[i].data,
				body, sizeof(body)),
			     404, "%s %s", routes[i].method, routes[i].path);
		cr_expect(strstr(body, "NotFound"), "%s %s: %s", routes[i].method, routes[i].path,
			  body);
	}
	/* nothing happened to it */
	o = td_http(&d, "GET", "/v1/vms/rootvm", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(o, "state"), "running");
	json_object_put(o);

	cr_expect_eq(as("nobody", NULL, "GET", "/v1/vms", NULL, body, sizeof(body)), 200);
	cr_expect(strstr(body, "\"mine\""), "own VM listed: %s", body);
	cr_expect(!strstr(body, "rootvm"), "root's VM not listed: %s", body);
	/* a plain member's VM is just as invisible to another plain member */
	cr_expect_eq(as("daemon", NULL, "GET", "/v1/vms/mine", NULL, NULL, 0), 404);
	cr_expect_eq(as("daemon", NULL, "GET", "/v1/vms", NULL, body, sizeof(body)), 200);
	cr_expect(!strstr(body, "mine") && !strstr(body, "rootvm"), "%s", body);
	cr_expect_eq(as("nobody", NULL, "POST", "/v1/shutdown", "{}", NULL, 0), 403,
		     "shutdown stops everyone's VMs: admins only");
	cr_expect_eq(as("nobody", NULL, "GET", "/v1/vms/mine", NULL, NULL, 0), 200);
}

Test(owners, admins_and_root_act_on_any)
{
	char body[8192];
	struct json_object *o;
	long st;

	up();
	cr_assert_eq(as("nobody", NULL, "POST", "/v1/vms", GUESTLESS("nbvm", "true"), NULL, 0),
		     201);
	o = td_http(&d, "GET", "/v1/vms/nbvm", NULL, &st);
	cr_expect_eq(st, 200, "root sees it");
	cr_expect_eq(td_int(o, "owner"), 65534);
	json_object_put(o);
	cr_expect_eq(as("daemon", "adm", "GET", "/v1/vms", NULL, body, sizeof(body)), 200);
	cr_expect(strstr(body, "nbvm"), "an admin lists every VM: %s", body);
	cr_expect_eq(as("daemon", "adm", "POST", "/v1/vms/nbvm/pause", NULL, body, sizeof(body)),
		     200, "admin pause: %s", body);
	o = td_http(&d, "POST", "/v1/vms/nbvm/resume", NULL, &st);
	cr_expect_eq(st, 200, "root resume");
	json_object_put(o);
	cr_expect_eq(
	    as("daemon", "adm", "DELETE", "/v1/vms/nbvm?force=1", NULL, body, sizeof(body)), 200,
	    "admin destroy: %s", body);
	o = td_http(&d, "GET", "/v1/vms/nbvm", NULL, &st);
	cr_expect_eq(st, 404, "destroyed");
	json_object_put(o);
}

/* The owner is in the state file: a restarted daemon keeps it. */
Test(owners, owner_survives_a_restart)
{
	char body[8192];

	up();
	cr_assert_eq(as("nobody", NULL, "POST", "/v1/vms", GUESTLESS("kept", "true"), NULL, 0),
		     201);
	/* the daemon dies, its VM runs on and is reattached */
	td_kill9(&d);
	td_restart(&d);
	cr_expect_eq(as("nobody", NULL, "GET", "/v1/vms/kept", NULL, body, sizeof(body)), 200, "%s",
		     body);
	cr_expect(strstr(body, "\"running\""), "reattached: %s", body);
	cr_expect_eq(as("daemon", NULL, "GET", "/v1/vms/kept", NULL, body, sizeof(body)), 404,
		     "still not another member's: %s", body);
}

/* QMP passthrough: an allowlist for members, the guard alone for root. */
Test(owners, qmp_allowlist_for_members)
{
	char body[8192], data[512], dump[256];
	struct json_object *o;
	struct stat st_;
	long st;

	up();
	cr_assert_eq(as("nobody", NULL, "POST", "/v1/vms", GUESTLESS("q", "true"), NULL, 0), 201);
	cr_expect_eq(as("nobody", NULL, "POST", "/v1/vms/q/qmp", "{\"execute\":\"query-status\"}",
			body, sizeof(body)),
		     200, "%s", body);
	snprintf(dump, sizeof(dump), "%s/mem.dump", d.dir);
	snprintf(data, sizeof(data),
		 "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":0,\"size\":4096,"
		 "\"filename\":\"%s\"}}",
		 dump);
	cr_expect_eq(as("nobody", NULL, "POST", "/v1/vms/q/qmp", data, body, sizeof(body)), 403,
		     "%s", body);
	cr_expect(strstr(body, "PermissionDenied"), "%s", body);
	cr_expect_neq(stat(dump, &st_), 0, "pmemsave refused, yet the file is there");
	cr_expect_eq(as("nobody", NULL, "POST", "/v1/vms/q/qmp",
			"{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\","
			"\"node-name\":\"n0\"}}",
			body, sizeof(body)),
		     403, "%s", body);
	/* root: past the allowlist, the existing guard alone decides (it refuses
	 * a pmemsave to a host path for everyone) */
	o = td_http(&d, "POST", "/v1/vms/q/qmp", data, &st);
	cr_expect_eq(st, 403, "the guard on root's pmemsave");
	cr_expect(td_err_desc(o) && !strstr(td_err_desc(o), "admin_group"),
		  "root is not stopped by the allowlist: %s", td_err_desc(o));
	json_object_put(o);
	cr_expect_neq(stat(dump, &st_), 0);
	o = td_http(&d, "POST", "/v1/vms/q/qmp",
		    "{\"execute\":\"blockdev-add\",\"arguments\":{\"driver\":\"null-co\","
		    "\"node-name\":\"n0\"}}",
		    &st);
	cr_expect_eq(st, 200, "root's blockdev-add of a null device");
	json_object_put(o);
}

/*
 * /metrics: a member gets its own VMs' series only, and none of the
 * counters of everyone's traffic; root gets all of it.
 */
Test(owners, metrics_show_own_vms_only)
{
	struct json_object *o;
	long st;

	up();
	o = td_http(&d, "POST", "/v1/vms", GUESTLESS("rootvm", "false"), &st);
	cr_assert_eq(st, 201);
	json_object_put(o);
	cr_assert_eq(as("nobody", NULL, "POST", "/v1/vms", GUESTLESS("mine", "false"), NULL, 0),
		     201);
#define SCRAPE(who)                                                                                \
	"setpriv --reuid=" who " --regid=nogroup --clear-groups curl -sf --unix-socket %s "        \
	"http://x/metrics > %s/metrics." who
	td_sh_ok(SCRAPE("nobody"), d.sock, d.dir);
	td_sh_ok(SCRAPE("root"), d.sock, d.dir);
#undef SCRAPE
	td_sh_ok("grep -q 'vmsup_vm_vcpus{vm=\"mine\"' %s/metrics.nobody", d.dir);
	td_sh_ok("! grep -q 'rootvm' %s/metrics.nobody", d.dir);
	td_sh_ok("! grep -q '^vmsup_api_requests_total{' %s/metrics.nobody", d.dir);
	td_sh_ok("grep -q '^vmsup_uptime_seconds' %s/metrics.nobody", d.dir);
	td_sh_ok("grep -q 'vm=\"rootvm\"' %s/metrics.root && grep -q 'vm=\"mine\"' %s/metrics.root",
		 d.dir, d.dir);
	td_sh_ok("grep -q '^vmsup_api_requests_total{' %s/metrics.root", d.dir);
}
