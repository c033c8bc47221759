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

static struct tq_env env;

static void setup(void)
{
	tq_env_init(&env);
}

static void teardown(void)
{
	tq_env_fini(&env);
}

TestSuite(qga_real, .init = setup, .fini = teardown, .timeout = 120);

static void start_agent(void)
{
	char buf[4096], state[300], pidf[300];
	const char *ga_bin = getenv("QEMU_GA");
	const char *bin = tq_which(ga_bin && *ga_bin ? ga_bin : "qemu-ga", buf, sizeof(buf));

	if (!bin)
		tq_env_skip(&env, "no qemu-ga (set QEMU_GA to run the real-agent tests)");
	memset(&env.q, 0, sizeof(env.q));
	snprintf(env.q.sock, sizeof(env.q.sock), "%s/qga.sock", env.dir);
	snprintf(env.q.log, sizeof(env.q.log), "%s/qga.log", env.dir);
	snprintf(state, sizeof(state), "%s", env.dir);
	snprintf(pidf, sizeof(pidf), "%s/qga.pid", env.dir);
	const char *argv[] = {bin,   "-m", "unix-listen", "-p", env.q.sock, "-t",
			      state, "-f", pidf,	  "-b", blocked,    NULL};
	cr_assert_eq(tq_spawn(&env.q, argv), 0, "qemu-ga did not start (log %s)", env.q.log);
}

static void open_agent(void)
{
	tq_env_open(&env, QMP_KIND_QGA, WAIT_MS);
}

Test(qga_real, sync_ping_and_info)
{
	struct json_object *ret, *v;
	struct qmp_error err;

	start_agent();
	open_agent();
	cr_assert(qmp_is_ready(qmp_sync_session(env.c)));
	cr_assert_eq(qmp_sync_call(env.c, "guest-ping", NULL, 0, &ret, &err), 0, "%s", err.desc);
	json_object_put(ret);
	cr_assert_eq(qmp_sync_call(env.c, "guest-info", NULL, 0, &ret, &err), 0, "%s", err.desc);
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
	cr_assert_eq(qmp_sync_call(env.c, "guest-no-such", NULL, 0, &ret, &err), -1);
	cr_assert_str_eq(err.cls, "CommandNotFound");
	cr_assert_eq(qmp_sync_call(env.c, "guest-exec", NULL, 0, &ret, &err), -1);
	cr_assert_neq(err.desc[0], 0);
	cr_assert_eq(qmp_sync_call(env.c, "guest-ping", NULL, 0, &ret, &err), 0, "%s", err.desc);
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
		cr_assert_gt(qmp_call(qmp_sync_session(env.c), "guest-ping", NULL, WAIT_MS,
				      count_ok, &n, NULL),
			     0);
	cr_assert_eq(qmp_sync_call(env.c, "guest-info", NULL, 0, &ret, &err), 0, "%s", err.desc);
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
		cr_assert_eq(qmp_sync_call(env.c, "guest-ping", NULL, 0, &ret, &err), 0, "%s",
			     err.desc);
		json_object_put(ret);
		qmp_sync_close(env.c);
		env.c = NULL;
	}
}
