/* src/util/peer.c on its own: the access check as another user, user names. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/util/peer.h"
#include "src/util/share.h"

static char tmp[64];

static void up(void)
{
	strcpy(tmp, "/tmp/vsh-u-XXXXXX");
	cr_assert_not_null(mkdtemp(tmp));
	cr_assert_eq(chmod(tmp, 0755), 0);
}

static void down(void)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/f", tmp);
	unlink(p);
	rmdir(tmp);
}

TestSuite(peer, .init = up, .fini = down, .timeout = 60);

Test(peer, access_as_another_user)
{
	struct vmsup_peer nobody = {.uid = 65534, .gid = 65534, .ngroups = 0};
	struct vmsup_peer root = {.uid = 0, .gid = 0};
	char f[128], missing[128], *err = NULL;
	const char *paths[1];
	int modes[1] = {R_OK}, fd;

	if (geteuid() != 0)
		cr_skip_test("needs root to act as nobody");
	snprintf(f, sizeof(f), "%s/f", tmp);
	fd = open(f, O_WRONLY | O_CREAT, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	paths[0] = f;
	cr_expect_eq(vmsup_peer_access(&nobody, paths, modes, 1, &err), 1);
	cr_expect(err && strstr(err, f) && strstr(err, "uid 65534 cannot read"), "%s", err);
	free(err);
	err = NULL;
	cr_expect_eq(vmsup_peer_access(&root, paths, modes, 1, &err), 0, "root is not checked");

	/* the group bit counts for a member only */
	cr_assert_eq(chown(f, 0, 4242), 0);
	cr_assert_eq(chmod(f, 0640), 0);
	cr_expect_eq(vmsup_peer_access(&nobody, paths, modes, 1, NULL), 1);
	nobody.groups[0] = 4242;
	nobody.ngroups = 1;
	cr_expect(vmsup_peer_in_group(&nobody, 4242));
	cr_expect_eq(vmsup_peer_access(&nobody, paths, modes, 1, NULL), 0, "supplementary group");
	modes[0] = R_OK | W_OK;
	cr_expect_eq(vmsup_peer_access(&nobody, paths, modes, 1, NULL), 1, "no group write bit");

	/* a path that is not there is for the spec check to report */
	snprintf(missing, sizeof(missing), "%s/none", tmp);
	paths[0] = missing;
	cr_expect_eq(vmsup_peer_access(&nobody, paths, modes, 1, NULL), 0);
}

Test(peer, spec_fields)
{
	struct vmsup_peer nobody = {.uid = 65534, .gid = 65534};
	char f[128], json[512], *err = NULL;
	struct json_object *spec;
	int fd;

	if (geteuid() != 0)
		cr_skip_test("needs root to act as nobody");
	snprintf(f, sizeof(f), "%s/f", tmp);
	fd = open(f, O_WRONLY | O_CREAT, 0644);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(chmod(f, 0644), 0);
	snprintf(json, sizeof(json),
		 "{\"kernel\":\"%s\",\"shares\":[{\"path\":\"%s\",\"readonly\":true}]}", f, tmp);
	spec = json_tokener_parse(json);
	cr_expect_eq(vmsup_peer_check_spec(&nobody, spec, &err), 0, "%s", err);
	json_object_put(spec);
	/* an overlay takes a VM's writes: reading the image is enough */
	snprintf(json, sizeof(json), "{\"disk\":\"%s\"}", f);
	spec = json_tokener_parse(json);
	cr_expect_eq(vmsup_peer_check_spec(&nobody, spec, &err), 0, "%s", err);
	json_object_put(spec);
	/* a persistent disk is written in place */
	snprintf(json, sizeof(json), "{\"disk\":\"%s\",\"disk_mode\":\"persistent\"}", f);
	spec = json_tokener_parse(json);
	cr_expect_eq(vmsup_peer_check_spec(&nobody, spec, &err), 1, "disk needs write");
	cr_expect(err && strstr(err, "read and write"), "%s", err);
	free(err);
	err = NULL;
	json_object_put(spec);
	/* and so is a persistent data disk */
	snprintf(json, sizeof(json), "{\"disks\":[{\"path\":\"%s\",\"mode\":\"persistent\"}]}", f);
	spec = json_tokener_parse(json);
	cr_expect_eq(vmsup_peer_check_spec(&nobody, spec, &err), 1, "data disk needs write");
	cr_expect(err && strstr(err, "read and write"), "%s", err);
	free(err);
	json_object_put(spec);
	/* wrong types are the spec validator's to refuse */
	spec = json_tokener_parse("{\"kernel\":7,\"shares\":\"x\"}");
	cr_expect_eq(vmsup_peer_check_spec(&nobody, spec, NULL), 0);
	json_object_put(spec);
}

