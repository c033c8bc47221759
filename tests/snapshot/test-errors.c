/*
 * Restoring what cannot load: a truncated or corrupted state file, another
 * device set, another qemu version. Each must give a clear error and leave
 * no qemu running. The template is a VM saved while still stopped at reset
 * (-S, never resumed): a real snapshot of the real device set, made in a
 * second instead of a 30 s TCG boot.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/snapshot.h"
#include "src/template.h"
#include "tests/snapshot/svm.h"

static char sdir[64];
static struct event_base *base;

struct res {
	int done;
	char err[1024];
	struct snap_stats st;
};

static void on_done(const struct snap_stats *st, const char *err, void *arg)
{
	struct res *r = arg;

	r->done = 1;
	r->st = *st;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

static void setup(void)
{
	if (!svm_guest_dir() || system("command -v qemu-system-x86_64 >/dev/null") != 0)
		cr_skip_test("no qemu or no test guest ($VMSUP_GUEST_DIR)");
	strcpy(sdir, "/tmp/vmsnap-err-XXXXXX");
	cr_assert_not_null(mkdtemp(sdir));
	base = event_base_new();
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sdir);
	if (sdir[0])
		cr_expect_eq(system(cmd), 0);
	if (base)
		event_base_free(base);
}

/* Save a never-started VM with these options as template NAME. */
static void make_template(const char *name, const struct svm_opts *o)
{
	struct svm v;
	struct tmpl_new t;
	struct snap_save_opts so = {0};
	struct json_object *dc, *meta;
	struct res r = {0};
	char *err = NULL;

	cr_assert_eq(svm_prepare(&v, o), 0);
	cr_assert_eq(svm_spawn(&v, base, 0, -1, 0), 0, "qemu did not start");
	cr_assert_eq(tmpl_begin(sdir, name, &t, &err), 0, "%s", err);
	so.state_path = t.state_path;
	so.timeout_ms = 120000;
	cr_assert_not_null(snap_save(base, v.qmp, &so, on_done, &r, &err), "%s", err);
	svm_run_until(base, &r.done, 130000);
	cr_assert(r.done && !r.err[0], "save: %s", r.err);
	cr_log_info("saved: %.0f ms (qemu %.0f ms), %llu bytes", r.st.wall_ms, r.st.qemu_ms,
		    (unsigned long long)r.st.file_bytes);
	dc = snap_devconfig((const char *const *)v.argv, &err);
	cr_assert_not_null(dc, "%s", err);
	meta = tmpl_meta_new(name, qmp_version(v.qmp), NULL, dc, NULL, &r.st);
	cr_assert_eq(tmpl_commit(&t, meta, &err), 0, "%s", err);
	json_object_put(meta);
	json_object_put(dc);
	svm_stop(&v);
}

/*
 * Restore into a fresh qemu with opts, bypassing tmpl_open's checks (as if
 * the damage happened after them): returns the error, qemu reaped.
 */
static void restore_expect_failure(const char *state, const struct svm_opts *o, int use_fd,
				   const char *want)
{
	struct svm v;
	struct snap_restore_opts ro = {.state_fd = -1, .timeout_ms = 120000, .resume = 1};
	struct res r = {0};
	char *err = NULL, *tail;
	int fd = -1;

	cr_assert_eq(svm_prepare(&v, o), 0);
	if (use_fd) {
		fd = open(state, O_RDONLY);
		cr_assert_geq(fd, 0);
		ro.state_fd = 3;
	}
	ro.state_path = state;
	cr_assert_eq(svm_spawn(&v, base, 1, fd, 0), 0, "qemu did not start");
	if (fd >= 0)
		close(fd);
	cr_assert_not_null(snap_restore(base, v.qmp, &ro, on_done, &r, &err), "%s", err);
	svm_run_until(base, &r.done, 130000);
	cr_assert(r.done, "restore never finished");
	cr_assert(r.err[0], "a broken snapshot loaded");
	/* qemu 7.2 exits when the state does not load: nothing is left hanging */
	cr_expect(svm_wait_exit(&v, 30000), "qemu still running after a failed restore");
	tail = snap_stderr_tail(v.errlog, 600);
	cr_log_info("restore error: %s | qemu: %s", r.err, tail);
	cr_expect_not_null(strstr(tail, want), "qemu said: %s", tail);
	free(tail);
	svm_stop(&v);
}

TestSuite(errors, .init = setup, .fini = teardown, .timeout = 600);

Test(errors, truncated_state)
{
	char *err = NULL, path[128];
	struct tmpl *t;
	struct stat sb;

	make_template("t", NULL);
	snprintf(path, sizeof(path), "%s/templates/t/state", sdir);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(truncate(path, sb.st_size / 2), 0);
	/* the store refuses it before any qemu is started... */
	cr_expect_null(t = tmpl_open(sdir, "t", &err));
	cr_expect_not_null(err && strstr(err, "truncated"), "%s", err);
	free(err);
	tmpl_close(t);
	/* ...and qemu itself fails cleanly if it is handed one anyway */
	restore_expect_failure(path, NULL, 0, "load of migration failed");
}

Test(errors, corrupt_state)
{
	char path[128];
	int fd;
	static const char junk[64] = "garbage garbage garbage garbage garbage garbage garbage";

	make_template("c", NULL);
	snprintf(path, sizeof(path), "%s/templates/c/state", sdir);
	/* past the header, into the first sections: same size, bad content */
	fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 20), (ssize_t)sizeof(junk));
	close(fd);
	restore_expect_failure(path, NULL, 1, "load of migration failed");
}

Test(errors, other_devices)
{
	struct svm_opts with_rng = {.extra =
					(const char *const[]){"-device", "virtio-rng-pci", NULL}};
	struct svm v;
	struct tmpl *t;
	char *err = NULL, path[128];

	make_template("d", &with_rng);
	t = tmpl_open(sdir, "d", &err);
	cr_assert_not_null(t, "%s", err);
	/* the check names the difference before qemu is started */
	cr_assert_eq(svm_prepare(&v, NULL), 0);
	cr_expect_eq(tmpl_check_vm(t, t->qemu_version, (const char *const *)v.argv, &err), -1);
	cr_expect_not_null(err && strstr(err, "virtio-rng-pci"), "%s", err);
	cr_log_info("check: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(tmpl_check_vm(t, "6.2.0", (const char *const *)v.argv, &err), -1);
	cr_expect_not_null(err && strstr(err, "this is qemu 6.2.0"), "%s", err);
	free(err);
	svm_stop(&v);
	/* forced past the check, qemu refuses the unknown section and exits */
	snprintf(path, sizeof(path), "%s", t->state_path);
	restore_expect_failure(path, NULL, 0, "Unknown savevm section");
	tmpl_close(t);
}
