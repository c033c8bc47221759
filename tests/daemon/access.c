/*
 * Who may use the API and which files a VM spec may name: real vmsupd,
 * clients run as an unprivileged user through setpriv(1) and curl(1), so
 * the kernel (socket mode, SO_PEERCRED) is what decides, not a fake.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/daemon/as-user.h"
#include "tests/lib/daemon-harness.h"

static struct tdaemon d;
static char fdir[64]; /* files for the specs, readable by some, not by others */

static void down(void)
{
	td_stop(&d);
}

static void down_files(void)
{
	td_stop(&d);
	if (fdir[0])
		td_rmrf(fdir);
}

static void need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("needs root (setpriv to nobody)");
	if (system("command -v setpriv >/dev/null && command -v curl >/dev/null") != 0)
		cr_skip_test("needs setpriv(1) and curl(1)");
}

/*
 * curl as uid nobody with gid and supplementary groups as given (groups
 * NULL: none). Returns the HTTP status, 0 if no connection was made;
 * body (if non-NULL) receives the reply body.
 */
static long as_nobody(const char *gid, const char *groups, const char *method, const char *path,
		      const char *data, char *body, size_t bsize)
{
	return td_as_user(d.sock, "nobody", gid, groups, method, path, data, body, bsize);
}

/* The test dir is 0700: let nobody reach the socket itself. */
static void open_dir(void)
{
	cr_assert_eq(chmod(d.dir, 0711), 0);
}

TestSuite(perm, .fini = down, .timeout = 300);

/* No api_group: the socket is 0660 root:root, nobody cannot even connect. */
Test(perm, nobody_refused_by_socket_mode)
{
	struct stat st;

	need_root();
	td_start(&d, NULL);
	open_dir();
	cr_assert_eq(stat(d.sock, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0660, "socket mode %o", st.st_mode & 0777);
	cr_expect_eq(as_nobody("nogroup", NULL, "GET", "/v1/version", NULL, NULL, 0), 0,
		     "nobody must not get through");
	cr_expect_eq(as_nobody("nogroup", NULL, "POST", "/v1/vms",
			       "{\"name\":\"x\",\"guest\":false}", NULL, 0),
		     0);
}

/* Socket mode opened by mistake: SO_PEERCRED still refuses with 403, and
 * nothing happens on the daemon's side. */
Test(perm, nobody_refused_by_peercred)
{
	long st;
	struct json_object *o;
	char body[4096];

	need_root();
	td_start(&d, NULL);
	open_dir();
	cr_assert_eq(chmod(d.sock, 0666), 0);
	cr_expect_eq(as_nobody("nogroup", NULL, "GET", "/v1/vms", NULL, body, sizeof(body)), 403);
	cr_expect(strstr(body, "PermissionDenied"), "body: %s", body);
	cr_expect_eq(as_nobody("nogroup", NULL, "POST", "/v1/vms",
			       "{\"name\":\"sneak\",\"guest\":false,\"accel\":\"tcg\"}", NULL, 0),
		     403);
	o = td_http(&d, "GET", "/v1/vms/sneak", NULL, &st);
	cr_expect_eq(st, 404, "the refused create left no VM behind");
	json_object_put(o);
}

/* api_group members get in: by primary group and by a supplementary group
 * only (which SO_PEERCRED alone does not carry); others still do not. */
Test(perm, api_group_members_allowed)
{
	struct stat st;
	char body[4096];

	need_root();
	td_start(&d, "api_group = nogroup");
	open_dir();
	cr_assert_eq(stat(d.sock, &st), 0);
	cr_expect_eq(st.st_gid, 65534u, "socket group %u", (unsigned)st.st_gid);
	cr_expect_eq(as_nobody("nogroup", NULL, "GET", "/v1/version", NULL, body, sizeof(body)),
		     200);
	cr_expect(strstr(body, "\"version\""), "body: %s", body);
	cr_expect_eq(as_nobody("daemon", "nogroup", "GET", "/v1/vms", NULL, NULL, 0), 200,
		     "supplementary api_group member");
	cr_expect_eq(as_nobody("daemon", NULL, "GET", "/v1/vms", NULL, NULL, 0), 0,
		     "not a member: the socket mode keeps it out");
}

/*
 * GET /v1/version from a process that connects as uid nobody, gid gid and
 * supplementary groups at_connect (n1 of them), then, before it sends the
 * request, changes its supplementary groups to at_request (n2). It keeps
 * uid 0 as its saved uid for that, so its effective uid stays nobody.
 * Returns the HTTP status, 0 if it could not connect, -1 on other errors.
 */
static long regrouped_request(gid_t gid, const gid_t *at_connect, int n1, const gid_t *at_request,
			      int n2)
{
	int p[2], st;
	long code = -1;
	pid_t c;

	cr_assert_eq(pipe(p), 0);
	c = fork();
	cr_assert_geq(c, 0);
	if (c == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		static const char rq[] = "GET /v1/version HTTP/1.0\r\nHost: localhost\r\n\r\n";
		char buf[256] = "";
		long rc = -1;
		int fd;
		ssize_t r;

		close(p[0]);
		memcpy(sa.sun_path, d.sock, strlen(d.sock) + 1);
		if (setgroups((size_t)n1, at_connect) || setresgid(gid, gid, gid) ||
		    setresuid(65534, 65534, 0))
			goto out;
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0)
			goto out;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			rc = 0;
			goto out;
		}
		/* the groups change after connect(), before the request */
		if (seteuid(0) || setgroups((size_t)n2, at_request) || seteuid(65534))
			goto out;
		if (write(fd, rq, sizeof(rq) - 1) != (ssize_t)sizeof(rq) - 1)
			goto out;
		r = read(fd, buf, sizeof(buf) - 1);
		if (r > 0) {
			buf[r] = '\0';
			if (sscanf(buf, "HTTP/1.%*d %ld", &rc) != 1)
				rc = -1;
		}
	out:
		if (write(p[1], &rc, sizeof(rc)) != (ssize_t)sizeof(rc))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &code, sizeof(code)) != (ssize_t)sizeof(code))
		code = -1;
	close(p[0]);
	while (waitpid(c, &st, 0) < 0)
		;
	return code;
}

