/*
 * Root's VM with shares runs qemu as qemu_user's default (vmsup-qemu),
 * not as root (issue 19): each share whose owner is not qemu's user
 * reaches qemu as a detached idmapped mount of its own (no mount in the
 * host's tree), so qemu serves root's 0700 directory, what the guest
 * writes lands as the share's owner's (root's, nobody's: two owners in one
 * VM), a read-only share stays read-only and no set-id file appears; a
 * filesystem that cannot idmap (ramfs) refuses the create naming why and
 * qemu_user = root, leaving nothing; a daemon restart (qemu keeps its
 * descriptors) and a start of the stopped VM go on serving the shares.
 * Real vmsupd and the test guest (TCG), as root with the nobody user.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/daemon/as-user.h"
#include "tests/lib/daemon-harness.h"

static struct tdaemon d;
static char base[64]; /* share_roots: root/, ro/ (root's, 0700), nob/ (nobody's), ram/ */

static void down(void)
{
	td_stop(&d);
	if (base[0])
		td_rm_share_dir(base);
	base[0] = '\0';
}

TestSuite(root_shares, .fini = down, .timeout = 1500);

/* The guest runs the shell line in VM rs: its exit code. */
static long guest_sh(const char *line)
{
	char body[2048];
	struct json_object *r;
	long st, code;

	snprintf(body, sizeof(body), "{\"argv\":[\"sh\",\"-c\",\"%s\"],\"timeout_s\":60}", line);
	r = td_http(&d, "POST", "/v1/vms/rs/exec", body, &st);
	cr_assert_eq(st, 200, "exec %s: %ld %s", line, st, td_err_desc(r) ? td_err_desc(r) : "");
	code = (long)td_int(r, "exitcode");
	json_object_put(r);
	return code;
}

/* POST path (body) answers want, then VM rs's agent answers. */
static void post_then_agent(const char *path, const char *body, long want)
{
	struct json_object *r;
	long st;

	r = td_http(&d, "POST", path, body, &st);
	cr_assert_eq(st, want, "POST %s: %ld %s", path, st, td_err_desc(r) ? td_err_desc(r) : "");
	json_object_put(r);
	json_object_put(td_wait_ip(&d, "rs", 300, &st));
	cr_assert_eq(st, 200, "after POST %s the guest's agent did not answer", path);
}

/* qemu (uid quid) of VM rs reads root's secret, and writes into root/ and
 * nob/ as their owners; tag tells the files of each round apart. */
static void guest_reads_and_writes(const char *tag, uid_t quid, uid_t nuid)
{
	char line[1024], rel[64];
	long ruid, euid;
	pid_t pid = td_vm_pid(&d, "rs");

	cr_assert_gt(pid, 0);
	td_proc_uids(pid, &ruid, &euid);
	cr_expect(ruid == (long)quid && euid == (long)quid, "%s: qemu's uids %ld/%ld, not %u", tag,
		  ruid, euid, (unsigned)quid);
	snprintf(line, sizeof(line),
		 "cat %s/root/secret > %s/root/copy-%s && echo nob > %s/nob/from-%s", base, base,
		 tag, base, tag);
	cr_expect_eq(guest_sh(line), 0, "%s: %s", tag, line);
	snprintf(rel, sizeof(rel), "root/copy-%s", tag);
	td_expect_file(base, rel, 0, "root-only\n");
	snprintf(rel, sizeof(rel), "nob/from-%s", tag);
	td_expect_file(base, rel, nuid, "nob\n");
}

