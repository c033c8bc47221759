/*
 * Shares, kernel and initrd as the caller (issue 19): a share must be a
 * directory the caller owns or may write, never "/", a system directory
 * or vmsupd's own, and inside share_roots; each is opened once, as the
 * caller, with no symbolic link followed, and qemu gets that descriptor
 * (/proc/self/fd/N), never the path. Real vmsupd and qemu (guest-less);
 * the caller is uid 61919, a user no other process runs as, through
 * setpriv + curl, so SO_PEERCRED and the kernel decide.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/daemon/as-user.h"
#include "tests/lib/daemon-harness.h"

#define UID  "61919"
#define NUID 61919

static struct tdaemon d;
static char base[64]; /* base/in is share_roots; base/out is not */

static void down(void)
{
	td_stop(&d);
	if (base[0])
		td_rmrf(base);
}

static void path_of(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", base, rel);
}

static void mkdir_as(const char *rel, mode_t mode, uid_t uid)
{
	char p[PATH_MAX];

	path_of(p, sizeof(p), rel);
	cr_assert_eq(mkdir(p, mode), 0, "mkdir %s", p);
	cr_assert_eq(chown(p, uid, 65534), 0);
	cr_assert_eq(chmod(p, mode), 0);
}

static void up(void)
{
	char conf[256];

	if (geteuid() != 0)
		cr_skip_test("needs root (setpriv to uid " UID ")");
	if (system("command -v setpriv >/dev/null && command -v curl >/dev/null") != 0)
		cr_skip_test("needs setpriv(1) and curl(1)");
	snprintf(base, sizeof(base), "/tmp/vmsup-shares-XXXXXX");
	cr_assert_not_null(mkdtemp(base));
	cr_assert_eq(chmod(base, 0755), 0);
	mkdir_as("in", 0755, 0);
	mkdir_as("in/mine", 0700, NUID); /* the caller's own */
	mkdir_as("in/open", 0777, 0);	 /* root's, but the caller may write it */
	mkdir_as("in/roots", 0755, 0);	 /* root's, read-only to the caller */
	mkdir_as("in/secret", 0700, 0);	 /* root's alone */
	mkdir_as("out", 0700, NUID);	 /* the caller's, outside share_roots */
	td_sh_ok("ln -s mine %s/in/link && echo root-only > %s/in/secret/key && "
		 "chmod 600 %s/in/secret/key",
		 base, base, base);
	snprintf(conf, sizeof(conf), "api_group = nogroup\nshare_roots = %s/in\n", base);
	td_start(&d, conf);
	cr_assert_eq(chmod(d.dir, 0711), 0);
}

static long create_as(const char *spec, char *body, size_t size)
{
	return td_as_user(d.sock, UID, "nogroup", NULL, "POST", "/v1/vms", spec, body, size);
}

static long share_as(bool root, const char *name, const char *dir, char *body, size_t size)
{
	char spec[PATH_MAX + 256];
	struct json_object *o;
	long st;

	snprintf(spec, sizeof(spec),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,"
		 "\"shares\":[{\"path\":\"%s\"}]}",
		 name, dir);
	if (!root)
		return create_as(spec, body, size);
	o = td_http(&d, "POST", "/v1/vms", spec, &st);
	snprintf(body, size, "%s",
		 o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE) : "");
	json_object_put(o);
	return st;
}

static bool vm_exists(const char *name)
{
	char path[128];
	struct json_object *o;
	long st;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	o = td_http(&d, "GET", path, NULL, &st);
	json_object_put(o);
	return st == 200;
}

/* Does qemu hold a descriptor on target (ls -l /proc/PID/fd)? */
static bool holds(pid_t pid, const char *target)
{
	char dir[64], p[PATH_MAX], l[PATH_MAX];
	struct dirent *e;
	bool found = false;
	DIR *fds;
	ssize_t n;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	cr_assert_not_null(fds = opendir(dir));
	while (!found && (e = readdir(fds))) {
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if ((n = readlink(p, l, sizeof(l) - 1)) > 0) {
			l[n] = '\0';
			found = !strcmp(l, target);
		}
	}
	closedir(fds);
	return found;
}

TestSuite(shares, .fini = down, .timeout = 300);

/* POST /v1/pool/take with a share of dir, as the caller: status want,
 * the body naming why (unless NULL). */
static void expect_take_refused(const char *dir, long want, const char *why)
{
	char spec[PATH_MAX + 64], body[8192];

	snprintf(spec, sizeof(spec), "{\"shares\":[{\"path\":\"%s\"}]}", dir);
	cr_expect_eq(td_as_user(d.sock, UID, "nogroup", NULL, "POST", "/v1/pool/take", spec, body,
				sizeof(body)),
		     want, "take with %s: %s", dir, body);
	cr_expect(!why || strstr(body, why), "take with %s: wants '%s': %s", dir, why, body);
}

