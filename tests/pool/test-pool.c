/*
 * The warm pool through the real daemon and the test guest (TCG): it waits
 * for its template, fills, hands out paused VMs resized and with their
 * clock set, refills, drops a member someone resumed, survives a daemon
 * restart without leaking the old members, and serves `vmctl run --pool`.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "qmp/qmp.h"
#include "tests/daemon/as-user.h"
#include "tests/snapshot/template-util.h"

#define POOL_CONF "pool_template = base\npool_size = 2\n"

static struct tdaemon d;

static void teardown(void)
{
	tt_stop(&d);
}

static struct json_object *pool_status(void)
{
	long st;
	struct json_object *r = td_http(&d, "GET", "/v1/pool", NULL, &st);

	cr_assert_eq(st, 200, "GET /v1/pool: %ld", st);
	return r;
}

/* Wait until the pool has `ready` members ready; their names into names[]. */
static void wait_ready(int ready, char names[][32], int timeout_s)
{
	double end = td_now() + timeout_s;
	struct json_object *r = NULL, *m;

	while (td_now() < end) {
		json_object_put(r);
		r = pool_status();
		if (td_int(r, "ready") == ready && td_int(r, "filling") == 0) {
			m = json_object_object_get(r, "members");
			for (int i = 0; names && i < ready; i++)
				snprintf(names[i], 32, "%s",
					 td_str(json_object_array_get_idx(m, i), "name"));
			json_object_put(r);
			return;
		}
		usleep(200000);
	}
	cr_assert_fail("pool not %d ready in %d s: %s", ready, timeout_s,
		       json_object_to_json_string(r));
}

static struct json_object *take(const char *body, long *st)
{
	return td_http(&d, "POST", "/v1/pool/take", body, st);
}

static const char *vm_state(const char *name, long *st)
{
	static char buf[32];
	char path[96];
	struct json_object *r;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	r = td_http(&d, "GET", path, NULL, st);
	snprintf(buf, sizeof(buf), "%s", r && td_str(r, "state") ? td_str(r, "state") : "");
	json_object_put(r);
	return buf;
}

static long guest_memtotal_kb(const char *vm)
{
	int status;
	char *out =
	    tt_sh(&d, vm, "sed -n 's/^MemTotal: *\\([0-9]*\\).*/\\1/p' /proc/meminfo", &status);
	long kb = out && status == 0 ? atol(out) : -1;

	free(out);
	return kb;
}

/* The guest's date against ours: seconds apart (busybox date has no %N). */
static double guest_clock_off(const char *vm)
{
	int status;
	double before = (double)time(NULL);
	char *out = tt_sh(&d, vm, "date +%s", &status);
	double after = (double)time(NULL), g;

	cr_assert(out && status == 0, "date in %s failed", vm);
	g = atof(out);
	free(out);
	if (g < before)
		return g - before;
	return g > after + 1 ? g - after - 1 : 0;
}

static char *sh_out(const char *vm, const char *script)
{
	int status;
	char *o = tt_sh(&d, vm, script, &status);

	cr_assert(o && status == 0, "'%s' in %s failed", script, vm);
	return o;
}

