/*
 * qemu_user's default (issue 19): a root daemon with no qemu_user runs
 * qemu as the system user vmsup-qemu, qemu_user = root is root's qemu by
 * choice, a VM of root's with a share of another user's runs qemu as
 * vmsup-qemu too (the share is idmapped; tests/daemon/root-shares.c), and
 * a missing default user stops the daemon at start-up with the way out.
 * Real vmsupd and qemu (guest-less VMs).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/core/reattach-util.h"

static struct tdaemon d;
static char share[64], rshare[64];

static void down(void)
{
	td_stop(&d);
	if (share[0])
		rmdir(share);
	if (rshare[0])
		rmdir(rshare);
	share[0] = rshare[0] = '\0';
}

TestSuite(qemu_user, .fini = down, .timeout = 600);

/* qemu's real and effective uid */
static void expect_uid(pid_t pid, long uid, const char *what)
{
	long ruid, euid;

	td_proc_uids(pid, &ruid, &euid);
	cr_expect_eq(ruid, uid, "%s: qemu's real uid %ld, not %ld", what, ruid, uid);
	cr_expect_eq(euid, uid, "%s: qemu's effective uid %ld, not %ld", what, euid, uid);
}

Test(qemu_user, root_daemon_runs_qemu_as_vmsup_qemu_by_default)
{
	char rundir[256], extra[128];
	struct stat st;
	uid_t qu;
	gid_t qg;

	if (!td_qemu_user_ids(&qu, &qg))
		cr_skip_test("needs root: the default applies to a root daemon only");
	td_start(&d, "stop_grace_s = 5");
	expect_uid(rt_create(&d, "plain", NULL), (long)qu, "no qemu_user");
	snprintf(rundir, sizeof(rundir), "%s/run/vm/plain", d.dir);
	cr_assert_eq(stat(rundir, &st), 0);
	cr_expect_eq(st.st_uid, qu, "run dir owner");

	/* root's VM sharing a directory of another user's: still vmsup-qemu,
	 * never the share's owner (nor root for a share of root's) */
	strcpy(share, "/tmp/vsd-share-XXXXXX");
	cr_assert_not_null(mkdtemp(share));
	cr_assert_eq(chown(share, 65534, 65534), 0);
	snprintf(extra, sizeof(extra), "\"shares\":[{\"path\":\"%s\"}]", share);
	expect_uid(rt_create(&d, "shared", extra), (long)qu, "a share of uid 65534's");
	strcpy(rshare, "/tmp/vsd-rshare-XXXXXX");
	cr_assert_not_null(mkdtemp(rshare));
	snprintf(extra, sizeof(extra), "\"shares\":[{\"path\":\"%s\"}]", rshare);
	expect_uid(rt_create(&d, "rshared", extra), (long)qu, "a share of root's");
}

Test(qemu_user, qemu_user_root_is_root)
{
	if (geteuid() != 0)
		cr_skip_test("needs root");
	td_start(&d, "stop_grace_s = 5\nqemu_user = root");
	expect_uid(rt_create(&d, "asroot", NULL), 0, "qemu_user = root");
}

/* vmsupd's exit status and output for a start with env and conf */
static int start_fails(const char *env, const char *conf_text, char *out, size_t n)
{
	char conf[256], cmd[1400];
	const char *b = getenv("top_builddir");
	FILE *p;

	strcpy(d.dir, "/tmp/vsh-q-XXXXXX");
	cr_assert_not_null(mkdtemp(d.dir));
	snprintf(conf, sizeof(conf), "%s/vmsupd.conf", d.dir);
	cr_assert_not_null(p = fopen(conf, "w"));
	fputs(conf_text, p);
	fclose(p);
	snprintf(cmd, sizeof(cmd),
		 "%s timeout 120 %s/src/daemon/vmsupd -c %s --socket %s/api.sock --state-dir "
		 "%s/state --run-dir %s/run -f 2>&1",
		 env, b ? b : ".", conf, d.dir, d.dir, d.dir);
	cr_assert_not_null(p = popen(cmd, "r"));
	out[fread(out, 1, n - 1, p)] = '\0';
	return pclose(p);
}

/* The default's name comes from VMSUP_QEMU_USER_DEFAULT here: the real
 * user cannot be removed from a machine other tests share. */
Test(qemu_user, missing_default_user_stops_the_start_and_says_how_to_make_it)
{
	char out[2048] = "";

	if (geteuid() != 0)
		cr_skip_test("needs root: the default applies to a root daemon only");
	cr_expect_neq(
	    start_fails("VMSUP_QEMU_USER_DEFAULT=vmsup-qemu-absent", "", out, sizeof(out)), 0,
	    "vmsupd must refuse to start");
	cr_expect(strstr(out, "'vmsup-qemu-absent' does not exist"), "message: %s", out);
	cr_expect(strstr(out, "scripts/setup") && strstr(out, "useradd --system"),
		  "how to make it: %s", out);
	cr_expect(strstr(out, "qemu_user"), "or set qemu_user: %s", out);
}

/* a typo in qemu_user is a start-up error, not a failure of every VM */
Test(qemu_user, unknown_qemu_user_is_a_startup_error)
{
	char out[1024] = "";

	cr_expect_neq(start_fails("", "qemu_user = no-such-user-vmsup\n", out, sizeof(out)), 0,
		      "vmsupd must refuse to start");
	cr_expect(strstr(out, "no-such-user-vmsup"), "message: %s", out);
}
