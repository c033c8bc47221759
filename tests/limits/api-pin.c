/*
 * Per-vCPU and emulator-thread pinning (issue 24) on guest-less TCG VMs of
 * a real vmsupd: what each of qemu's threads may run on, read from
 * /proc/PID/task/TID/status (Cpus_allowed_list) as an operator would. The
 * maps cross the CPUs (vCPU 0 on the last CPU, vCPU 1 on the first), so a
 * map ignored or applied in order would show. Bad input: 400, no VM.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/limits/limits-util.h"

static struct tdaemon d;
static int lo_cpu, hi_cpu; /* the first and the last CPU this process may use */
static char all_list[64];  /* every CPU this process may use, as the kernel lists it */

static void up(void)
{
	cpu_set_t s;

	cr_assert_eq(sched_getaffinity(0, sizeof(s), &s), 0);
	if (CPU_COUNT(&s) < 2)
		cr_skip_test("needs 2 CPUs to tell pinned from not");
	for (lo_cpu = 0; !CPU_ISSET(lo_cpu, &s); lo_cpu++)
		;
	for (hi_cpu = CPU_SETSIZE - 1; !CPU_ISSET(hi_cpu, &s); hi_cpu--)
		;
	/* the harness's default CPUs: "0-1" on the 2-CPU machines here */
	if (CPU_COUNT(&s) == hi_cpu - lo_cpu + 1)
		snprintf(all_list, sizeof(all_list), "%d-%d", lo_cpu, hi_cpu);
	td_start(&d, NULL);
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(pin, .init = up, .fini = down, .timeout = 240);

/* Cpus_allowed_list of one thread of pid ("" if it is gone). */
static void allowed(pid_t pid, pid_t tid, char *out, size_t n)
{
	char path[96], line[256];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid, (int)tid);
	if (!(f = fopen(path, "re")))
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "Cpus_allowed_list:", 18)) {
			snprintf(out, n, "%s", line + 18 + strspn(line + 18, " \t"));
			out[strcspn(out, "\n")] = '\0';
		}
	fclose(f);
}

/* thread-ids of the VM's vCPUs by cpu-index, from query-cpus-fast */
static int vcpu_tids(const char *vm, pid_t *tids, int max)
{
	char path[128];
	struct json_object *r, *ret, *e;
	long st;
	int n = 0;

	snprintf(path, sizeof(path), "/v1/vms/%s/qmp", vm);
	r = td_http(&d, "POST", path, "{\"execute\":\"query-cpus-fast\"}", &st);
	/* a reattached VM's QMP connects a moment after the daemon serves */
	if (st != 200) {
		json_object_put(r);
		return -1;
	}
	cr_assert(json_object_object_get_ex(r, "return", &ret));
	for (size_t i = 0; i < json_object_array_length(ret) && n < max; i++) {
		e = json_object_array_get_idx(ret, i);
		cr_assert_eq(json_object_get_int(json_object_object_get(e, "cpu-index")), (int)i);
		tids[n++] = (pid_t)json_object_get_int(json_object_object_get(e, "thread-id"));
	}
	json_object_put(r);
	return n;
}

static pid_t vm_pid(const char *vm)
{
	pid_t pid = td_vm_pid(&d, vm);

	cr_assert_gt(pid, 0);
	return pid;
}

/*
 * Whether vCPU i's thread allows exactly want[i] (NULL: not checked) and
 * every other thread of qemu exactly emu (NULL: not checked); the first
 * difference into why.
 */
static bool threads_are(const char *vm, const char *const *want, int nvcpu, const char *emu,
			char *why, size_t n)
{
	pid_t pid = vm_pid(vm), tids[8];
	char dir[64], got[128];
	struct dirent *de;
	int nt = vcpu_tids(vm, tids, 8), nemu = 0;
	DIR *dp;

	if (nt < 0) {
		snprintf(why, n, "query-cpus-fast failed");
		return false;
	}
	cr_assert_eq(nt, nvcpu);
	for (int i = 0; i < nt; i++) {
		allowed(pid, tids[i], got, sizeof(got));
		if (want[i] && strcmp(got, want[i])) {
			snprintf(why, n, "vCPU %d (thread %d) on '%s', want '%s'", i, (int)tids[i],
				 got, want[i]);
			return false;
		}
	}
	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	cr_assert_not_null(dp = opendir(dir));
	while ((de = readdir(dp))) {
		pid_t t = atoi(de->d_name);
		bool vcpu = false;

		for (int i = 0; i < nt; i++)
			vcpu = vcpu || tids[i] == t;
		if (t <= 0 || vcpu)
			continue;
		nemu++;
		allowed(pid, t, got, sizeof(got));
		if (emu && got[0] && strcmp(got, emu)) {
			snprintf(why, n, "emulator thread %d on '%s', want '%s'", (int)t, got, emu);
			closedir(dp);
			return false;
		}
	}
	closedir(dp);
	cr_assert_gt(nemu, 0, "qemu has no thread besides its vCPUs?");
	return true;
}

