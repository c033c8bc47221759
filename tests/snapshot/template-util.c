#include "tests/snapshot/template-util.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/util/b64.h"

void tt_guest(char kernel[512], char initrd[512])
{
	const char *g = getenv("VMSUP_GUEST_DIR");
	struct stat sb;

	if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0)
		cr_skip_test("qemu-system-x86_64 is not installed");
	if (!g || stat(g, &sb) < 0)
		g = "/tmp/guest";
	snprintf(kernel, 512, "%s/vmlinuz", g);
	snprintf(initrd, 512, "%s/initrd.img", g);
	cr_assert_eq(stat(kernel, &sb), 0, "no test guest kernel %s (scripts/mkguest.sh)", kernel);
	cr_assert_eq(stat(initrd, &sb), 0, "no test guest initrd %s", initrd);
}

void tt_guest_append(const char *kernel, char append[512])
{
	char dir[512];

	snprintf(dir, sizeof(dir), "%s", kernel);
	*strrchr(dir, '/') = '\0';
	snprintf(append, 512, "console=ttyS0");
	td_guest_append(dir, append, 512);
}

char *tt_spec(const char *name, int mem_mib)
{
	char k[512], i[512], a[512], *s;

	tt_guest(k, i);
	tt_guest_append(k, a);
	cr_assert_geq(asprintf(&s,
			       "{\"name\":\"%s\",\"kernel\":\"%s\",\"initrd\":\"%s\","
			       "\"append\":\"%s\",\"mem_mib\":%d,\"accel\":\"tcg\"}",
			       name, k, i, a, mem_mib),
		      0);
	return s;
}

static struct tdaemon *registered;

static void kill_all(void)
{
	if (registered)
		td_kill_qemus(registered);
}

void tt_start(struct tdaemon *d)
{
	tt_start_conf(d, NULL);
}

void tt_start_conf(struct tdaemon *d, const char *extra_conf)
{
	td_start(d, extra_conf);
	registered = d;
	atexit(kill_all);
}

void tt_stop(struct tdaemon *d)
{
	if (!d->dir[0])
		return;
	td_kill_qemus(d); /* before td_stop removes the pidfiles with the dir */
	td_stop(d);
	registered = NULL;
}

int tt_qemus(struct tdaemon *d)
{
	return td_count_qemus(d);
}

char *tt_sh(struct tdaemon *d, const char *vm, const char *script, int *status)
{
	struct json_object *body = json_object_new_object(), *argv = json_object_new_array(), *r;
	char path[160], *out = NULL;
	long st;

	json_object_array_add(argv, json_object_new_string("/bin/sh"));
	json_object_array_add(argv, json_object_new_string("-c"));
	json_object_array_add(argv, json_object_new_string(script));
	json_object_object_add(body, "argv", argv);
	json_object_object_add(body, "timeout_s",
			       json_object_new_int(170)); /* under the client's 180 s */
	snprintf(path, sizeof(path), "/v1/vms/%s/exec", vm);
	r = td_http(d, "POST", path, json_object_to_json_string(body), &st);
	json_object_put(body);
	*status = -1;
	if (st == 200 && r) {
		const char *o = td_str(r, "stdout_b64");
		size_t n;
		*status = (int)td_int(r, "status");
		if (o)
			out = (char *)b64_decode(o, strlen(o), &n);
	} else {
		cr_log_warn("exec in %s: HTTP %ld: %s", vm, st, r ? td_err_desc(r) : "no reply");
	}
	json_object_put(r);
	return out;
}

struct json_object *tt_wait_agent(struct tdaemon *d, const char *vm, int timeout_ms)
{
	double end = td_now() + timeout_ms / 1000.0;
	char path[160];

	snprintf(path, sizeof(path), "/v1/vms/%s", vm);
	while (td_now() < end) {
		long st;
		struct json_object *r = td_http(d, "GET", path, NULL, &st);
		const char *a = r ? td_str(r, "agent") : NULL;
		if (st == 200 && a && !strcmp(a, "ready"))
			return r;
		json_object_put(r);
		usleep(20000);
	}
	return NULL;
}
