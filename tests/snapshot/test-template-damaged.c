/*
 * A damaged template is refused, not restored (issue 18): a byte flipped
 * in its RAM or state file, a truncated RAM file. The restore answers 409
 * TemplateDamaged naming the file before any qemu runs; `vmctl template
 * verify` says the same and exits 1; a warm pool whose template is found
 * damaged at daemon start-up stops filling, says so in GET /v1/pool, does
 * not retry in a loop, and fills again once the template verifies.
 * Real daemon, test guest, TCG.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/snapshot/template-util.h"

static struct tdaemon d;

static void teardown(void)
{
	tt_stop(&d);
}

static void make_template(const char *name, int mib)
{
	char *spec = tt_spec(name, mib);
	struct json_object *r;
	long st;

	r = td_http(&d, "POST", "/v1/templates", spec, &st);
	free(spec);
	cr_assert_eq(st, 201, "template: %ld %s", st, r ? td_err_desc(r) : "");
	cr_expect(td_str(r, "state_sha256") && strlen(td_str(r, "state_sha256")) == 64);
	cr_expect(td_str(r, "ram_sha256") && strlen(td_str(r, "ram_sha256")) == 64);
	json_object_put(r);
}

/* A copy of template t as `name` (meta.json renamed). */
static void copy_template(const char *name)
{
	char path[700], dst[600];
	struct json_object *m;

	snprintf(path, sizeof(path), "%s/state/templates/t", d.dir);
	snprintf(dst, sizeof(dst), "%s/state/templates/%s", d.dir, name);
	td_sh_ok("cp -r '%s' '%s'", path, dst);
	snprintf(path, sizeof(path), "%s/meta.json", dst);
	cr_assert_not_null(m = json_object_from_file(path));
	json_object_object_add(m, "name", json_object_new_string(name));
	cr_assert_eq(json_object_to_file(path, m), 0);
	json_object_put(m);
}

static void tmpl_file(char *buf, size_t len, const char *tmpl, const char *file)
{
	snprintf(buf, len, "%s/state/templates/%s/%s", d.dir, tmpl, file);
}

