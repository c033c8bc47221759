/*
 * vCPU pinning: strict CPU-list parsing, real sched_setaffinity() on our own
 * threads, and on a real qemu's vCPU threads named by query-cpus-fast.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "src/limits/pin-map.h"
#include "src/limits/pin.h"
#include "tests/limits/cg-util.h"

static cpu_set_t parse_ok(const char *s)
{
	cpu_set_t set;
	char *err = NULL;

	cr_assert_eq(pin_parse(s, &set, &err), 0, "\"%s\": %s", s, err);
	return set;
}

static char *fmt(const cpu_set_t *set)
{
	static char buf[512];

	cr_assert_eq(pin_format(set, buf, sizeof(buf)), 0);
	return buf;
}

Test(pin, parse_good)
{
	static const struct {
		const char *in, *canon;
		int count;
	} ok[] = {
	    {"0", "0", 1},
	    {"0-1,3", "0-1,3", 3},
	    {"3,0-1", "0-1,3", 3},
	    {"5,2", "2,5", 2},
	    {"0-0", "0", 1},
	    {"7,7", "7", 1},
	    {"1023", "1023", 1},
	    {"0-1023", "0-1023", 1024},
	    {"1,2,3,8-9", "1-3,8-9", 5},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cpu_set_t s = parse_ok(ok[i].in);

		cr_expect_eq(CPU_COUNT(&s), ok[i].count, "\"%s\"", ok[i].in);
		cr_expect_str_eq(fmt(&s), ok[i].canon);
		/* The canonical form parses back to the same set. */
		cpu_set_t again = parse_ok(fmt(&s));
		cr_expect(CPU_EQUAL(&s, &again));
	}
}

Test(pin, parse_bad)
{
	static const char *const bad[] = {
	    "",
	    " 0",
	    "0 ",
	    "0,",
	    ",0",
	    "0--1",
	    "1-0",
	    "a",
	    "-1",
	    "0-",
	    "1024",
	    "0-1024",
	    "99999999999999999999",
	    "0,,1",
	    "0-1-2",
	    "+1",
	    "0x1",
	    "1:2",
	    "0-7:2",
	    "0\n",
	    "1 ,2",
	    "١",
	};
	char *err = NULL;
	cpu_set_t s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_expect_eq(pin_parse(bad[i], &s, &err), -1, "\"%s\" accepted", bad[i]);
		cr_expect(err && *err, "no message for \"%s\"", bad[i]);
		cr_expect_eq(CPU_COUNT(&s), 0);
		free(err);
		err = NULL;
	}
	cr_expect_eq(pin_parse(NULL, &s, &err), -1);
	free(err);
	err = NULL;
	char *big = malloc(5000);
	memset(big, '1', 4999);
	big[4999] = '\0';
	cr_expect_eq(pin_parse(big, &s, &err), -1);
	free(err);
	free(big);

	char small[4];
	cpu_set_t many = parse_ok("0-2,5,9");
	cr_expect_eq(pin_format(&many, small, sizeof(small)), -1);
	cr_expect_str_eq(small, "");
}

Test(pin, check_available)
{
	cpu_set_t mine, s;
	char *err = NULL;

	cr_assert_eq(sched_getaffinity(0, sizeof(mine), &mine), 0);
	cr_expect_eq(pin_check_available(&mine, &err), 0, "%s", err);
	s = parse_ok("1023");
	cr_expect_eq(pin_check_available(&s, &err), -1);
	cr_expect(err && strstr(err, "1023") && strstr(err, "not available"), "%s", err);
	free(err);
}

/* A thread that blocks until told, then reports where it ran. */
struct waiter {
	pthread_t th;
	pid_t tid;
	int go[2];
	int cpu;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	char c;

	__atomic_store_n(&w->tid, gettid(), __ATOMIC_SEQ_CST);
	if (read(w->go[0], &c, 1) == 1) {
		/* Spin a little so the scheduler has to place us under the new mask. */
		for (volatile int i = 0; i < 1000000; i++)
			;
		w->cpu = sched_getcpu();
	}
	return NULL;
}

static void waiter_start(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	w->cpu = -1;
	cr_assert_eq(pipe(w->go), 0);
	cr_assert_eq(pthread_create(&w->th, NULL, waiter_main, w), 0);
	while (!__atomic_load_n(&w->tid, __ATOMIC_SEQ_CST))
		tu_sleep(0.001);
}