Test(shares, refused_by_rule_with_the_rule_named)
{
	static const struct {
		const char *dir, *rule;
		bool rel, root;
	} refused[] = {
	    {"/", "system directory", false, false},
	    {"/tmp", "system directory", false, false},
	    {"/etc", "system directory", false, false},
	    {"/usr/share", "system directory /usr", false, false},
	    {"out", "outside share_roots", true, false},
	    {"in/roots", "neither owns it nor may write it", true, false},
	    {"in/secret", "may not read and search", true, false},
	    {"in/link", "symbolic link", true, false},
	    {"in/link/../mine", "symbolic link", true, false},
	    /* root is held to the system directories and share_roots too */
	    {"/", "system directory", false, true},
	    {"/etc", "system directory", false, true},
	    {"out", "outside share_roots", true, true},
	};
	char body[8192], dir[PATH_MAX];

	up();
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (refused[i].rel)
			path_of(dir, sizeof(dir), refused[i].dir);
		else
			snprintf(dir, sizeof(dir), "%s", refused[i].dir);
		cr_expect_eq(share_as(refused[i].root, "refused", dir, body, sizeof(body)), 403,
			     "%s share of %s: %s", refused[i].root ? "root's" : "the caller's", dir,
			     body);
		cr_expect(strstr(body, "PermissionDenied") && strstr(body, refused[i].rule),
			  "%s: wants '%s': %s", dir, refused[i].rule, body);
		cr_expect(strstr(body, refused[i].rel ? base : refused[i].dir), "names %s: %s", dir,
			  body);
		cr_expect_not(vm_exists("refused"), "a refusal creates nothing (%s)", dir);
	}
	/* a pool take's share is held to the same rules (checked before the
	 * pool is looked at: none is configured here) */
	expect_take_refused("/etc", 403, "system directory");
	path_of(dir, sizeof(dir), "in/link");
	expect_take_refused(dir, 403, "symbolic link");
	expect_take_refused("/nonexistent-dir", 400, NULL);
	/* the caller's own directory passes (the take idmaps it to the pool
	 * qemu's user): what answers is the missing pool */
	path_of(dir, sizeof(dir), "in/mine");
	expect_take_refused(dir, 404, "no warm pool");
}

Test(shares, qemu_gets_the_directory_the_caller_opened)
{
	char body[8192], dir[PATH_MAX], line[8192];
	pid_t pid;

	up();
	path_of(dir, sizeof(dir), "in/mine");
	cr_assert_eq(share_as(false, "mine", dir, body, sizeof(body)), 201, "%s", body);
	path_of(dir, sizeof(dir), "in/open");
	cr_expect_eq(share_as(false, "open", dir, body, sizeof(body)), 201,
		     "a directory the caller may write: %s", body);

	pid = td_vm_pid(&d, "mine");
	cr_assert_gt(pid, 0);
	td_cmdline(pid, line, sizeof(line));
	cr_expect(strstr(line, "local,path=/proc/self/fd/"), "qemu gets a descriptor: %s", line);
	cr_expect_not(strstr(line, base), "never the path: %s", line);
	path_of(dir, sizeof(dir), "in/mine");
	cr_expect(holds(pid, dir), "qemu holds %s", dir);

	/* the path swapped for a symlink to root's directory after the
	 * create: a restart of the VM still gets the directory checked */
	td_sh_ok("mv %s/in/mine %s/in/mine.old && ln -s secret %s/in/mine", base, base, base);
	{
		struct json_object *o;
		long st;
		o = td_http(&d, "POST", "/v1/vms/mine/kill", NULL, &st);
		json_object_put(o);
		cr_expect_eq(st, 200, "kill");
		for (int i = 0; i < 100 && td_pid_is_qemu(pid); i++)
			usleep(50 * 1000);
		o = td_http(&d, "POST", "/v1/vms/mine/start", NULL, &st);
		cr_expect_eq(st, 200, "start again: %s", o ? json_object_to_json_string(o) : "");
		json_object_put(o);
	}
	pid = td_vm_pid(&d, "mine");
	path_of(dir, sizeof(dir), "in/mine.old");
	cr_expect(pid > 0 && holds(pid, dir), "the restarted qemu holds %s", dir);
	path_of(dir, sizeof(dir), "in/secret");
	cr_expect(pid > 0 && !holds(pid, dir), "and never %s", dir);
}

