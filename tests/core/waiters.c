/*
 * The supervisor's waiter list, in-process with a real qemu (guest-less,
 * TCG): a stop and a destroy wait on the same VM when its qemu dies. The
 * destroy used to be answered by walking a list whose other nodes had been
 * freed (issue 27: vmsupd segfaulted in check_waiters when a kill of a
 * pool member raced the pool's destroy). Each request must be answered
 * exactly once and the VM removed. Meant to be run under ASan too
 * (configure --enable-sanitizers), where a freed node is a hard error.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/core/supervisor.h"
#include "tests/lib/sup-tmp.h"

struct reply {
	int calls;
	char cls[64];
	bool body;
};

static void on_done(const struct vmsup_result *r, void *arg)
{
	struct reply *rep = arg;

	rep->calls++;
	snprintf(rep->cls, sizeof(rep->cls), "%s", r->cls ? r->cls : "");
	rep->body = r->body != NULL;
}

static char dir[] = "/tmp/vmsup-waiters-XXXXXX";

static void rm_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		cr_log_warn("could not remove %s", dir);
}

/* Loop until *n replies or about 30 s. */
static void loop_until(struct event_base *base, const struct reply *r, int n)
{
	time_t end = time(NULL) + 30;
	struct timeval tick = {0, 50000};

	while (r->calls < n && time(NULL) < end) {
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
}

Test(waiters, stop_and_destroy_when_qemu_dies, .fini = rm_dir)
{
	struct event_base *base = event_base_new();
	struct reply created = {0}, stop = {0}, destroy = {0};
	struct json_object *spec, *grace;
	struct vmsup *sup;
	struct vm *vm;
	char *err = NULL;
	pid_t pid;

	cr_assert(mkdtemp(dir));
	sup = test_sup_new(base, dir, NULL, &err);
	cr_assert(sup, "vmsup_new: %s", err);

	spec = json_tokener_parse("{\"name\":\"w1\",\"guest\":false,\"mem_mib\":64}");
	vmsup_create(sup, spec, NULL, on_done, &created);
	json_object_put(spec);
	loop_until(base, &created, 1);
	cr_assert_eq(created.calls, 1);
	cr_assert_str_empty(created.cls, "create failed: %s", created.cls);
	vm = vmsup_find(sup, "w1");
	cr_assert(vm && vm->pid > 0);
	pid = vm->pid;

	/* both wait: a guest-less VM ignores the ACPI request for the grace time */
	grace = json_tokener_parse("{\"timeout_s\":60}");
	vmsup_op(sup, "w1", VM_OP_STOP, grace, on_done, &stop);
	vmsup_op(sup, "w1", VM_OP_DESTROY, grace, on_done, &destroy);
	json_object_put(grace);
	cr_assert_eq(stop.calls + destroy.calls, 0, "answered before qemu died");

	cr_assert_eq(kill(pid, SIGKILL), 0);
	loop_until(base, &destroy, 1);
	loop_until(base, &stop, 1);

	cr_expect_eq(stop.calls, 1, "the stop was answered %d times", stop.calls);
	cr_expect_eq(destroy.calls, 1, "the destroy was answered %d times", destroy.calls);
	cr_expect_str_empty(destroy.cls, "destroy: %s", destroy.cls);
	cr_expect(destroy.body, "destroy answered without a body");
	cr_expect_null(vmsup_find(sup, "w1"), "the destroyed VM is still listed");
	cr_expect_eq(kill(pid, 0), -1, "qemu %d still runs", (int)pid);

	vmsup_free(sup);
	event_base_free(base);
}
