/*
 * A warm pool VM's qemu runs as qemu_user's default (vmsup-qemu), and a
 * take's share reaches it through an idmapped mount (issue 19): root's
 * 0700 directory is served, what the guest writes lands on the host as
 * root's; a caller's own directory is served as well, its files landing as
 * the caller's; the guest can leave no setuid/setgid file and no device
 * node there; a filesystem that cannot idmap (ramfs) fails the take saying
 * so, nothing mounted; the mount goes with the VM, also after a restart.
 * Real guest (TCG), as root with the `nobody` user.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/daemon/as-user.h"
#include "tests/snapshot/template-util.h"

static struct tdaemon d;
static char base[64]; /* share_roots: root/ (root's, 0700) and nob/ (nobody's) */

static void down(void)
{
	tt_stop(&d);
	if (base[0])
		td_rm_share_dir(base);
}

static void wait_ready(void)
{
	double end = td_now() + 300;
	struct json_object *r = NULL;
	long st;

	while (td_now() < end) {
		json_object_put(r);
		r = td_http(&d, "GET", "/v1/pool", NULL, &st);
		if (st == 200 && td_int(r, "ready") == 1 && td_int(r, "filling") == 0) {
			json_object_put(r);
			return;
		}
		usleep(200000);
	}
	cr_assert_fail("pool not ready in 300 s: %s", json_object_to_json_string(r));
}

/* The one ready member's qemu pid. */
static pid_t member_pid(void)
{
	struct json_object *r, *m;
	char path[96];
	long st;
	pid_t pid;

	r = td_http(&d, "GET", "/v1/pool", NULL, &st);
	m = json_object_array_get_idx(json_object_object_get(r, "members"), 0);
	cr_assert_not_null(m, "no member: %s", json_object_to_json_string(r));
	snprintf(path, sizeof(path), "/v1/vms/%s", td_str(m, "name"));
	json_object_put(r);
	r = td_http(&d, "GET", path, NULL, &st);
	pid = (pid_t)td_int(r, "pid");
	json_object_put(r);
	return pid;
}