Test(peer, user_resolve)
{
	uid_t u;
	gid_t g;
	char *err = NULL;

	cr_expect_eq(vmsup_user_resolve("nobody", &u, &g, NULL), 0);
	cr_expect_eq(u, 65534u);
	cr_expect_eq(vmsup_user_resolve("65534:100", &u, &g, NULL), 0);
	cr_expect(u == 65534 && g == 100);
	cr_expect_eq(vmsup_user_resolve("0", &u, &g, NULL), 0);
	cr_expect(u == 0 && g == 0);
	cr_expect_eq(vmsup_user_resolve("no-such-user-vmsup", &u, &g, &err), -1);
	cr_expect(err && strstr(err, "no such user"), "%s", err);
	free(err);
	cr_expect_eq(vmsup_user_resolve("12:x", &u, &g, NULL), -1);
	cr_expect_eq(vmsup_user_resolve("", &u, &g, NULL), -1);
}

/* The API's group decision reads only the struct (the socket's credentials). */
Test(peer, api_allowed)
{
	struct vmsup_peer p = {
	    .pid = 1, .uid = 4242, .gid = 100, .ngroups = 2, .groups = {7, 4243}};
	struct vmsup_peer root = {.uid = 0, .gid = 0};
	struct vmsup_peer self = {.uid = geteuid(), .gid = 4244};

	cr_expect(vmsup_peer_api_allowed(&p, 100), "primary group");
	cr_expect(vmsup_peer_api_allowed(&p, 4243), "supplementary group");
	cr_expect_not(vmsup_peer_api_allowed(&p, 4244), "not a member");
	cr_expect_not(vmsup_peer_api_allowed(&p, (gid_t)-1), "no api group: members of nothing");
	cr_expect(vmsup_peer_api_allowed(&root, (gid_t)-1), "root");
	cr_expect(vmsup_peer_api_allowed(&self, (gid_t)-1), "the daemon's own uid");
}

/* Where a share may be (src/util/share.h), on resolved paths. */
Test(peer, share_rules)
{
	char *roots[] = {"/srv", "/var/lib/mesos"};
	struct vmsup_share_rules none = {.private_dirs = {"/var/lib/vmsupd", "/run/vmsupd"}};
	struct vmsup_share_rules some = {roots, 2, {"/var/lib/vmsupd", "/run/vmsupd"}};
	char buf[512];
	const char *why;

	cr_expect_str_eq(vmsup_share_rule("/", &none, buf, sizeof(buf)), "/ is a system directory");
	cr_expect_str_eq(vmsup_share_rule("/tmp", &none, buf, sizeof(buf)),
			 "/tmp is a system directory");
	cr_expect_str_eq(vmsup_share_rule("/etc/ssh", &none, buf, sizeof(buf)),
			 "it is in the system directory /etc");
	cr_expect_str_eq(vmsup_share_rule("/var/lib", &none, buf, sizeof(buf)),
			 "it contains vmsupd's own directory /var/lib/vmsupd");
	cr_expect_str_eq(vmsup_share_rule("/run/vmsupd/vm/a", &none, buf, sizeof(buf)),
			 "it is in vmsupd's own directory /run/vmsupd");
	/* a prefix is not a parent */
	cr_expect_null(vmsup_share_rule("/etcetera", &none, buf, sizeof(buf)));
	cr_expect_null(vmsup_share_rule("/tmp/job", &none, buf, sizeof(buf)));
	cr_expect_null(vmsup_share_rule("/var/lib/mesos/slaves/x", &none, buf, sizeof(buf)));
	cr_expect_null(vmsup_share_rule("/srv/a", &some, buf, sizeof(buf)));
	cr_expect_null(vmsup_share_rule("/var/lib/mesos", &some, buf, sizeof(buf)));
	why = vmsup_share_rule("/tmp/job", &some, buf, sizeof(buf));
	cr_expect(why && strstr(why, "outside share_roots (/srv ...)"), "%s", why);
	cr_expect_not_null(vmsup_share_rule("/srvx", &some, buf, sizeof(buf)));
}