/*
 * The api_group check goes by the groups the socket carries (SO_PEERGROUPS,
 * recorded at connect()), the same credentials the file checks use: not by
 * what /proc/PID/status shows when the request is read. A member that drops
 * the group after connecting is still let in (the connection was made as a
 * member); a non-member that takes the group on after connecting is not.
 */
Test(perm, api_group_decided_by_the_sockets_groups)
{
	struct group *g;
	gid_t nogroup, daemon_gid;

	need_root();
	cr_assert_not_null(g = getgrnam("nogroup"));
	nogroup = g->gr_gid;
	cr_assert_not_null(g = getgrnam("daemon"));
	daemon_gid = g->gr_gid;
	td_start(&d, "api_group = nogroup");
	open_dir();
	/* controls: the groups unchanged */
	cr_expect_eq(regrouped_request(daemon_gid, &nogroup, 1, &nogroup, 1), 200,
		     "supplementary member");
	cr_expect_eq(regrouped_request(daemon_gid, NULL, 0, NULL, 0), 0,
		     "non-member: the socket mode keeps it out");
	/* member at connect(), not at the request */
	cr_expect_eq(regrouped_request(daemon_gid, &nogroup, 1, NULL, 0), 200,
		     "the groups at connect() decide, not /proc at request time");
	/* the socket opened to everyone: only SO_PEERGROUPS stands in the way */
	cr_assert_eq(chmod(d.sock, 0666), 0);
	cr_expect_eq(regrouped_request(daemon_gid, NULL, 0, NULL, 0), 403, "non-member");
	cr_expect_eq(regrouped_request(daemon_gid, NULL, 0, &nogroup, 1), 403,
		     "a group taken on after connect() does not count");
}

/* ---- files named by a spec ---- */