Test(pool, fill_take_refill_restart, .fini = teardown, .timeout = 1500)
{
	char *spec = tt_spec("base", 256), names[2][32], old[2][32], got[2][32], path[128];
	char *bid0, *bid1, *out, cmd[1024];
	struct json_object *r, *p;
	long st, kb;
	pid_t oldpid[2];
	FILE *f;

	tt_start_conf(&d, POOL_CONF);

	/* --- no template yet: the pool waits, says why --- */
	usleep(500000);
	r = pool_status();
	cr_expect_eq(td_int(r, "ready"), 0);
	cr_expect_str_eq(td_str(r, "template"), "base");
	cr_expect(td_str(r, "last_error") && strstr(td_str(r, "last_error"), "no template"),
		  "last_error: %s", td_str(r, "last_error"));
	json_object_put(r);

	/* --- the template is made: the pool fills, its VMs paused --- */
	r = td_http(&d, "POST", "/v1/templates", spec, &st);
	free(spec);
	cr_assert_eq(st, 201, "template create: %ld %s", st, r ? td_err_desc(r) : "");
	json_object_put(r);
	wait_ready(2, names, 300);
	for (int i = 0; i < 2; i++)
		cr_expect_str_eq(vm_state(names[i], &st), "paused", "%s", names[i]);
	/* paused long enough that a guest clock left alone would be visibly behind */
	sleep(4);

	/* --- take: resized, resumed, clock set --- */
	r = take("{\"mem_mib\":128,\"quota_pct\":50}", &st);
	cr_assert_eq(st, 201, "take: %ld %s", st, r ? td_err_desc(r) : "");
	snprintf(got[0], 32, "%s", td_str(r, "name"));
	{
		/* under the default qemu_user a pool VM's qemu is vmsup-qemu
		 * like any other (a take's share is idmapped to it), the
		 * daemon's own uid only where there is no such user */
		long ruid, euid;
		uid_t quid = geteuid();
		gid_t qgid;
		struct json_object *v;
		td_qemu_user_ids(&quid, &qgid);
		snprintf(path, sizeof(path), "/v1/vms/%s", got[0]);
		v = td_http(&d, "GET", path, NULL, &st);
		td_proc_uids((pid_t)td_int(v, "pid"), &ruid, &euid);
		cr_expect(ruid == (long)quid && euid == (long)quid,
			  "pool qemu's uids %ld/%ld, not %u", ruid, euid, (unsigned)quid);
		json_object_put(v);
	}
	cr_expect(!strcmp(got[0], names[0]) || !strcmp(got[0], names[1]), "took %s", got[0]);
	cr_expect_str_eq(td_str(r, "state"), "running");
	p = json_object_object_get(r, "pool");
	cr_assert_not_null(p);
	cr_expect(json_object_get_boolean(json_object_object_get(p, "hit")));
	cr_expect(json_object_get_boolean(json_object_object_get(p, "clock_set")));
	cr_expect_lt(fabs(json_object_get_double(json_object_object_get(p, "clock_skew_ms"))),
		     1000.0);
	/* busybox's date takes no relative time: the agent's guest-set-time did it */
	cr_expect_str_eq(json_object_get_string(json_object_object_get(p, "clock_method")),
			 "guest-set-time");
	/* ... at once: the members' restores already found that out, and the
	 * take shares their memory of it (one failed date per template) */
	cr_expect(json_object_object_get_ex(p, "clock_date_failed", NULL) &&
		      !json_object_get_boolean(json_object_object_get(p, "clock_date_failed")),
		  "the first take tried date again: %s", json_object_to_json_string(p));
	cr_log_info("warm take in %.1f ms",
		    json_object_get_double(json_object_object_get(p, "take_ms")));
	json_object_put(r);
	cr_expect_leq(fabs(guest_clock_off(got[0])), 1.0, "the guest clock after the pause");
	/* the guest's own view of its memory follows the balloon (256 -> 128 MiB) */
	for (int i = 0; i < 150 && (kb = guest_memtotal_kb(got[0])) > 150 * 1024; i++)
		usleep(200000);
	cr_expect_lt(kb, 150 * 1024, "guest MemTotal %ld kB after a 128 MiB take", kb);
	snprintf(path, sizeof(path), "/v1/vms/%s", got[0]);
	r = td_http(&d, "GET", path, NULL, &st);
	cr_expect_eq(td_int(r, "cpu_quota_pct"), 50, "%s", json_object_to_json_string(r));
	if (td_str(r, "cgroup")) {
		/* the kernel's own setting: 50 % of the period (v1) */
		char q[600];
		snprintf(q, sizeof(q), "%s/cpu.cfs_quota_us", td_str(r, "cgroup"));
		if ((f = fopen(q, "r"))) {
			long quota = -2;
			cr_expect_eq(fscanf(f, "%ld", &quota), 1);
			fclose(f);
			cr_expect_eq(quota, td_int(r, "cpu_period_us") / 2, "%s: %ld", q, quota);
		}
	}
	json_object_put(r);

	/* --- a second one: its own machine --- */
	r = take("{}", &st);
	cr_assert_eq(st, 201, "take 2: %ld %s", st, r ? td_err_desc(r) : "");
	snprintf(got[1], 32, "%s", td_str(r, "name"));
	json_object_put(r);
	cr_expect_str_neq(got[0], got[1]);
	bid0 = sh_out(got[0], "cat /proc/sys/kernel/random/boot_id; echo one > /tmp/mine");
	bid1 =
	    sh_out(got[1], "cat /proc/sys/kernel/random/boot_id; test ! -e /tmp/mine && echo ok");
	cr_expect(strncmp(bid0, bid1, 36), "two pool VMs share boot_id %.36s", bid0);
	cr_expect(strstr(bid1, "ok"), "a file written in one pool VM shows in another");
	free(bid0);
	free(bid1);

	/* --- a host directory bound in at take time, both ways; read-only stays so --- */
	wait_ready(2, names, 300);
	{
		char sdir[] = "/tmp/pool-share-XXXXXX", body[256], f1[300], script[600];
		const char *shname;
		char *o;
		int status;
		cr_assert_not_null(mkdtemp(sdir));
		snprintf(f1, sizeof(f1), "%s/from-host", sdir);
		cr_assert_not_null(f = fopen(f1, "w"));
		fputs("host\n", f);
		fclose(f);
		snprintf(body, sizeof(body), "{\"shares\":[{\"path\":\"%s\"}]}", sdir);
		r = take(body, &st);
		cr_assert_eq(st, 201, "take with a share: %ld %s", st, r ? td_err_desc(r) : "");
		shname = td_str(r, "name");
		snprintf(script, sizeof(script), "cat %s/from-host && echo guest > %s/from-guest",
			 sdir, sdir);
		o = tt_sh(&d, shname, script, &status);
		cr_expect(o && status == 0 && !strcmp(o, "host\n"), "guest read: %s", o ? o : "");
		free(o);
		snprintf(f1, sizeof(f1), "%s/from-guest", sdir);
		o = NULL;
		cr_expect(access(f1, F_OK) == 0, "the guest's file is not on the host");
		snprintf(path, sizeof(path), "/v1/vms/%s", shname);
		json_object_put(td_http(&d, "DELETE", path, NULL, &st));
		cr_expect_eq(st, 200);
		json_object_put(r);
		/* destroyed: nothing of it is left mounted over the run dir */
		cr_assert_not_null(f = fopen("/proc/self/mountinfo", "r"));
		{
			char line[1024];
			while (fgets(line, sizeof(line), f))
				cr_expect(!strstr(line, d.dir), "left mounted: %s", line);
		}
		fclose(f);
		/* read-only */
		wait_ready(2, names, 300);
		snprintf(body, sizeof(body), "{\"shares\":[{\"path\":\"%s\",\"readonly\":true}]}",
			 sdir);
		r = take(body, &st);
		cr_assert_eq(st, 201, "take with a read-only share: %ld", st);
		snprintf(script, sizeof(script), "echo x > %s/nope", sdir);
		o = tt_sh(&d, td_str(r, "name"), script, &status);
		cr_expect_neq(status, 0, "a read-only share took a write");
		free(o);
		snprintf(f1, sizeof(f1), "%s/nope", sdir);
		cr_expect_neq(access(f1, F_OK), 0);
		snprintf(path, sizeof(path), "/v1/vms/%s", td_str(r, "name"));
		json_object_put(td_http(&d, "DELETE", path, NULL, &st));
		json_object_put(r);
		/* two shares, or a path that is no directory: refused, nothing lost */
		snprintf(body, sizeof(body), "{\"shares\":[{\"path\":\"%s\"},{\"path\":\"/tmp\"}]}",
			 sdir);
		json_object_put(take(body, &st));
		cr_expect_eq(st, 400);
		json_object_put(take("{\"shares\":[{\"path\":\"/nonexistent-dir\"}]}", &st));
		cr_expect_eq(st, 400);
		snprintf(script, sizeof(script), "rm -rf %s", sdir);
		cr_expect_eq(system(script), 0);
	}

	/* --- refilled; bad takes are refused and lose nothing --- */
	wait_ready(2, names, 300);
	r = take("{\"mem_mib\":100000}", &st);
	cr_expect_eq(st, 409, "a take larger than the template: %ld", st);
	cr_expect_str_eq(td_err_class(r), "PoolMismatch");
	json_object_put(r);
	r = take("{\"bogus\":1}", &st);
	cr_expect_eq(st, 400);
	cr_expect(strstr(td_err_desc(r), "bogus"), "%s", td_err_desc(r));
	json_object_put(r);
	r = take("{\"quota_pct\":\"half\"}", &st);
	cr_expect_eq(st, 400);
	json_object_put(r);
	r = take("[1]", &st);
	cr_expect_eq(st, 400);
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/pool/take", NULL, &st);
	cr_expect_eq(st, 405);
	json_object_put(r);
	r = pool_status();
	cr_expect_eq(td_int(r, "ready"), 2, "bad takes cost pool VMs");
	cr_expect_eq(td_int(r, "hits"), 4);
	json_object_put(r);

	/* --- the API hands out pool VMs only through a take --- */
	snprintf(path, sizeof(path), "/v1/vms/%s/resume", names[0]);
	r = td_http(&d, "POST", path, NULL, &st);
	cr_expect_eq(st, 409, "resume of a pool member: %ld", st);
	cr_expect_str_eq(td_err_class(r), "PoolMember");
	json_object_put(r);
	cr_expect_str_eq(vm_state(names[0], &st), "paused");

	/* --- a member resumed behind the pool's back (ops socket) never serves a task --- */
	snprintf(path, sizeof(path), "/v1/vms/%s", names[0]);
	r = td_http(&d, "GET", path, NULL, &st);
	cr_expect(json_object_get_boolean(json_object_object_get(r, "pool_member")));
	{
		struct qmp_error e;
		struct json_object *ret = NULL;
		struct qmp_sync *c =
		    qmp_sync_open(td_str(r, "qmp_ops_socket"), QMP_KIND_QMP, 10000, &e);
		cr_assert_not_null(c, "ops socket: %s", e.desc);
		/* the pool destroys the member on its RESUME event: qemu may
		 * quit before its answer to cont is out, and the connection
		 * closes instead. Either way the cont ran; what counts is below */
		if (qmp_sync_call(c, "cont", NULL, 10000, &ret, &e) < 0)
			cr_expect(strstr(e.desc, "closed"), "cont: %s", e.desc);
		json_object_put(ret);
		qmp_sync_close(c);
	}
	json_object_put(r);
	for (int i = 0; i < 100 && strcmp(vm_state(names[0], &st), ""); i++)
		usleep(100000);
	cr_expect_eq(st, 404, "%s still exists after leaving the pool", names[0]);
	wait_ready(2, old, 300);
	cr_expect(strcmp(old[0], names[0]) && strcmp(old[1], names[0]));

	/* --- daemon restart: the old members go, new ones come, taken VMs stay --- */
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/v1/vms/%s", old[i]);
		r = td_http(&d, "GET", path, NULL, &st);
		oldpid[i] = (pid_t)td_int(r, "pid");
		json_object_put(r);
		cr_assert_gt(oldpid[i], 0);
	}
	td_kill9(&d);
	/* one member's qemu dies while no daemon runs: crashed, its run dir cleaned */
	kill(oldpid[0], SIGKILL);
	td_restart(&d);
	for (int i = 0; i < 2; i++)
		cr_expect(td_pid_gone(oldpid[i], 30000), "pool qemu %d of the old daemon lives on",
			  (int)oldpid[i]);
	wait_ready(2, names, 300);
	for (int i = 0; i < 2; i++) {
		/* gone from the registry too, the crashed one included */
		for (int k = 0; k < 100 && strcmp(vm_state(old[i], &st), ""); k++)
			usleep(100000);
		cr_expect_eq(st, 404, "old pool VM %s is still listed", old[i]);
		cr_expect(strcmp(names[i], old[0]) && strcmp(names[i], old[1]), "%s reused",
			  names[i]);
		cr_expect_str_eq(vm_state(got[i], &st), "running", "taken VM %s", got[i]);
	}

	/* --- vmctl run --pool: the user's path --- */
	snprintf(cmd, sizeof(cmd),
		 "%s/src/cli/vmctl --socket %s run --pool --via agent -- cat "
		 "/proc/sys/kernel/random/boot_id",
		 getenv("top_builddir") ? getenv("top_builddir") : ".", d.sock);
	cr_assert_not_null(f = popen(cmd, "r"));
	out = calloc(1, 256);
	cr_expect_gt(fread(out, 1, 255, f), 30, "vmctl run printed no boot_id");
	cr_expect_eq(pclose(f), 0, "vmctl run --pool failed");
	free(out);
	r = pool_status();
	cr_expect_eq(td_int(r, "hits"), 1, "vmctl run --pool did not take from the pool");
	json_object_put(r);

	/* --- SIGTERM: every qemu, pool members included, is gone --- */
	kill(d.pid, SIGTERM);
	cr_expect_eq(waitpid(d.pid, NULL, 0), d.pid);
	d.pid = 0;
	cr_expect_eq(tt_qemus(&d), 0, "qemu left after SIGTERM");
}