static void waiter_finish(struct waiter *w)
{
	cr_assert_eq(write(w->go[1], "g", 1), 1);
	pthread_join(w->th, NULL);
	close(w->go[0]);
	close(w->go[1]);
}

static int last_cpu(void)
{
	cpu_set_t mine;
	int last = -1;

	cr_assert_eq(sched_getaffinity(0, sizeof(mine), &mine), 0);
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &mine))
			last = c;
	return last;
}

Test(pin, real_thread)
{
	struct waiter w;
	cpu_set_t want, got;
	char *err = NULL, list[16];
	int cpu = last_cpu();

	waiter_start(&w);
	snprintf(list, sizeof(list), "%d", cpu);
	want = parse_ok(list);
	cr_assert_eq(pin_thread(w.tid, &want, &err), 0, "%s", err);
	cr_assert_eq(pin_get_thread(w.tid, &got, &err), 0, "%s", err);
	cr_expect(CPU_EQUAL(&want, &got), "thread mask %s", fmt(&got));
	waiter_finish(&w);
	cr_expect_eq(w.cpu, cpu, "pinned thread ran on CPU %d", w.cpu);
	/* Our own mask is untouched. */
	cr_assert_eq(sched_getaffinity(0, sizeof(got), &got), 0);
	cr_expect(CPU_COUNT(&got) >= 1);

	cr_expect_eq(pin_thread(0, &want, &err), -1);
	free(err);
	err = NULL;
	cr_expect_eq(pin_thread(0x7ffffff0, &want, &err), -1);
	cr_expect(err && strstr(err, "No such process"), "%s", err);
	free(err);
}

static struct json_object *cpus_fast(const struct waiter *w, int n)
{
	struct json_object *a = json_object_new_array();

	for (int i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();

		/* Listed out of order on purpose: pinning goes by cpu-index. */
		json_object_object_add(o, "cpu-index", json_object_new_int(n - 1 - i));
		json_object_object_add(o, "qom-path", json_object_new_string("/machine/x"));
		json_object_object_add(o, "thread-id", json_object_new_int(w[n - 1 - i].tid));
		json_object_object_add(o, "target", json_object_new_string("x86_64"));
		json_object_array_add(a, o);
	}
	return a;
}

Test(pin, vcpus_from_query_cpus_fast)
{
	struct waiter w[2];
	struct json_object *a;
	cpu_set_t set, got;
	char *err = NULL;
	int n = -1;

	if (last_cpu() < 1)
		cr_skip_test("needs two usable CPUs");
	waiter_start(&w[0]);
	waiter_start(&w[1]);
	a = cpus_fast(w, 2);
	set = parse_ok("0-1");

	cr_assert_eq(pin_vcpus(a, getpid(), &set, PIN_ONE_EACH, &n, &err), 0, "%s", err);
	cr_expect_eq(n, 2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pin_get_thread(w[i].tid, &got, &err), 0, "%s", err);
		cr_expect_eq(CPU_COUNT(&got), 1);
		cr_expect(CPU_ISSET(i, &got), "vCPU %d on %s", i, fmt(&got));
	}
	cr_assert_eq(pin_vcpus(a, getpid(), &set, PIN_ALL, &n, &err), 0, "%s", err);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pin_get_thread(w[i].tid, &got, &err), 0, "%s", err);
		cr_expect(CPU_EQUAL(&got, &set), "vCPU %d on %s", i, fmt(&got));
	}

	/* Threads of another process are refused, and nothing is pinned at all. */
	cpu_set_t one = parse_ok("1");
	cr_expect_eq(pin_vcpus(a, 1, &one, PIN_ALL, &n, &err), -1);
	cr_expect(err && strstr(err, "not a thread of process 1"), "%s", err);
	cr_expect_eq(n, 0);
	free(err);
	err = NULL;
	cr_assert_eq(pin_get_thread(w[0].tid, &got, &err), 0, "%s", err);
	cr_expect(CPU_EQUAL(&got, &set));

	/* Malformed replies. */
	static const char *const bad[] = {
	    "{}",
	    "[]",
	    "[1]",
	    "[{\"cpu-index\":0}]",
	    "[{\"cpu-index\":0,\"thread-id\":\"12\"}]",
	    "[{\"cpu-index\":-1,\"thread-id\":12}]",
	    "[{\"cpu-index\":0,\"thread-id\":0}]",
	    "[{\"cpu-index\":0,\"thread-id\":99999999999}]",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct json_object *b = json_tokener_parse(bad[i]);

		cr_expect_eq(pin_vcpus(b, getpid(), &set, PIN_ALL, &n, &err), -1, "%s", bad[i]);
		cr_expect(err && *err);
		free(err);
		err = NULL;
		json_object_put(b);
	}
	char dup[256];
	snprintf(dup, sizeof(dup),
		 "[{\"cpu-index\":0,\"thread-id\":%d},{\"cpu-index\":0,\"thread-id\":%d}]",
		 w[0].tid, w[1].tid);
	struct json_object *d = json_tokener_parse(dup);
	cr_expect_eq(pin_vcpus(d, getpid(), &set, PIN_ALL, &n, &err), -1);
	cr_expect(err && strstr(err, "twice"), "%s", err);
	free(err);
	err = NULL;
	json_object_put(d);
	cpu_set_t empty;
	CPU_ZERO(&empty);
	cr_expect_eq(pin_vcpus(a, getpid(), &empty, PIN_ALL, &n, &err), -1);
	free(err);
	json_object_put(a);
	waiter_finish(&w[0]);
	waiter_finish(&w[1]);
}

