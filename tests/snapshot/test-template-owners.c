/*
 * Templates have owners (issue 19): a template is the uid's that made it
 * (meta.json "owner"); root and admin_group act on any, anyone else sees,
 * restores from and deletes only its own: another user's template is 404
 * on every route, as a VM would be, and left out of the list. One template
 * made by root (the test guest, TCG); a copy of it given to uid 61919 stands
 * for a template that user made. Clients through setpriv + curl.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/daemon/as-user.h"
#include "tests/snapshot/template-util.h"

static struct tdaemon d;

static void teardown(void)
{
	tt_stop(&d);
}

static long as(const char *uid, const char *method, const char *path, const char *data, char *body,
	       size_t size)
{
	return td_as_user(d.sock, uid, "nogroup", NULL, method, path, data, body, size);
}

TestSuite(template_owners, .fini = teardown, .timeout = 600);

Test(template_owners, another_users_template_is_not_there)
{
	char src[600], dst[600], path[700], body[16384];
	struct json_object *r, *m;
	char *spec;
	long st;

	if (geteuid() != 0)
		cr_skip_test("needs root (setpriv to uid 61919 and 61920)");
	if (system("command -v setpriv >/dev/null && command -v curl >/dev/null") != 0)
		cr_skip_test("needs setpriv(1) and curl(1)");
	tt_start_conf(&d, "api_group = nogroup\n");
	cr_assert_eq(chmod(d.dir, 0711), 0);
	spec = tt_spec("roots", 128);
	r = td_http(&d, "POST", "/v1/templates", spec, &st);
	free(spec);
	cr_assert_eq(st, 201, "template: %ld %s", st, r ? td_err_desc(r) : "");
	cr_expect_eq(td_int(r, "owner"), 0, "root made it");
	json_object_put(r);
	/* uid 61919's template: root's, copied, with its owner changed */
	snprintf(src, sizeof(src), "%s/state/templates/roots", d.dir);
	snprintf(dst, sizeof(dst), "%s/state/templates/theirs", d.dir);
	td_sh_ok("cp -r '%s' '%s'", src, dst);
	snprintf(path, sizeof(path), "%s/meta.json", dst);
	cr_assert_not_null(m = json_object_from_file(path));
	json_object_object_add(m, "name", json_object_new_string("theirs"));
	json_object_object_add(m, "owner", json_object_new_int(61919));
	cr_assert_eq(json_object_to_file(path, m), 0);
	json_object_put(m);

	/* root sees both, with their owners */
	r = td_http(&d, "GET", "/v1/templates/theirs", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect_eq(td_int(r, "owner"), 61919);
	json_object_put(r);

	/* the owner: its own only */
	cr_expect_eq(as("61919", "GET", "/v1/templates", NULL, body, sizeof(body)), 200);
	cr_expect(strstr(body, "\"theirs\"") && !strstr(body, "roots"), "own only: %s", body);
	cr_expect_eq(as("61919", "GET", "/v1/templates/theirs", NULL, body, sizeof(body)), 200);
	/* another user: not there, on every route */
	cr_expect_eq(as("61920", "GET", "/v1/templates", NULL, body, sizeof(body)), 200);
	cr_expect(!strstr(body, "theirs") && !strstr(body, "roots"), "none listed: %s", body);
	cr_expect_eq(as("61920", "GET", "/v1/templates/theirs", NULL, body, sizeof(body)), 404);
	cr_expect(strstr(body, "NotFound"), "%s", body);
	cr_expect_eq(as("61920", "POST", "/v1/templates/theirs/verify", NULL, body, sizeof(body)),
		     404);
	cr_expect_eq(as("61920", "DELETE", "/v1/templates/theirs", NULL, body, sizeof(body)), 404);
	cr_expect_eq(as("61920", "POST", "/v1/vms", "{\"name\":\"c1\",\"from\":\"theirs\"}", body,
			sizeof(body)),
		     404, "restore from another user's template: %s", body);
	cr_expect(strstr(body, "no template named 'theirs'"), "%s", body);
	cr_expect_eq(as("61919", "POST", "/v1/vms", "{\"name\":\"c2\",\"from\":\"roots\"}", body,
			sizeof(body)),
		     404, "nor root's: %s", body);
	r = td_http(&d, "GET", "/v1/vms/c1", NULL, &st);
	cr_expect_eq(st, 404, "refused restores leave no VM");
	json_object_put(r);
	cr_expect(access(dst, F_OK) == 0, "the template is still there");

	/* the owner restores from it and deletes it */
	cr_expect_eq(as("61919", "POST", "/v1/vms", "{\"name\":\"c3\",\"from\":\"theirs\"}", body,
			sizeof(body)),
		     201, "the owner restores: %s", body);
	cr_expect(strstr(body, "\"owner\":61919"), "the clone is the owner's: %s", body);
	cr_expect_eq(as("61919", "DELETE", "/v1/vms/c3?force=1", NULL, body, sizeof(body)), 200,
		     "%s", body);
	cr_expect_eq(as("61919", "DELETE", "/v1/templates/theirs", NULL, body, sizeof(body)), 200,
		     "the owner deletes: %s", body);
	cr_expect(access(dst, F_OK) != 0, "gone");
}