static void mkfile(const char *name, mode_t mode, char *path, size_t size)
{
	int fd;

	snprintf(path, size, "%s/%s", fdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(write(fd, "not a kernel\n", 13), 13);
	close(fd);
	cr_assert_eq(chmod(path, mode), 0);
}

static void mksub(const char *name, mode_t mode, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", fdir, name);
	cr_assert_eq(mkdir(path, mode), 0, "%s", path);
	cr_assert_eq(chmod(path, mode), 0);
}

static void up_files(void)
{
	td_start(&d, "api_group = nogroup");
	open_dir();
	strcpy(fdir, "/tmp/vsh-f-XXXXXX");
	cr_assert_not_null(mkdtemp(fdir));
	cr_assert_eq(chmod(fdir, 0755), 0);
}

TestSuite(files, .init = up_files, .fini = down_files, .timeout = 300);

/* POST as nobody: status, and the body's error text in desc. */
static long create_as_nobody(const char *spec, char *desc, size_t size)
{
	char body[8192];
	long code = as_nobody("nogroup", NULL, "POST", "/v1/vms", spec, body, sizeof(body));
	struct json_object *o = json_tokener_parse(body);

	snprintf(desc, size, "%s", td_err_desc(o) ? td_err_desc(o) : "");
	json_object_put(o);
	return code;
}

Test(files, unreadable_kernel_refused_readable_accepted)
{
	char secret[128], pub[128], hidden_dir[128], hidden[160], spec[1024], desc[1024];
	long st;
	struct json_object *o;

	need_root();
	mkfile("secret", 0600, secret, sizeof(secret));
	mkfile("pub", 0644, pub, sizeof(pub));
	/* readable file, but in a directory nobody may not search */
	mksub("closed", 0700, hidden_dir, sizeof(hidden_dir));
	snprintf(hidden, sizeof(hidden), "%s/pub", hidden_dir);
	cr_assert_eq(link(pub, hidden), 0);

	snprintf(spec, sizeof(spec), "{\"name\":\"k1\",\"kernel\":\"%s\",\"start\":false}", secret);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403);
	cr_expect(strstr(desc, secret) && strstr(desc, "read"), "desc: %s", desc);

	snprintf(spec, sizeof(spec), "{\"name\":\"k2\",\"kernel\":\"%s\",\"start\":false}", hidden);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403, "directory search rights");
	cr_expect(strstr(desc, hidden), "desc: %s", desc);

	snprintf(spec, sizeof(spec),
		 "{\"name\":\"k3\",\"kernel\":\"%s\",\"initrd\":\"%s\",\"start\":false}", pub,
		 secret);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403, "the initrd counts too");

	snprintf(spec, sizeof(spec), "{\"name\":\"k4\",\"kernel\":\"%s\",\"start\":false}", pub);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 201, "readable: %s", desc);

	/* a template boots the caller's kernel too; a pool take binds the caller's share */
	{
		char body[8192];
		snprintf(spec, sizeof(spec), "{\"name\":\"t1\",\"kernel\":\"%s\"}", secret);
		cr_expect_eq(
		    as_nobody("nogroup", NULL, "POST", "/v1/templates", spec, body, sizeof(body)),
		    403, "template with an unreadable kernel: %s", body);
		snprintf(spec, sizeof(spec), "{\"shares\":[{\"path\":\"%s\"}]}", hidden_dir);
		cr_expect_eq(
		    as_nobody("nogroup", NULL, "POST", "/v1/pool/take", spec, body, sizeof(body)),
		    403, "pool take with a share nobody may not use: %s", body);
	}

	/* root may name anything */
	snprintf(spec, sizeof(spec), "{\"name\":\"k5\",\"kernel\":\"%s\",\"start\":false}", secret);
	o = td_http(&d, "POST", "/v1/vms", spec, &st);
	cr_expect_eq(st, 201, "root: %s", td_err_desc(o));
	json_object_put(o);

	o = td_http(&d, "GET", "/v1/vms/k1", NULL, &st);
	cr_expect_eq(st, 404, "refused specs leave no VM");
	json_object_put(o);
}

/* A persistent disk and writable shares are opened read-write: the peer
 * must be able to write them. An overlay disk is only read. */
Test(files, disk_and_shares_need_the_peers_rights)
{
	char rodisk[128], rwdisk[128], shared[128], spec[1024], desc[1024];

	need_root();
	mkfile("ro.img", 0644, rodisk, sizeof(rodisk));
	mkfile("rw.img", 0666, rwdisk, sizeof(rwdisk));
	mksub("share", 0755, shared, sizeof(shared));

	snprintf(spec, sizeof(spec),
		 "{\"name\":\"d1\",\"disk\":\"%s\",\"disk_mode\":\"persistent\",\"start\":false}",
		 rodisk);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403, "read-only disk for nobody");
	cr_expect(strstr(desc, "write"), "desc: %s", desc);
	snprintf(spec, sizeof(spec),
		 "{\"name\":\"d2\",\"disk\":\"%s\",\"disk_mode\":\"persistent\",\"start\":false}",
		 rwdisk);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 201, "%s", desc);
	snprintf(spec, sizeof(spec), "{\"name\":\"d3\",\"disk\":\"%s\",\"start\":false}", rodisk);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 201,
		     "overlay over a read-only image: %s", desc);

	snprintf(spec, sizeof(spec),
		 "{\"name\":\"s1\",\"guest\":false,\"start\":false,"
		 "\"shares\":[{\"path\":\"%s\"}]}",
		 shared);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403,
		     "writable share of root's dir");
	snprintf(spec, sizeof(spec),
		 "{\"name\":\"s2\",\"guest\":false,\"start\":false,"
		 "\"shares\":[{\"path\":\"%s\",\"readonly\":true}]}",
		 shared);
	/* read-only or not, a share is the caller's own directory or one it
	 * may write (tests/daemon/shares.c has the other rules) */
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403, "read-only share: %s", desc);
	cr_expect(strstr(desc, "neither owns it nor may write it"), "desc: %s", desc);
}