/* ---- per-vCPU maps and the emulator threads (pin-map.h) ---- */

Test(pin, vcpu_map_and_emulator_threads)
{
	struct waiter w[2];
	struct json_object *a, *o, *shared;
	struct pin_map m;
	cpu_set_t all, got;
	char *err = NULL, sh[256];
	int n = -1, seen = -1;

	if (last_cpu() < 1)
		cr_skip_test("needs two usable CPUs");
	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	waiter_start(&w[0]);
	waiter_start(&w[1]);
	a = cpus_fast(w, 2);
	/* crossed: vCPU 0 on CPU 1, vCPU 1 on CPU 0 */
	o = json_tokener_parse("{\"0\":\"1\",\"1\":\"0\"}");
	cr_assert_eq(pin_map_from_json(o, "vcpu_pin", &m, &err), 0, "%s", err);
	json_object_put(o);
	cr_assert_eq(pin_vcpus_map(a, getpid(), &m, &all, &n, &err), 0, "%s", err);
	cr_expect_eq(n, 2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(pin_get_thread(w[i].tid, &got, &err), 0, "%s", err);
		cr_expect(CPU_COUNT(&got) == 1 && CPU_ISSET(1 - i, &got), "vCPU %d on %s", i,
			  fmt(&got));
	}
	/* again: nothing to change */
	cr_assert_eq(pin_vcpus_map(a, getpid(), &m, &all, &n, &err), 0, "%s", err);
	cr_expect_eq(n, 0, "threads already right were set again");
	/* one thread for both vCPUs (TCG round-robin): they cannot be apart */
	snprintf(sh, sizeof(sh),
		 "[{\"cpu-index\":0,\"thread-id\":%d},{\"cpu-index\":1,\"thread-id\":%d}]",
		 w[0].tid, w[0].tid);
	shared = json_tokener_parse(sh);
	cr_expect_eq(pin_vcpus_map(shared, getpid(), &m, &all, &n, &err), -1);
	cr_expect(err && strstr(err, "one thread"), "%s", err);
	free(err);
	err = NULL;
	json_object_put(shared);
	o = pin_map_to_json(&m);
	cr_expect_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			 "{\"0\":\"1\",\"1\":\"0\"}");
	json_object_put(o);
	/* the other threads of this process: the emulator's place */
	cpu_set_t zero = parse_ok("0");
	cr_assert_eq(pin_emulator(a, getpid(), &zero, &seen, &n, &err), 0, "%s", err);
	cr_expect_geq(seen, 1);
	cr_assert_eq(sched_getaffinity(0, sizeof(got), &got), 0);
	cr_expect(CPU_EQUAL(&got, &zero), "main thread on %s", fmt(&got));
	cr_assert_eq(pin_get_thread(w[0].tid, &got, &err), 0, "%s", err);
	cr_expect(CPU_ISSET(1, &got) && CPU_COUNT(&got) == 1, "a vCPU moved: %s", fmt(&got));
	cr_assert_eq(pin_emulator(a, getpid(), &all, &seen, &n, &err), 0, "%s", err);
	cr_expect(pin_map_check_vcpus(&m, "vcpu_pin", 1, &err) == -1 && strstr(err, "vCPU 1"), "%s",
		  err);
	free(err);
	json_object_put(a);
	waiter_finish(&w[0]);
	waiter_finish(&w[1]);
}