/*
 * The kernel is opened once as the caller: a symlink flipped between a
 * kernel the caller may read and a root-only file while it creates VMs
 * never gives one of them the root-only file, and qemu gets the opened
 * file, not the name.
 */
Test(shares, kernel_race_never_reaches_roots_file)
{
	char body[8192], spec[PATH_MAX + 256], path[128], line[8192], pub[PATH_MAX];
	struct stat pubst, secst;
	int created = 0, refused = 0;
	pid_t flipper, pid;

	up();
	/* any readable file will do as a "kernel": the VMs are not started */
	td_sh_ok("head -c 4096 /dev/urandom > %s/in/pub && chmod 644 %s/in/pub && "
		 "head -c 4096 /dev/urandom > %s/in/secret.bin && chmod 600 %s/in/secret.bin",
		 base, base, base, base);
	path_of(pub, sizeof(pub), "in/pub");
	cr_assert_eq(stat(pub, &pubst), 0);
	path_of(path, sizeof(path), "in/secret.bin");
	cr_assert_eq(stat(path, &secst), 0);
	flipper = fork();
	cr_assert_geq(flipper, 0);
	if (flipper == 0) {
		char a[PATH_MAX], b[PATH_MAX], t[PATH_MAX];
		path_of(a, sizeof(a), "in/pub");
		path_of(b, sizeof(b), "in/secret.bin");
		path_of(t, sizeof(t), "in/k.tmp");
		path_of(spec, sizeof(spec), "in/k");
		for (unsigned i = 0;; i++) {
			unlink(t);
			if (symlink(i & 1 ? b : a, t) == 0)
				rename(t, spec);
		}
	}
	for (int i = 0; i < 40; i++) {
		snprintf(spec, sizeof(spec),
			 "{\"name\":\"k%d\",\"accel\":\"tcg\",\"mem_mib\":64,\"start\":false,"
			 "\"kernel\":\"%s/in/k\"}",
			 i, base);
		long st = create_as(spec, body, sizeof(body));
		if (st == 201) {
			struct json_object *o = json_tokener_parse(body), *f, *k;
			created++;
			cr_assert(o && json_object_object_get_ex(o, "files", &f) &&
				      json_object_object_get_ex(f, "kernel", &k),
				  "the status names the kernel opened: %s", body);
			cr_expect_eq(td_int(k, "ino"), (long long)pubst.st_ino,
				     "k%d: the kernel qemu would get is the readable one", i);
			json_object_put(o);
		} else {
			cr_expect_eq(st, 403, "k%d: %s", i, body);
			refused++;
		}
	}
	kill(flipper, SIGKILL);
	waitpid(flipper, NULL, 0);
	cr_log_info("kernel race: %d created on the readable file, %d refused, 0 on root's",
		    created, refused);
	cr_expect_gt(refused, 0, "the flip was seen as root's file sometimes");

	/* qemu is handed the descriptor, not the name: a real kernel, so
	 * qemu loads it and runs */
	if (!getenv("VMSUP_GUEST_DIR")) {
		cr_log_warn("no VMSUP_GUEST_DIR: qemu's -kernel descriptor not checked");
		return;
	}
	td_sh_ok("cp %s/vmlinuz %s/in/vmlinuz && chmod 644 %s/in/vmlinuz",
		 getenv("VMSUP_GUEST_DIR"), base, base);
	snprintf(spec, sizeof(spec),
		 "{\"name\":\"kp\",\"accel\":\"tcg\",\"mem_mib\":64,"
		 "\"kernel\":\"%s/in/vmlinuz\"}",
		 base);
	cr_assert_eq(create_as(spec, body, sizeof(body)), 201, "%s", body);
	pid = td_vm_pid(&d, "kp");
	cr_assert_gt(pid, 0);
	td_cmdline(pid, line, sizeof(line));
	cr_expect(strstr(line, "-kernel /proc/self/fd/"), "qemu gets a descriptor: %s", line);
	path_of(pub, sizeof(pub), "in/vmlinuz");
	cr_expect(holds(pid, pub), "qemu holds %s", pub);
}

static long post(const char *path, char *body, size_t size)
{
	struct json_object *o;
	long st;

	o = td_http(&d, "POST", path, NULL, &st);
	snprintf(body, size, "%s",
		 o ? json_object_to_json_string_ext(o, JSON_C_TO_STRING_NOSLASHESCAPE) : "");
	json_object_put(o);
	return st;
}

/*
 * A daemon restart loses the descriptors: the next start opens the share
 * again by path, as the daemon, and only if it is still the directory the
 * caller's check opened (the state file keeps its device and inode).
 */