Test(root_shares, qemu_is_vmsup_qemu_and_each_share_keeps_its_owner)
{
	char kernel[256], initrd[256], append[512] = "", conf[256], spec[4096], line[1024], p[128];
	struct json_object *r;
	struct stat sb;
	uid_t quid, nuid;
	gid_t qgid;
	long st;

	td_share_test_users(&quid, &qgid, &nuid);
	if (!td_guest_files(kernel, initrd, sizeof(kernel)))
		cr_skip_test("no test guest at %s (scripts/mkguest.sh builds it)", kernel);
	td_guest_append(td_guest_dir(), append, sizeof(append));
	td_share_test_dir(base, sizeof(base), "vmsup-rshare");
	td_sh_ok("cd %s && mkdir -m 700 root ro nob ram && chown nobody:nogroup nob && "
		 "echo root-only > root/secret && chmod 600 root/secret && "
		 "echo kept > ro/kept && chmod 600 ro/kept",
		 base);
	snprintf(conf, sizeof(conf), "stop_grace_s = 5\nshare_roots = %s\n", base);
	td_start(&d, conf);

	/* --- ramfs cannot be idmapped: the create is refused, nothing made --- */
	snprintf(p, sizeof(p), "%s/ram", base);
	cr_assert_eq(mount("none", p, "ramfs", 0, "mode=0700"), 0, "mount ramfs");
	snprintf(spec, sizeof(spec),
		 "{\"name\":\"ram\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,"
		 "\"shares\":[{\"path\":\"%s/root\"},{\"path\":\"%s\"}]}",
		 base, p);
	r = td_http(&d, "POST", "/v1/vms", spec, &st);
	cr_expect_eq(st, 500, "a ramfs share: %ld %s", st, td_err_desc(r) ? td_err_desc(r) : "");
	cr_expect_str_eq(td_err_class(r), "ShareFailed");
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "shares[1]") &&
		      strstr(td_err_desc(r), "idmapped mount") &&
		      strstr(td_err_desc(r), "qemu_user = root"),
		  "%s", td_err_desc(r));
	json_object_put(r);
	json_object_put(td_http(&d, "GET", "/v1/vms/ram", NULL, &st));
	cr_expect_eq(st, 404, "the refused VM exists");
	cr_expect_eq(td_count_qemus(&d), 0, "a qemu was started");

	/* --- root's 0700 share, a read-only one and nobody's, in one VM --- */
	snprintf(spec, sizeof(spec),
		 "{\"name\":\"rs\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\",\"append\":\"%s\",\"shares\":[{\"path\":\"%s/root\"},"
		 "{\"path\":\"%s/ro\",\"readonly\":true},{\"path\":\"%s/nob\"}]}",
		 kernel, initrd, append, base, base, base);
	post_then_agent("/v1/vms", spec, 201);
	guest_reads_and_writes("1", quid, nuid);
	/* the idmapped mounts are qemu's descriptors only, in no mount table */
	td_expect_no_mount(base, " ramfs ", "running");

	/* the read-only share is read, never written */
	snprintf(line, sizeof(line), "cat %s/ro/kept && echo x > %s/ro/written", base, base);
	cr_expect_neq(guest_sh(line), 0, "a write into the read-only share succeeded");
	snprintf(p, sizeof(p), "%s/ro/written", base);
	cr_expect_neq(lstat(p, &sb), 0, "%s is on the host", p);
	snprintf(line, sizeof(line), "cat %s/ro/kept >/dev/null", base);
	cr_expect_eq(guest_sh(line), 0, "root's 0600 file in the read-only share is unreadable");

	/* no set-id file: the guest's chmod u+s and g+s both fail */
	snprintf(line, sizeof(line),
		 "cd %s/root && echo x > suid && ! chmod u+s suid && "
		 "! chmod 2755 suid",
		 base);
	cr_expect_eq(guest_sh(line), 0, "%s", line);
	td_sh_ok("! find %s -perm /6000 | grep .", base);

	/* --- a daemon restart: the adopted qemu keeps its descriptors --- */
	td_kill9(&d);
	td_restart(&d);
	json_object_put(td_wait_ip(&d, "rs", 300, &st));
	cr_assert_eq(st, 200, "the guest's agent did not answer after the restart");
	guest_reads_and_writes("2", quid, nuid);

	/* --- the stopped VM started again gets fresh idmapped mounts --- */
	json_object_put(td_http(&d, "POST", "/v1/vms/rs/stop", NULL, &st));
	cr_expect_eq(st, 200, "stop");
	post_then_agent("/v1/vms/rs/start", NULL, 200);
	guest_reads_and_writes("3", quid, nuid);
	cr_expect_eq(td_destroy(&d, "rs"), 200, "destroy");
	td_expect_no_mount(base, " ramfs ", "after the destroy");
}