/* ---- the same against a real qemu ---- */

static pid_t qemu_pid;
static char qdir[64];

static void qemu_fini(void)
{
	if (qemu_pid > 0) {
		kill(-qemu_pid, SIGKILL); /* its own process group */
		waitpid(qemu_pid, NULL, 0);
		qemu_pid = 0;
	}
	if (qdir[0])
		tu_rmtree(qdir);
}

/* One QMP reply line for cmd (events skipped), parsed; blocking, bounded by SO_RCVTIMEO. */
static struct json_object *qmp_call(FILE *f, int fd, const char *cmd)
{
	char *line = NULL;
	size_t cap = 0;
	struct json_object *r = NULL;

	cr_assert_eq(write(fd, cmd, strlen(cmd)), (ssize_t)strlen(cmd));
	while (getline(&line, &cap, f) > 0) {
		struct json_object *o = json_tokener_parse(line), *v;

		if (o && json_object_object_get_ex(o, "return", &v)) {
			r = json_object_get(v);
			json_object_put(o);
			break;
		}
		cr_assert(!o || !json_object_object_get_ex(o, "error", &v), "QMP error: %s", line);
		json_object_put(o);
	}
	free(line);
	cr_assert_not_null(r, "no QMP reply to %s", cmd);
	return r;
}

Test(pin, real_qemu_vcpu_threads, .fini = qemu_fini, .timeout = 120)
{
	char sock[96], *err = NULL;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 30};
	struct json_object *r;
	cpu_set_t want, got;
	FILE *f;
	int fd, n = -1, connected = 0;

	if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0)
		cr_skip_test("qemu-system-x86_64 missing");
	snprintf(qdir, sizeof(qdir), "/tmp/vmcg-qemu-XXXXXX");
	cr_assert_not_null(mkdtemp(qdir)); /* 0700 */
	snprintf(sock, sizeof(sock), "%s/qmp.sock", qdir);
	char qmparg[160];
	snprintf(qmparg, sizeof(qmparg), "unix:%s,server=on,wait=off", sock);
	char *const argv[] = {"qemu-system-x86_64",
			      "-nodefaults",
			      "-display",
			      "none",
			      "-machine",
			      "pc",
			      "-accel",
			      "tcg,thread=multi",
			      "-smp",
			      "2",
			      "-m",
			      "64",
			      "-S",
			      "-qmp",
			      qmparg,
			      NULL};
	qemu_pid = fork();
	cr_assert(qemu_pid >= 0);
	if (qemu_pid == 0) {
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(qemu_pid, qemu_pid);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert(fd >= 0);
	for (double end = tu_now() + 60; tu_now() < end; tu_sleep(0.05))
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			connected = 1;
			break;
		}
	cr_assert(connected, "qemu's QMP socket never came up");
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	f = fdopen(dup(fd), "r");
	cr_assert_not_null(f);
	json_object_put(qmp_call(f, fd, "{\"execute\":\"qmp_capabilities\"}\n"));
	r = qmp_call(f, fd, "{\"execute\":\"query-cpus-fast\"}\n");
	cr_assert_eq(json_object_array_length(r), 2, "%s", json_object_to_json_string(r));

	want = parse_ok("0");
	cr_assert_eq(pin_vcpus(r, qemu_pid, &want, PIN_ALL, &n, &err), 0, "%s", err);
	cr_expect_eq(n, 2);
	for (size_t i = 0; i < 2; i++) {
		struct json_object *o = json_object_array_get_idx(r, i), *t;

		cr_assert(json_object_object_get_ex(o, "thread-id", &t));
		cr_assert_eq(pin_get_thread(json_object_get_int(t), &got, &err), 0, "%s", err);
		cr_expect(CPU_EQUAL(&got, &want), "vCPU thread %d on %s", json_object_get_int(t),
			  fmt(&got));
	}
	/* The same threads are not ours: pinning them as this process's is refused. */
	cr_expect_eq(pin_vcpus(r, getpid(), &want, PIN_ALL, &n, &err), -1);
	free(err);
	json_object_put(r);
	fclose(f);
	close(fd);
}