Test(shares, after_a_restart_only_the_same_directory)
{
	char body[8192], dir[PATH_MAX];
	pid_t pid;

	up();
	path_of(dir, sizeof(dir), "in/mine");
	cr_assert_eq(share_as(false, "mine", dir, body, sizeof(body)), 201, "%s", body);
	td_kill9(&d);
	td_restart(&d);
	pid = td_vm_pid(&d, "mine");
	cr_expect_eq(post("/v1/vms/mine/kill", body, sizeof(body)), 200, "%s", body);
	for (int i = 0; i < 100 && td_pid_is_qemu(pid); i++)
		usleep(50 * 1000);
	cr_expect_eq(post("/v1/vms/mine/start", body, sizeof(body)), 200, "same dir: %s", body);
	pid = td_vm_pid(&d, "mine");
	cr_expect(pid > 0 && holds(pid, dir), "qemu holds %s", dir);
	cr_expect_eq(post("/v1/vms/mine/kill", body, sizeof(body)), 200, "%s", body);
	/* another directory under the same name */
	td_sh_ok("mv %s/in/mine %s/in/mine.old && mkdir %s/in/mine && chown " UID " %s/in/mine",
		 base, base, base, base);
	td_kill9(&d);
	td_restart(&d);
	post("/v1/vms/mine/start", body, sizeof(body));
	cr_expect(strstr(body, "no longer the directory checked"), "refused: %s", body);
}

/* The Uid: line of /proc/PID/status: real, effective, saved, fs. */
static void uids_of(pid_t pid, char *buf, size_t size)
{
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	buf[0] = '\0';
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Uid:", 4))
			snprintf(buf, size, "%.120s", line + 4);
	fclose(f);
}

/*
 * The guest is root in its own world only: qemu serves a user's share
 * (9p, security_model=none) as that user, so what the guest makes there
 * belongs to the user on the host, never to root; and qemu's seccomp
 * filter (src/qemu/nosuid-filter.h) refuses the guest's chmod u+s.
 */
Test(shares, the_guest_writes_as_the_caller)
{
	char kernel[PATH_MAX], initrd[PATH_MAX], append[512] = "", k[PATH_MAX], i[PATH_MAX];
	char dir[PATH_MAX], spec[4 * PATH_MAX], body[8192], uids[160], made[PATH_MAX + 16];
	struct json_object *o;
	struct stat sb;
	pid_t pid;
	long st;

	up();
	if (!td_guest_files(kernel, initrd, sizeof(kernel)))
		cr_skip_test("no test guest at %s (scripts/mkguest.sh builds it)", kernel);
	td_guest_append(td_guest_dir(), append, sizeof(append));
	/* the caller's copies: it must be able to read what it names */
	path_of(k, sizeof(k), "in/mine/vmlinuz");
	path_of(i, sizeof(i), "in/mine/initrd.img");
	td_sh_ok("cp '%s' '%s' && cp '%s' '%s' && chown " UID " '%s' '%s'", kernel, k, initrd, i, k,
		 i);
	path_of(dir, sizeof(dir), "in/mine");
	snprintf(spec, sizeof(spec),
		 "{\"name\":\"gw\",\"accel\":\"tcg\",\"mem_mib\":256,\"kernel\":\"%s\","
		 "\"initrd\":\"%s\",\"append\":\"%s\",\"shares\":[{\"path\":\"%s\"}]}",
		 k, i, append, dir);
	cr_assert_eq(create_as(spec, body, sizeof(body)), 201, "%s", body);
	pid = td_vm_pid(&d, "gw");
	cr_assert_gt(pid, 0);
	uids_of(pid, uids, sizeof(uids));
	cr_expect(strstr(uids, UID) && !strstr(uids, "\t0"), "qemu runs as %s", uids);
	json_object_put(td_wait_ip(&d, "gw", 300, &st));
	cr_assert_eq(st, 200, "the guest's agent did not answer");
	snprintf(spec, sizeof(spec),
		 "{\"argv\":[\"sh\",\"-c\",\"cd %s && echo x >made && chmod 4755 made\"]}", dir);
	o = td_http(&d, "POST", "/v1/vms/gw/exec", spec, &st);
	/* the file is made, the chmod refused */
	cr_expect(st == 200 && td_int(o, "exitcode") == 1, "exec: %ld %s", st,
		  o ? json_object_to_json_string(o) : "");
	json_object_put(o);
	snprintf(made, sizeof(made), "%s/made", dir);
	cr_assert_eq(stat(made, &sb), 0, "%s", made);
	cr_expect_eq(sb.st_uid, NUID, "the guest's file is uid %u's on the host", sb.st_uid);
	cr_expect_eq(sb.st_mode & (S_ISUID | S_ISGID), 0, "a set-id file from the guest: %o",
		     (unsigned)sb.st_mode);
}
