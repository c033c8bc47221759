/* API requests as another user (see as-user.h). */
#include "tests/daemon/as-user.h"

#include <criterion/criterion.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/daemon-harness.h"

/* argv run to its end, stdout into out; returns the exit status (or -1). */
static int run(char *const argv[], char *out, size_t size)
{
	int p[2], st;
	size_t n = 0;
	ssize_t r;
	pid_t c;

	cr_assert_eq(pipe(p), 0);
	c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while (n + 1 < size && (r = read(p[0], out + n, size - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(p[0]);
	while (waitpid(c, &st, 0) < 0)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

long td_as_user(const char *sock, const char *user, const char *gid, const char *groups,
		const char *method, const char *path, const char *data, char *body, size_t bsize)
{
	char url[256], reuid[64], regid[64], grp[64], out[8192], *nl;
	char *argv[32];
	int i = 0, rc;
	long code = 0;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	snprintf(regid, sizeof(regid), "--regid=%s", gid);
	argv[i++] = "setpriv";
	snprintf(reuid, sizeof(reuid), "--reuid=%s", user);
	argv[i++] = reuid;
	argv[i++] = regid;
	if (groups) {
		snprintf(grp, sizeof(grp), "--groups=%s", groups);
		argv[i++] = grp;
	} else {
		argv[i++] = "--clear-groups";
	}
	argv[i++] = "curl";
	argv[i++] = "-s";
	argv[i++] = "--max-time";
	argv[i++] = "120";
	argv[i++] = "--unix-socket";
	argv[i++] = (char *)sock;
	argv[i++] = "-X";
	argv[i++] = (char *)method;
	if (data) {
		argv[i++] = "-H";
		argv[i++] = "Content-Type: application/json";
		argv[i++] = "--data-binary";
		argv[i++] = (char *)data;
	}
	argv[i++] = "-w";
	argv[i++] = "\n%{http_code}";
	argv[i++] = url;
	argv[i] = NULL;
	rc = run(argv, out, sizeof(out));
	/* the last line is the status; curl says 000 when it never connected */
	if ((nl = strrchr(out, '\n'))) {
		*nl = '\0';
		code = strtol(nl + 1, NULL, 10);
	}
	if (body)
		snprintf(body, bsize, "%s", out);
	cr_log_info("%s(%s%s%s) %s %s -> curl %d, HTTP %ld %s", user, gid, groups ? "+" : "",
		    groups ? groups : "", method, path, rc, code, out);
	return code;
}

void td_expect_file(const char *dir, const char *rel, uid_t uid, const char *content)
{
	char path[4096], buf[256] = "";
	struct stat st;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	cr_assert_eq(lstat(path, &st), 0, "%s is not on the host", path);
	cr_expect_eq(st.st_uid, uid, "%s is owned by %u, not %u", path, (unsigned)st.st_uid,
		     (unsigned)uid);
	cr_expect_eq(st.st_mode & (S_ISUID | S_ISGID), 0, "%s is set-id: %o", path,
		     (unsigned)st.st_mode);
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	cr_expect(fgets(buf, sizeof(buf), f) && !strcmp(buf, content), "%s holds '%s'", path, buf);
	fclose(f);
}

void td_expect_no_mount(const char *needle, const char *except, const char *when)
{
	char line[1024];
	FILE *f = fopen("/proc/self/mountinfo", "r");

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		cr_expect(!strstr(line, needle) || (except && strstr(line, except)),
			  "%s: mounted: %s", when, line);
	fclose(f);
}

void td_rm_share_dir(const char *dir)
{
	char p[4096];

	snprintf(p, sizeof(p), "%s/ram", dir);
	umount2(p, MNT_DETACH);
	td_rmrf(dir);
}

void td_share_test_users(uid_t *quid, gid_t *qgid, uid_t *nuid)
{
	const struct passwd *nobody = getpwnam("nobody");

	if (geteuid() != 0 || !nobody)
		cr_skip_test("needs root and the nobody user");
	/* getpwnam's entry is static: the next lookup overwrites it */
	*nuid = nobody->pw_uid;
	if (!td_qemu_user_ids(quid, qgid))
		cr_skip_test("needs qemu_user's default user");
}

void td_share_test_dir(char *dir, size_t n, const char *prefix)
{
	snprintf(dir, n, "/tmp/%s-XXXXXX", prefix);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
	cr_assert_eq(chmod(dir, 0755), 0);
}
