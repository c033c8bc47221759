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

#include "src/snapshot/snapshot.h"
#include "src/snapshot/template.h"
#include "tests/snapshot/snaptest.h"

static struct st_env env;

static void setup(void)
{
	if (!st_have_guest())
		cr_skip_test("no qemu or no test guest ($VMSUP_GUEST_DIR)");
	cr_assert_eq(st_env_init(&env, "err"), 0);
}

static void teardown(void)
{
	cr_expect_eq(st_env_fini(&env), 0);
}

/* Save a never-started VM with these options as template NAME. */
static void make_template(const char *name, const struct th_opts *o)
{
	struct th_opts paused = {0};
	struct th_guest g;
	struct st_res r;
	char *err = NULL;

	if (o)
		paused = *o;
	paused.paused = 1;
	cr_assert_eq(th_guest_boot(&g, env.base, &paused, NULL), 0, "qemu did not start");
	cr_assert_eq(st_save_template(&env, &g, name, 120000, &r, &err), 0, "%s", err);
	cr_log_info("saved: %.0f ms (qemu %.0f ms), %llu bytes", r.st.wall_ms, r.st.qemu_ms,
		    (unsigned long long)r.st.file_bytes);
	th_guest_stop(&g);
}

/*
 * Restore into a fresh qemu with opts, bypassing tmpl_open's checks (as if
 * the damage happened after them): returns the error, qemu reaped.
 */
static void restore_expect_failure(const char *state, const struct th_opts *o, int use_fd,
				   const char *want)
{
	struct th_guest g;
	struct th_opts ro;
	struct st_res r;
	char *err = NULL, *tail;
	int fd = -1;

	if (use_fd) {
		fd = open(state, O_RDONLY | O_CLOEXEC);
		cr_assert_geq(fd, 0);
	}
	ro = st_restore_opts(o, NULL, fd);
	cr_assert_eq(th_guest_prepare(&g, &ro), 0);
	cr_assert_eq(st_restore_begin(&env, &g, state, 120000, &r, &err), 0, "%s", err);
	if (fd >= 0)
		close(fd);
	th_run_until(env.base, &r.done, 130000);
	cr_assert(r.done, "restore never finished");
	cr_assert(r.err[0], "a broken snapshot loaded");
	/* qemu 7.2 exits when the state does not load: nothing is left hanging */
	cr_expect(th_wait_exit(&g.vm, 30000) >= 0, "qemu still running after a failed restore");
	tail = snap_stderr_tail(g.vm.qemu_log, 600);
	cr_log_info("restore error: %s | qemu: %s", r.err, tail);
	cr_expect_not_null(strstr(tail, want), "qemu said: %s", tail);
	free(tail);
	th_guest_stop(&g);
}

TestSuite(errors, .init = setup, .fini = teardown, .timeout = 600);

Test(errors, truncated_state)
{
	char *err = NULL, path[128];
	struct tmpl *t;
	struct stat sb;

	make_template("t", NULL);
	snprintf(path, sizeof(path), "%s/templates/t/state", env.sdir);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(truncate(path, sb.st_size / 2), 0);
	/* the store refuses it before any qemu is started... */
	cr_expect_null(t = tmpl_open(env.sdir, "t", &err));
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
	snprintf(path, sizeof(path), "%s/templates/c/state", env.sdir);
	/* past the header, into the first sections: same size, bad content */
	fd = open(path, O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pwrite(fd, junk, sizeof(junk), 20), (ssize_t)sizeof(junk));
	close(fd);
	restore_expect_failure(path, NULL, 1, "load of migration failed");
}

Test(errors, other_devices)
{
	struct th_opts with_rng = {.extra_args =
				       (const char *const[]){"-device", "virtio-rng-pci", NULL}};
	struct th_guest g;
	struct tmpl *t;
	char *err = NULL, path[128];

	make_template("d", &with_rng);
	t = tmpl_open(env.sdir, "d", &err);
	cr_assert_not_null(t, "%s", err);
	/* the check names the difference before qemu is started */
	cr_assert_eq(th_guest_prepare(&g, NULL), 0);
	cr_expect_eq(tmpl_check_vm(t, t->qemu_version, (const char *const *)g.vm.argv, &err), -1);
	cr_expect_not_null(err && strstr(err, "virtio-rng-pci"), "%s", err);
	cr_log_info("check: %s", err);
	free(err);
	err = NULL;
	cr_expect_eq(tmpl_check_vm(t, "6.2.0", (const char *const *)g.vm.argv, &err), -1);
	cr_expect_not_null(err && strstr(err, "this is qemu 6.2.0"), "%s", err);
	free(err);
	th_guest_stop(&g);
	/* forced past the check, qemu refuses the unknown section and exits */
	snprintf(path, sizeof(path), "%s", t->state_path);
	restore_expect_failure(path, NULL, 0, "Unknown savevm section");
	tmpl_close(t);
}
