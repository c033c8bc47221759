/*
 * libqmp against the real qemu-ga, run on the host on a unix socket (its
 * unix-listen transport) with everything that could touch the host
 * blocked. Skipped unless a qemu-ga binary is found: $QEMU_GA, or qemu-ga
 * on PATH (e.g. the one the test-guest build unpacks). Inside a guest the
 * agent is exercised by the guest-agent tests.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/qmp/qemu.h"
#include "tests/qmp/util.h"

#define WAIT_MS 30000

/* Every RPC that changes or reads the host beyond the agent itself. */
static const char blocked[] =
    "guest-exec,guest-exec-status,guest-shutdown,guest-suspend-disk,guest-suspend-ram,"
    "guest-suspend-hybrid,guest-file-open,guest-file-close,guest-file-read,guest-file-write,"
    "guest-file-seek,guest-file-flush,guest-fsfreeze-freeze,guest-fsfreeze-freeze-list,"
    "guest-fsfreeze-thaw,guest-fstrim,guest-set-time,guest-set-vcpus,guest-set-memory-blocks,"
    "guest-set-user-password,guest-ssh-add-authorized-keys,guest-ssh-remove-authorized-keys,"
    "guest-ssh-get-authorized-keys,guest-network-get-interfaces,guest-get-users,"
    "guest-get-fsinfo,guest-get-disks";

static char *dir;
static struct tq_qemu ga;
static struct qmp_sync *c;

static void setup(void)
{
	dir = tu_tmpdir();
	cr_assert(dir);
}

static void teardown(void)
{
	qmp_sync_close(c);
	c = NULL;
	tq_qemu_kill(&ga);
	tu_rmdir(dir);
	free(dir);
}

TestSuite(qga_real, .init = setup, .fini = teardown, .timeout = 120);

static void start_agent(void)
{
	char buf[4096], state[300], pidf[300];
	const char *env = getenv("QEMU_GA");
	const char *bin = tq_which(env && *env ? env : "qemu-ga", buf, sizeof(buf));

	if (!bin)
		cr_skip_test("no qemu-ga (set QEMU_GA to run the real-agent tests)");
	memset(&ga, 0, sizeof(ga));
	snprintf(ga.sock, sizeof(ga.sock), "%s/qga.sock", dir);
	snprintf(ga.log, sizeof(ga.log), "%s/qga.log", dir);
	snprintf(state, sizeof(state), "%s", dir);
	snprintf(pidf, sizeof(pidf), "%s/qga.pid", dir);
	const char *argv[] = {bin,   "-m", "unix-listen", "-p", ga.sock, "-t",
			      state, "-f", pidf,	  "-b", blocked, NULL};
	cr_assert_eq(tq_spawn(&ga, argv), 0, "qemu-ga did not start (log %s)", ga.log);
}

static void open_agent(void)
{
	struct qmp_error err;

	c = qmp_sync_open(ga.sock, QMP_KIND_QGA, WAIT_MS, &err);
	cr_assert(c, "%s: %s", err.cls, err.desc);
}

Test(qga_real, sync_ping_and_info)
{
	struct json_object *ret, *v;
	struct qmp_error err;

	start_agent();
	open_agent();
	cr_assert(qmp_is_ready(qmp_sync_session(c)));
	cr_assert_eq(qmp_sync_call(c, "guest-ping", NULL, 0, &ret, &err), 0, "%s", err.desc);
	json_object_put(ret);
	cr_assert_eq(qmp_sync_call(c, "guest-info", NULL, 0, &ret, &err), 0, "%s", err.desc);
	cr_assert(json_object_object_get_ex(ret, "version", &v));
	cr_assert_neq(json_object_get_string(v)[0], 0);
	cr_assert(json_object_object_get_ex(ret, "supported_commands", &v));
	cr_assert_gt(json_object_array_length(v), 5);
	json_object_put(ret);
}

Test(qga_real, errors_keep_the_session_usable)
{
	struct json_object *ret;
	struct qmp_error err;

	start_agent();
	open_agent();
	cr_assert_eq(qmp_sync_call(c, "guest-no-such", NULL, 0, &ret, &err), -1);
	cr_assert_str_eq(err.cls, "CommandNotFound");
	cr_assert_eq(qmp_sync_call(c, "guest-exec", NULL, 0, &ret, &err), -1);
	cr_assert_neq(err.desc[0], 0);
	cr_assert_eq(qmp_sync_call(c, "guest-ping", NULL, 0, &ret, &err), 0, "%s", err.desc);
	json_object_put(ret);
}

static void count_ok(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	int *n = arg;

	*n = err ? -100000 : *n + 1;
}

Test(qga_real, queued_commands_all_answered_in_order)
{
	struct json_object *ret;
	struct qmp_error err;
	int n = 0;

	start_agent();
	open_agent();
	for (int i = 0; i < 50; i++)
		cr_assert_gt(
		    qmp_call(qmp_sync_session(c), "guest-ping", NULL, WAIT_MS, count_ok, &n, NULL),
		    0);
	cr_assert_eq(qmp_sync_call(c, "guest-info", NULL, 0, &ret, &err), 0, "%s", err.desc);
	json_object_put(ret);
	cr_assert_eq(n, 50);
}

Test(qga_real, reconnect_resyncs)
{
	struct json_object *ret;
	struct qmp_error err;

	start_agent();
	for (int i = 0; i < 3; i++) {
		open_agent();
		cr_assert_eq(qmp_sync_call(c, "guest-ping", NULL, 0, &ret, &err), 0, "%s",
			     err.desc);
		json_object_put(ret);
		qmp_sync_close(c);
		c = NULL;
	}
}