/* The disk's status object, and how many layers its chain has. */
static size_t disk_chain_len(const char *name, char *format, size_t fsize)
{
	char path[128];
	long st;
	struct json_object *o, *dk, *ch, *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	o = td_http(&d, "GET", path, NULL, &st);
	cr_assert_eq(st, 200);
	cr_assert(json_object_object_get_ex(o, "disk", &dk) && dk, "no disk in the status");
	cr_assert(json_object_object_get_ex(dk, "chain", &ch));
	n = json_object_array_length(ch);
	cr_assert(json_object_object_get_ex(dk, "format", &f));
	snprintf(format, fsize, "%s", json_object_get_string(f));
	json_object_put(o);
	return n;
}

/*
 * A qcow2 header may name any host file as its backing file: the chain is
 * read and opened as the caller, so one the caller cannot read is refused
 * (403, naming it), and a raw image the caller says is raw is never probed
 * as qcow2 (its header then names nothing qemu will open).
 */
Test(files, disk_backing_chain_checked_as_the_caller)
{
	char pub[128], hidden_dir[128], good[160], evil[160], evil2[160], trick[160];
	char data[160], dfile[160], spec[1024], desc[1024], fmt[16];

	need_root();
	mkfile("pub", 0644, pub, sizeof(pub));
	mksub("closed", 0700, hidden_dir, sizeof(hidden_dir));
	snprintf(good, sizeof(good), "%s/good.qcow2", fdir);
	snprintf(evil, sizeof(evil), "%s/evil.qcow2", fdir);
	snprintf(evil2, sizeof(evil2), "%s/evil2.qcow2", fdir);
	snprintf(trick, sizeof(trick), "%s/trick.raw", fdir);
	snprintf(data, sizeof(data), "%s/data.qcow2", fdir);
	snprintf(dfile, sizeof(dfile), "%s/data.bin", fdir);
	td_sh_ok("qemu-img create -q -f qcow2 -u -F raw -b '%s' '%s' 1M", pub, good);
	td_sh_ok("qemu-img create -q -f qcow2 -u -F raw -b /etc/shadow '%s' 1M", evil);
	td_sh_ok("cp '%s' '%s/pub'", pub, hidden_dir);
	{
		char hid[200];
		snprintf(hid, sizeof(hid), "%s/pub", hidden_dir);
		td_sh_ok("qemu-img create -q -f qcow2 -u -F raw -b '%s' '%s' 1M", hid, evil2);
	}
	td_sh_ok("cp '%s' '%s'", evil, trick);
	td_sh_ok("qemu-img create -q -f qcow2 -o data_file='%s' '%s' 1M", dfile, data);
	td_sh_ok("chmod 0644 '%s' '%s'", good, evil);
	td_sh_ok("chmod 0644 '%s' '%s'", evil2, trick);
	td_sh_ok("chmod 0644 '%s' '%s'", data, dfile);

	snprintf(spec, sizeof(spec), "{\"name\":\"c1\",\"disk\":\"%s\",\"start\":false}", good);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 201, "readable chain: %s", desc);
	cr_expect_eq(disk_chain_len("c1", fmt, sizeof(fmt)), 2);
	cr_expect_str_eq(fmt, "qcow2");

	snprintf(spec, sizeof(spec), "{\"name\":\"c2\",\"disk\":\"%s\",\"start\":false}", evil);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403, "backing /etc/shadow: %s",
		     desc);
	cr_expect(strstr(desc, "/etc/shadow"), "the refusal names the backing file: %s", desc);

	snprintf(spec, sizeof(spec), "{\"name\":\"c3\",\"disk\":\"%s\",\"start\":false}", evil2);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403,
		     "backing file in a directory nobody cannot search: %s", desc);

	snprintf(spec, sizeof(spec), "{\"name\":\"c4\",\"disk\":\"%s\",\"start\":false}", trick);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 403, "probed as qcow2: %s", desc);
	snprintf(spec, sizeof(spec),
		 "{\"name\":\"c5\",\"disk\":\"%s\",\"disk_format\":\"raw\",\"start\":false}",
		 trick);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 201, "named raw: %s", desc);
	cr_expect_eq(disk_chain_len("c5", fmt, sizeof(fmt)), 1, "a raw image has no backing");
	cr_expect_str_eq(fmt, "raw");

	snprintf(spec, sizeof(spec), "{\"name\":\"c6\",\"disk\":\"%s\",\"start\":false}", data);
	cr_expect_eq(create_as_nobody(spec, desc, sizeof(desc)), 400, "external data file: %s",
		     desc);
	cr_expect(strstr(desc, "data file"), "desc: %s", desc);
}