Test(pool, none_configured, .fini = teardown, .timeout = 120)
{
	long st;
	struct json_object *r;

	tt_start(&d);
	r = td_http(&d, "GET", "/v1/pool", NULL, &st);
	cr_expect_eq(st, 404);
	cr_expect(strstr(td_err_desc(r), "pool_template"), "%s", td_err_desc(r));
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/pool/take", "{}", &st);
	cr_expect_eq(st, 404);
	json_object_put(r);
}

/*
 * A member whose qemu dies while it waits (killed from outside, the OOM
 * killer): the pool drops and destroys it from inside the state change's
 * bus event. The daemon must outlive that (it once freed the VM while the
 * exit handling still used it: ASan saw it) and the pool refill.
 */
Test(pool, member_killed_from_outside_is_replaced, .fini = teardown, .timeout = 900)
{
	char *spec = tt_spec("base", 128), names[1][32], again[1][32], path[96];
	struct json_object *r;
	long st;
	pid_t pid;

	tt_start_conf(&d, "pool_template = base\npool_size = 1\n");
	r = td_http(&d, "POST", "/v1/templates", spec, &st);
	free(spec);
	cr_assert_eq(st, 201, "template: %ld %s", st, r ? td_err_desc(r) : "");
	json_object_put(r);
	wait_ready(1, names, 300);
	snprintf(path, sizeof(path), "/v1/vms/%s", names[0]);
	r = td_http(&d, "GET", path, NULL, &st);
	pid = (pid_t)td_int(r, "pid");
	json_object_put(r);
	cr_assert_gt(pid, 0);
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert(td_pid_gone(pid, 10000), "qemu %d did not die", (int)pid);

	/* the member leaves the VM list; the daemon still serves and refills */
	for (int i = 0; i < 100 && (vm_state(names[0], &st), st != 404); i++)
		usleep(100000);
	cr_expect_eq(st, 404, "the dead member %s is still listed", names[0]);
	wait_ready(1, again, 300);
	cr_expect_str_neq(again[0], names[0]);
	cr_expect_eq(kill(d.pid, 0), 0, "the daemon died");
}