/* The pins are set once qemu's QMP is up: allow the daemon a moment. */
static void expect_threads(const char *vm, const char *const *want, int nvcpu, const char *emu,
			   const char *when)
{
	char why[256] = "";
	double end = td_now() + 10;

	while (!threads_are(vm, want, nvcpu, emu, why, sizeof(why)) && td_now() < end)
		usleep(100 * 1000);
	cr_assert(threads_are(vm, want, nvcpu, emu, why, sizeof(why)), "%s: %s", when, why);
}

static struct json_object *post(const char *body, long want)
{
	long st;
	struct json_object *r = td_http(&d, "POST", "/v1/vms", body, &st);

	cr_assert_eq(st, want, "POST %s: %ld %s", body, st, json_object_to_json_string(r));
	return r;
}

static struct json_object *put_cpu(const char *vm, const char *body, long want)
{
	char path[96];
	long st;
	struct json_object *r;

	snprintf(path, sizeof(path), "/v1/vms/%s/cpu", vm);
	r = td_http(&d, "PUT", path, body, &st);
	cr_assert_eq(st, want, "PUT %s: %ld %s", body, st, json_object_to_json_string(r));
	return r;
}

/* A crossed map for 2 vCPUs and the emulator threads on the first CPU. */
static struct json_object *create_crossed(const char *name, char *w0, char *w1, char *emu)
{
	char body[320];

	sprintf(w0, "%d", hi_cpu);
	sprintf(w1, "%d", lo_cpu);
	sprintf(emu, "%d", lo_cpu);
	snprintf(body, sizeof(body),
		 "{\"name\":\"%s\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,\"cpus\":2,"
		 "\"vcpu_pin\":{\"0\":\"%s\",\"1\":\"%s\"},\"emulator_pin\":\"%s\"}",
		 name, w0, w1, emu);
	return post(body, 201);
}

Test(pin, create_with_a_vcpu_map_and_emulator_pin)
{
	char w0[8], w1[8], emu[8];
	struct json_object *r = create_crossed("m", w0, w1, emu), *map;
	const char *want[] = {w0, w1};

	cr_assert_str_eq(td_str(r, "state"), "running");
	cr_expect_null(td_str(r, "pin"));
	cr_expect_str_eq(td_str(r, "pin_mode"), "map");
	cr_expect_str_eq(td_str(r, "emulator_pin"), emu);
	cr_assert(json_object_object_get_ex(r, "vcpu_pin", &map));
	cr_expect_str_eq(td_str(map, "0"), w0);
	cr_expect_str_eq(td_str(map, "1"), w1);
	cr_expect_eq(json_object_object_length(map), 2);
	json_object_put(r);
	expect_threads("m", want, 2, emu, "after create");
}

Test(pin, a_map_for_some_vcpus_leaves_the_others_on_every_cpu)
{
	char body[256], w1[8];
	struct json_object *r;
	const char *want[] = {all_list, w1};

	if (!all_list[0])
		cr_skip_test("this process's CPUs are not one range");
	sprintf(w1, "%d", lo_cpu);
	snprintf(body, sizeof(body),
		 "{\"name\":\"s\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,\"cpus\":2,"
		 "\"vcpu_pin\":{\"1\":\"%s\"}}",
		 w1);
	json_object_put(post(body, 201));
	expect_threads("s", want, 2, all_list, "vCPU 1 only");
	/* the plain list form still works, and replaces the map */
	snprintf(body, sizeof(body), "{\"pin\":\"%d\"}", hi_cpu);
	r = put_cpu("s", body, 200);
	cr_expect_null(json_object_object_get(r, "vcpu_pin"));
	cr_expect_str_eq(td_str(r, "pin_mode"), "all");
	json_object_put(r);
	sprintf(w1, "%d", hi_cpu);
	want[0] = w1;
	expect_threads("s", want, 2, all_list, "pin list");
}

Test(pin, put_changes_the_map_and_null_unpins)
{
	char body[256], w0[8], w1[8], emu[8];
	struct json_object *r = create_crossed("p", w0, w1, emu);
	const char *want[] = {w0, w1}, *every[] = {all_list, all_list};

	json_object_put(r);
	expect_threads("p", want, 2, emu, "after create");
	/* the map the other way round, and the emulator on the last CPU */
	snprintf(body, sizeof(body),
		 "{\"vcpu_pin\":{\"0\":\"%s\",\"1\":\"%s\"},\"emulator_pin\":\"%s\"}", w1, w0, w0);
	json_object_put(put_cpu("p", body, 200));
	want[0] = w1;
	want[1] = w0;
	expect_threads("p", want, 2, w0, "after PUT");
	/* a vCPU the VM does not have: 400, nothing changed */
	r = put_cpu("p", "{\"vcpu_pin\":{\"2\":\"0\"}}", 400);
	cr_expect(strstr(td_err_desc(r), "vCPU 2 does not exist"), "%s", td_err_desc(r));
	json_object_put(r);
	expect_threads("p", want, 2, w0, "after a refused PUT");
	if (!all_list[0])
		return;
	r = put_cpu("p", "{\"pin\":null,\"emulator_pin\":null}", 200);
	cr_expect_null(json_object_object_get(r, "vcpu_pin"));
	cr_expect_null(json_object_object_get(r, "emulator_pin"));
	json_object_put(r);
	expect_threads("p", every, 2, all_list, "after null");
}