Test(pool_idmap, pool_qemu_is_vmsup_qemu_and_serves_root_and_caller_shares, .fini = down,
     .timeout = 1500)
{
	char *spec = tt_spec("base", 128), conf[256], body[16384], script[1024], path[128];
	const char *const setid[] = {"suid", "sgid", "tool", "made"};
	struct json_object *r;
	uid_t quid, nuid;
	gid_t qgid;
	long ruid, euid, st;
	struct stat sb;
	char *o;
	int status;

	td_share_test_users(&quid, &qgid, &nuid);
	if (system("command -v setpriv >/dev/null && command -v curl >/dev/null") != 0)
		cr_skip_test("needs setpriv(1) and curl(1)");
	td_share_test_dir(base, sizeof(base), "vmsup-pidmap");
	td_sh_ok("mkdir -m 700 %s/root %s/nob && chown nobody:nogroup %s/nob && "
		 "echo root-only > %s/root/secret && chmod 600 %s/root/secret && "
		 "echo '#!/bin/sh' > %s/root/tool && chmod 755 %s/root/tool",
		 base, base, base, base, base, base, base);
	snprintf(conf, sizeof(conf),
		 "pool_template = base\npool_size = 1\napi_group = nogroup\nshare_roots = %s\n",
		 base);
	tt_start_conf(&d, conf);
	/* the test dir is 0700: let nobody reach the socket itself */
	cr_assert_eq(chmod(d.dir, 0711), 0);
	r = td_http(&d, "POST", "/v1/templates", spec, &st);
	free(spec);
	cr_assert_eq(st, 201, "template: %ld %s", st, r ? td_err_desc(r) : "");
	json_object_put(r);
	wait_ready();

	/* --- the pool's qemu is vmsup-qemu, not root --- */
	td_proc_uids(member_pid(), &ruid, &euid);
	cr_expect(ruid == (long)quid && euid == (long)quid, "pool qemu's uids %ld/%ld, not %u",
		  ruid, euid, (unsigned)quid);

	/* --- root's 0700 share: read root's 0600 file, write one that is root's --- */
	snprintf(body, sizeof(body), "{\"shares\":[{\"path\":\"%s/root\"}]}", base);
	r = td_http(&d, "POST", "/v1/pool/take", body, &st);
	cr_assert_eq(st, 201, "take of root's share: %ld %s", st, r ? td_err_desc(r) : "");
	snprintf(path, sizeof(path), "/v1/vms/%s", td_str(r, "name"));
	snprintf(script, sizeof(script), "cat %s/root/secret && echo guest > %s/root/from-guest",
		 base, base);
	o = tt_sh(&d, td_str(r, "name"), script, &status);
	cr_expect(o && status == 0 && !strcmp(o, "root-only\n"), "guest read: %s (%d)", o ? o : "",
		  status);
	free(o);
	td_expect_file(base, "root/from-guest", 0, "guest\n");

	/* --- no setuid/setgid file, no device node (each attempt may fail) --- */
	snprintf(script, sizeof(script),
		 "cd %s/root; echo x > suid; echo x > sgid; chmod u+s suid; chmod g+s sgid; "
		 "chmod 4755 tool; touch made; chmod 6755 made; mknod cdev c 1 3; "
		 "mknod bdev b 7 0; ls -ln; true",
		 base);
	o = tt_sh(&d, td_str(r, "name"), script, &status);
	cr_log_info("guest after the set-id attempts:\n%s", o ? o : "");
	free(o);
	for (size_t i = 0; i < sizeof(setid) / sizeof(setid[0]); i++) {
		snprintf(script, sizeof(script), "%s/root/%s", base, setid[i]);
		cr_assert_eq(lstat(script, &sb), 0, "%s is missing", script);
		cr_expect_eq(sb.st_mode & (S_ISUID | S_ISGID), 0, "%s is set-id on the host: %o",
			     script, (unsigned)sb.st_mode);
		cr_expect_eq(sb.st_uid, 0, "%s", script);
	}
	snprintf(script, sizeof(script), "%s/root/cdev", base);
	cr_expect(lstat(script, &sb) < 0 || !S_ISCHR(sb.st_mode), "a device node %s", script);
	snprintf(script, sizeof(script), "%s/root/bdev", base);
	cr_expect(lstat(script, &sb) < 0 || !S_ISBLK(sb.st_mode), "a device node %s", script);
	json_object_put(r);
	json_object_put(td_http(&d, "DELETE", path, NULL, &st));
	cr_expect_eq(st, 200);
	td_expect_no_mount(d.dir, NULL, "after the destroy");

	/* --- ramfs has no idmapped mounts: the take fails naming why and the
	 * way out, and leaves nothing mounted --- */
	wait_ready();
	snprintf(script, sizeof(script), "%s/ram", base);
	cr_assert_eq(mkdir(script, 0700), 0);
	cr_assert_eq(mount("none", script, "ramfs", 0, "mode=0700"), 0, "mount ramfs");
	snprintf(body, sizeof(body), "{\"shares\":[{\"path\":\"%s/ram\"}]}", base);
	r = td_http(&d, "POST", "/v1/pool/take", body, &st);
	cr_expect_eq(st, 500, "take of a ramfs share: %ld %s", st, r ? td_err_desc(r) : "");
	cr_expect_str_eq(td_err_class(r), "ShareFailed");
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "idmapped mount") &&
		      strstr(td_err_desc(r), "qemu_user = root"),
		  "%s", td_err_desc(r));
	json_object_put(r);
	td_expect_no_mount(d.dir, NULL, "after the refused idmap");

	/* --- nobody takes with nobody's own directory: its file is nobody's --- */
	wait_ready();
	snprintf(script, sizeof(script), "{\"shares\":[{\"path\":\"%s/nob\"}]}", base);
	st = td_as_user(d.sock, "nobody", "nogroup", NULL, "POST", "/v1/pool/take", script, body,
			sizeof(body));
	cr_assert_eq(st, 201, "nobody's take of its own share: %ld %s", st, body);
	r = json_tokener_parse(body);
	cr_assert_not_null(r, "%s", body);
	snprintf(path, sizeof(path), "/v1/vms/%s", td_str(r, "name"));
	snprintf(script, sizeof(script), "echo nob > %s/nob/from-guest", base);
	o = tt_sh(&d, td_str(r, "name"), script, &status);
	cr_expect(o && status == 0, "guest write in nobody's share: %s", o ? o : "");
	free(o);
	json_object_put(r);
	td_expect_file(base, "nob/from-guest", nuid, "nob\n");

	/* --- a restarted daemon still takes the mount away with the VM --- */
	td_kill9(&d);
	td_restart(&d);
	json_object_put(td_http(&d, "DELETE", path, NULL, &st));
	cr_expect_eq(st, 200, "delete %s after the restart", path);
	td_expect_no_mount(d.dir, NULL, "after a restart and the destroy");
}