/*
 * The take makes the VM the taker's, also for the next daemon: its reply
 * waits until the owner is in the state file (written by the writer
 * thread, off the loop). kill -9 the daemon the moment a 201 take has
 * arrived: the restarted daemon has the VM as the taker's (nobody here, not
 * the daemon's uid the pool's VMs have). Repeated, as a reply sent before
 * its write would only sometimes beat the disk.
 */
Test(pool, kill9_right_after_the_take, .fini = teardown, .timeout = 1200)
{
	char *spec = tt_spec("base", 128), body[16384], path[96];
	struct json_object *r, *vm;
	struct passwd *nobody = getpwnam("nobody");
	long st;

	if (geteuid() != 0 || !nobody)
		cr_skip_test("needs root and a nobody user (setpriv)");
	if (system("command -v setpriv >/dev/null && command -v curl >/dev/null") != 0)
		cr_skip_test("needs setpriv(1) and curl(1)");
	tt_start_conf(&d, "pool_template = base\npool_size = 1\napi_group = nogroup\n");
	/* the test dir is 0700: let nobody reach the socket itself */
	cr_assert_eq(chmod(d.dir, 0711), 0);
	r = td_http(&d, "POST", "/v1/templates", spec, &st);
	free(spec);
	cr_assert_eq(st, 201, "template: %ld %s", st, r ? td_err_desc(r) : "");
	json_object_put(r);
	for (int k = 0; k < 3; k++) {
		wait_ready(1, NULL, 300);
		st = td_as_user(d.sock, "nobody", "nogroup", NULL, "POST", "/v1/pool/take", "{}",
				body, sizeof(body));
		td_kill9(&d);
		cr_assert_eq(st, 201, "round %d: take: %ld %s", k, st, body);
		r = json_tokener_parse(body);
		cr_assert_not_null(r, "round %d: %s", k, body);
		snprintf(path, sizeof(path), "/v1/vms/%s", td_str(r, "name"));
		json_object_put(r);
		td_restart(&d);
		vm = td_http(&d, "GET", path, NULL, &st);
		cr_assert_eq(st, 200, "round %d: %s gone after the restart", k, path);
		cr_expect_eq(td_int(vm, "owner"), (long long)nobody->pw_uid,
			     "round %d: %s is owned by %lld, not the taker", k, path,
			     td_int(vm, "owner"));
		cr_expect_str_eq(td_str(vm, "state"), "running", "round %d: %s", k, path);
		json_object_put(vm);
		json_object_put(td_http(&d, "DELETE", path, NULL, &st));
		cr_expect_eq(st, 200, "round %d: delete %s", k, path);
	}
}