Test(pin, bad_pins_are_400_and_create_nothing)
{
	static const char *const bad[][2] = {
	    {"\"vcpu_pin\":{\"2\":\"0\"}", "vCPU 2 does not exist"},
	    {"\"vcpu_pin\":{\"0\":\"1000\"}", "1000 not available"},
	    {"\"vcpu_pin\":{\"0\":\"4095\"}", "above 1023"},
	    {"\"vcpu_pin\":{\"0\":\"0\",\"1\":\"63\"}", "vcpu_pin[\"1\"]"},
	    {"\"vcpu_pin\":{\"0\":\"1-\"}", "vcpu_pin[\"0\"]"},
	    {"\"vcpu_pin\":{\"x\":\"0\"}", "key \"x\""},
	    {"\"vcpu_pin\":{\"01\":\"0\"}", "key \"01\""},
	    {"\"vcpu_pin\":{\"64\":\"0\"}", "vCPU 64 is above 63"},
	    {"\"vcpu_pin\":{}", "empty"},
	    {"\"vcpu_pin\":\"0:1\"", "must be an object"},
	    {"\"vcpu_pin\":{\"0\":1}", "CPU list string"},
	    {"\"emulator_pin\":\"a\"", "emulator_pin"},
	    {"\"emulator_pin\":\"\"", "emulator_pin: empty"},
	    {"\"emulator_pin\":\"4095\"", "emulator_pin"},
	    {"\"pin\":\"0\",\"vcpu_pin\":{\"0\":\"0\"}", "not both"},
	    {"\"pin\":\"0,,1\"", "pin"},
	};
	char body[320];
	struct json_object *r;
	long st;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(body, sizeof(body),
			 "{\"name\":\"bad\",\"guest\":false,\"accel\":\"tcg\",\"mem_mib\":64,"
			 "\"cpus\":2,%s}",
			 bad[i][0]);
		r = post(body, 400);
		cr_expect_str_eq(td_err_class(r), "InvalidParameter", "%s", body);
		cr_expect(strstr(td_err_desc(r), bad[i][1]), "%s: '%s' does not name '%s'", body,
			  td_err_desc(r), bad[i][1]);
		json_object_put(r);
		r = td_http(&d, "GET", "/v1/vms/bad", NULL, &st);
		cr_expect_eq(st, 404, "%s created a VM", body);
		json_object_put(r);
	}
	/* a template's VM is not pinned; its clones are pinned with PUT .../cpu */
	r = td_http(&d, "POST", "/v1/templates",
		    "{\"name\":\"t\",\"guest\":false,\"vcpu_pin\":{\"0\":\"0\"}}", &st);
	cr_expect_eq(st, 400);
	cr_expect(strstr(td_err_desc(r), "not a template's"), "%s", td_err_desc(r));
	json_object_put(r);
	r = td_http(&d, "POST", "/v1/vms", "{\"name\":\"c\",\"from\":\"t\",\"emulator_pin\":\"0\"}",
		    &st);
	cr_expect_eq(st, 400);
	cr_expect(strstr(td_err_desc(r), "'emulator_pin' cannot be given with 'from'"), "%s",
		  td_err_desc(r));
	json_object_put(r);
	cr_expect_eq(td_count_qemus(&d), 0);
}

/*
 * A daemon killed with the VM running: the new one reads the pins back,
 * shows them, and sets back a vCPU and an emulator thread someone moved
 * while no daemon watched.
 */
Test(pin, reattach_reapplies_what_someone_changed)
{
	char w0[8], w1[8], emu[8];
	struct json_object *r = create_crossed("r", w0, w1, emu), *map;
	const char *want[] = {w0, w1};
	pid_t tids[2], pid;
	cpu_set_t all;
	char got[128];

	json_object_put(r);
	expect_threads("r", want, 2, emu, "after create");
	cr_assert_eq(vcpu_tids("r", tids, 2), 2);
	pid = vm_pid("r");
	td_kill9(&d);
	cr_assert_eq(sched_getaffinity(0, sizeof(all), &all), 0);
	cr_assert_eq(sched_setaffinity(tids[0], sizeof(all), &all), 0);
	cr_assert_eq(sched_setaffinity(pid, sizeof(all), &all), 0);
	allowed(pid, tids[0], got, sizeof(got));
	cr_assert_str_neq(got, w0, "the test did not move vCPU 0");
	td_restart(&d);
	expect_threads("r", want, 2, emu, "after the daemon's restart");
	cr_expect_eq(vm_pid("r"), pid, "the VM was restarted, not reattached");
	r = td_http(&d, "GET", "/v1/vms/r", NULL, &(long){0});
	cr_assert(json_object_object_get_ex(r, "vcpu_pin", &map) && map);
	cr_expect_str_eq(td_str(map, "0"), w0);
	cr_expect_str_eq(td_str(r, "emulator_pin"), emu);
	json_object_put(r);
}