/* Change one byte of path in place (size and name kept). */
static void flip_byte(const char *path, long off)
{
	char cmd[700];

	snprintf(cmd, sizeof(cmd),
		 "printf '\\252' | dd of='%s' bs=1 seek=%ld conv=notrunc status=none", path, off);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void expect_damaged(struct json_object *r, long st, const char *what, const char *file)
{
	cr_expect_eq(st, 409, "%s: %ld", what, st);
	cr_expect(r && td_err_class(r) && !strcmp(td_err_class(r), "TemplateDamaged"),
		  "%s: class %s", what, r ? td_err_class(r) : "");
	cr_expect(r && td_err_desc(r) && strstr(td_err_desc(r), file), "%s: the error names %s: %s",
		  what, file, r ? td_err_desc(r) : "");
}

static void expect_refused(const char *tmpl, const char *file)
{
	char body[128], path[128];
	struct json_object *r;
	long st;

	snprintf(body, sizeof(body), "{\"name\":\"x-%s\",\"from\":\"%s\"}", tmpl, tmpl);
	r = td_http(&d, "POST", "/v1/vms", body, &st);
	expect_damaged(r, st, "restore", file);
	json_object_put(r);
	cr_expect_eq(tt_qemus(&d), 0, "a qemu was started for a damaged template");
	snprintf(path, sizeof(path), "/v1/templates/%s/verify", tmpl);
	r = td_http(&d, "POST", path, NULL, &st);
	expect_damaged(r, st, "verify", file);
	json_object_put(r);
}

/* `vmctl template verify NAME`: its exit status, its stdout and stderr into out. */
static int vmctl_verify(const char *tmpl, char *out, size_t len)
{
	char cmd[700];
	FILE *p;
	size_t n;
	int rc;

	snprintf(cmd, sizeof(cmd), "%s/src/cli/vmctl --socket %s template verify %s 2>&1",
		 getenv("top_builddir") ? getenv("top_builddir") : ".", d.sock, tmpl);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Test(template, damaged_template_refused, .fini = teardown, .timeout = 900)
{
	char path[600], out[2048];
	struct json_object *r, *f;
	long st;

	tt_start(&d);
	make_template("t", 128);
	/* verified whole while intact: both files, their hashes as recorded */
	r = td_http(&d, "POST", "/v1/templates/t/verify", NULL, &st);
	cr_assert_eq(st, 200, "verify: %ld %s", st, r ? td_err_desc(r) : "");
	cr_expect(json_object_get_boolean(json_object_object_get(r, "ok")));
	f = json_object_object_get(r, "files");
	cr_assert_eq(json_object_array_length(f), 2, "%s", json_object_to_json_string(r));
	for (size_t i = 0; i < 2; i++) {
		struct json_object *e = json_object_array_get_idx(f, i);
		cr_expect_str_eq(td_str(e, "sha256"), td_str(e, "recorded"), "%s",
				 json_object_to_json_string(e));
	}
	json_object_put(r);
	cr_expect_eq(vmctl_verify("t", out, sizeof(out)), 0, "vmctl template verify: %s", out);
	cr_expect(strstr(out, "t: ram:") && strstr(out, "sha256 as saved"), "%s", out);
	copy_template("s");
	copy_template("u");

	/* RAM: one byte in the middle */
	tmpl_file(path, sizeof(path), "t", "ram");
	flip_byte(path, 64L << 20);
	expect_refused("t", "templates/t/ram");
	cr_expect_eq(vmctl_verify("t", out, sizeof(out)), 1, "vmctl on a damaged template: %s",
		     out);
	cr_expect(strstr(out, "templates/t/ram") && strstr(out, "damaged"), "%s", out);
	/* state: one byte */
	tmpl_file(path, sizeof(path), "s", "state");
	flip_byte(path, 4096);
	expect_refused("s", "templates/s/state");
	/* RAM: truncated by a page */
	tmpl_file(path, sizeof(path), "u", "ram");
	td_sh_ok("truncate -s -4096 '%s'", path);
	expect_refused("u", "templates/u/ram");
	r = td_http(&d, "POST", "/v1/templates/nope/verify", NULL, &st);
	cr_expect_eq(st, 404, "verify of no template: %ld", st);
	json_object_put(r);
}

static struct json_object *pool(void)
{
	long st;
	struct json_object *r = td_http(&d, "GET", "/v1/pool", NULL, &st);

	cr_assert_eq(st, 200, "GET /v1/pool: %ld", st);
	return r;
}

/* Wait (bounded) until GET /v1/pool's key is want; the last reply. */
static struct json_object *pool_wait(const char *key, const char *want, int timeout_s)
{
	double end = td_now() + timeout_s;
	struct json_object *r = NULL;
	char now[32];

	while (td_now() < end) {
		json_object_put(r);
		r = pool();
		snprintf(now, sizeof(now), "%s", td_str(r, key) ? td_str(r, key) : "");
		if (!strcmp(now, want) || (!strcmp(key, "ready") && td_int(r, key) == atoi(want)))
			return r;
		usleep(200000);
	}
	cr_assert_fail("pool %s never %s: %s", key, want, json_object_to_json_string(r));
	return NULL;
}

Test(template, pool_stops_on_damaged_template, .fini = teardown, .timeout = 900)
{
	char ram[600], good[640];
	struct json_object *r;

	tt_start_conf(&d, "pool_template = t\npool_size = 1\n");
	make_template("t", 128);
	json_object_put(pool_wait("ready", "1", 300));
	json_object_put(pool_wait("template_state", "ok", 5));

	/* damaged while no daemon runs: the next one's first fill finds it */
	td_kill9(&d);
	tmpl_file(ram, sizeof(ram), "t", "ram");
	snprintf(good, sizeof(good), "%s.good", ram);
	td_sh_ok("cp '%s' '%s'", ram, good);
	flip_byte(ram, 32L << 20);
	td_restart(&d);
	r = pool_wait("template_state", "damaged", 60);
	cr_expect(td_str(r, "last_error") && strstr(td_str(r, "last_error"), "templates/t/ram"),
		  "last_error names the file: %s", json_object_to_json_string(r));
	json_object_put(r);
	/* past the 10 s retry of other failures: no restore loop, no qemu */
	sleep(12);
	r = pool();
	cr_expect_eq(td_int(r, "failures"), 1, "the pool retried a damaged template: %s",
		     json_object_to_json_string(r));
	cr_expect_str_eq(td_str(r, "template_state"), "damaged");
	cr_expect_eq(td_int(r, "ready"), 0);
	json_object_put(r);
	cr_expect_eq(tt_qemus(&d), 0, "a qemu runs for a damaged template");

	/* repaired from the backup and verified: the pool fills again */
	td_sh_ok("cp '%s' '%s'", good, ram);
	r = td_http(&d, "POST", "/v1/templates/t/verify", NULL, &(long){0});
	json_object_put(r);
	json_object_put(pool_wait("ready", "1", 300));
	r = pool_wait("template_state", "ok", 5);
	json_object_put(r);
	unlink(good);
}
