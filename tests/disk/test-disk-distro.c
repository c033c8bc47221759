/*
 * The Debian systemd image (scripts/mkdistro.sh) under the real daemon,
 * TCG (issue 21): two VMs on the one image at once, each with its own
 * root file system, the image's hash unchanged; `vmctl run --disk` with
 * --kernel; `vmctl exec --via ssh` straight after `vmctl ip --wait` (sshd
 * comes seconds after the agent on systemd); shares both ways; a graceful
 * stop through logind. Skips without the image (built as root by make check).
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/snapshot/template-util.h"

static struct tdaemon d;
static char img[512], key[512];

static void up(void)
{
	const char *dd = td_distro_dir();

	if (!dd)
		cr_skip_test("no Debian image (scripts/mkdistro.sh; built by make check as root)");
	snprintf(img, sizeof(img), "%s/disk.raw", dd);
	snprintf(key, sizeof(key), "%s/test_key", dd);
	tt_start_conf(&d, "stop_grace_s = 60");
}

static void down(void)
{
	tt_stop(&d);
}

TestSuite(distro, .init = up, .fini = down, .timeout = 900);

/* A shell command's whole stdout (malloc'd); its exit status in *st. */
static char *sh_out(int *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sh_out(int *st, const char *fmt, ...)
{
	char cmd[4096], *out = NULL;
	size_t n = 0;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_not_null(p = popen(cmd, "r"), "%s", cmd);
	if (getdelim(&out, &n, '\0', p) < 0) {
		free(out);
		out = strdup("");
	}
	*st = pclose(p);
	return out;
}

static const char *vmctl(void)
{
	static char path[600];
	const char *top = getenv("top_builddir");

	snprintf(path, sizeof(path), "%s/src/cli/vmctl", top ? top : ".");
	return path;
}

static char *guest(const char *vm, const char *script)
{
	int s;
	char *out = tt_sh(&d, vm, script, &s);

	cr_assert(out && s == 0, "%s: %s: status %d: %s", vm, script, s, out ? out : "");
	return out;
}

static char *overlay_of(const char *vm)
{
	char path[128];
	long st;
	struct json_object *o = NULL, *dk, *ov;
	char *r = NULL;

	snprintf(path, sizeof(path), "/v1/vms/%s", vm);
	o = td_http(&d, "GET", path, NULL, &st);
	if (json_object_object_get_ex(o, "disk", &dk) && dk &&
	    json_object_object_get_ex(dk, "overlay", &ov) && ov)
		r = strdup(json_object_get_string(ov));
	json_object_put(o);
	cr_assert_not_null(r, "%s has no overlay", vm);
	return r;
}

static void boot(const char *name)
{
	struct json_object *r;
	long st;

	r = td_create_distro(&d, name, 384, &st);
	cr_assert_eq(st, 201, "%s", json_object_to_json_string(r));
	json_object_put(r);
}

static void wait_ip(const char *name)
{
	long st;
	struct json_object *r = td_wait_ip(&d, name, 600, &st);

	cr_assert_eq(st, 200, "%s: no address: %s", name, json_object_to_json_string(r));
	json_object_put(r);
}

Test(distro, two_vms_on_one_image)
{
	int st;
	char *before = sh_out(&st, "sha256sum '%s' | cut -c1-64", img), *after, *o;
	char *ov[2];
	const char *vm[2] = {"deb-a", "deb-b"};
	struct stat sb;

	for (int i = 0; i < 2; i++)
		boot(vm[i]);
	for (int i = 0; i < 2; i++) {
		char script[128];
		wait_ip(vm[i]);
		snprintf(script, sizeof(script), "echo %s >/root/mine-%s && sync", vm[i], vm[i]);
		free(guest(vm[i], script));
	}
	for (int i = 0; i < 2; i++) {
		char want[64];
		o = guest(vm[i], "ls /root/ | grep mine-");
		snprintf(want, sizeof(want), "mine-%s\n", vm[i]);
		cr_expect_str_eq(o, want, "%s sees only its own file", vm[i]);
		free(o);
		ov[i] = overlay_of(vm[i]);
		cr_expect_eq(stat(ov[i], &sb), 0, "%s", ov[i]);
	}
	for (int i = 0; i < 2; i++) {
		char path[128];
		long hs;
		snprintf(path, sizeof(path), "/v1/vms/%s", vm[i]);
		json_object_put(td_http(&d, "DELETE", path, NULL, &hs));
		cr_expect_eq(hs, 200);
		cr_expect_neq(stat(ov[i], &sb), 0, "overlay %s removed", ov[i]);
		free(ov[i]);
	}
	after = sh_out(&st, "sha256sum '%s' | cut -c1-64", img);
	cr_expect_str_eq(after, before, "the Debian image was written");
	free(before);
	free(after);
}

/* A guest kernel panic reaches qemu through the pvpanic device (the
 * image's udev loads pvpanic-mmio for it): the VM ends crashed, with the
 * panic as its reason, where before it rebooted (panic=-1) or hung unseen. */
Test(distro, kernel_panic_is_a_crash)
{
	struct json_object *r = NULL;
	char *out;
	double end;
	long st;

	boot("deb-p");
	wait_ip("deb-p");
	out = guest("deb-p", "for i in $(seq 30); do grep -q '^pvpanic_mmio ' /proc/modules && "
			     "break; sleep 1; done; grep -o '^pvpanic_mmio' /proc/modules");
	cr_expect_str_eq(out, "pvpanic_mmio\n",
			 "the guest did not load pvpanic-mmio for the device");
	free(out);
	/* in the background: the agent's exec returns before the guest dies */
	free(guest("deb-p", "(sleep 1; echo c >/proc/sysrq-trigger) >/dev/null 2>&1 & echo ok"));
	for (end = td_now() + 120; td_now() < end; sleep(1)) {
		json_object_put(r);
		r = td_http(&d, "GET", "/v1/vms/deb-p", NULL, &st);
		if (td_str(r, "state") && !strcmp(td_str(r, "state"), "crashed"))
			break;
	}
	cr_assert_str_eq(td_str(r, "state"), "crashed", "after the panic: %s",
			 json_object_to_json_string(r));
	cr_expect(td_str(r, "error") && strstr(td_str(r, "error"), "panicked"), "error: %s",
		  td_str(r, "error"));
	cr_log_info("deb-p after sysrq-c: %s (exit_reason %s)", td_str(r, "error"),
		    td_str(r, "exit_reason"));
	json_object_put(r);
}

/* vmctl run on the image, booted with the image's kernel: root's id and
 * the guest's kernel, over ssh, then the VM is gone. */
Test(distro, vmctl_run_with_kernel_and_disk)
{
	const char *dd = td_distro_dir();
	char append[256] = "", *out, *rel;
	int st;

	td_guest_append(dd, append, sizeof(append));
	rel = sh_out(&st, "sed -n 's/^package linux-image-\\([0-9][^ ]*\\) .*/\\1/p' '%s/MANIFEST'",
		     dd);
	out = sh_out(&st,
		     "'%s' --socket '%s' run --name deb-run --accel tcg --mem 384 --timeout 600 "
		     "--ssh-key '%s' --kernel '%s/vmlinuz' --initrd '%s/initrd.img' --append '%s' "
		     "--disk '%s:raw' -- sh -c 'id -u; uname -r' 2>&1",
		     vmctl(), d.sock, key, dd, dd, append, img);
	cr_expect_eq(st, 0, "vmctl run: %s", out);
	cr_expect(strncmp(out, "0\n", 2) == 0 && strstr(out, rel) && *rel,
		  "id -u and uname -r (%s): %s", rel, out);
	free(out);
	free(rel);
	cr_expect_eq(td_count_qemus(&d), 0, "run leaves no VM");
}

/* sshd answers seconds after the agent and the address: exec --via ssh
 * waits for it. Shares both ways, then a graceful stop. */
Test(distro, ssh_after_ip_shares_and_stop)
{
	const char *dd = td_distro_dir();
	char rw[600], ro[600], append[256] = "", body[3000], *out;
	struct json_object *r;
	double t0;
	long hs;
	int st;

	snprintf(rw, sizeof(rw), "%s/rw", d.dir);
	snprintf(ro, sizeof(ro), "%s/ro", d.dir);
	cr_assert_eq(mkdir(rw, 0755), 0);
	cr_assert_eq(mkdir(ro, 0755), 0);
	free(sh_out(&st, "echo from-host >'%s/in'; echo ro-file >'%s/f'", rw, ro));
	td_guest_append(dd, append, sizeof(append));
	snprintf(body, sizeof(body),
		 "{\"name\":\"deb-s\",\"accel\":\"tcg\",\"mem_mib\":384,\"kernel\":\"%s/vmlinuz\","
		 "\"initrd\":\"%s/initrd.img\",\"append\":\"%s\",\"disk\":\"%s\","
		 "\"disk_format\":\"raw\",\"shares\":[{\"path\":\"%s\"},{\"path\":\"%s\","
		 "\"readonly\":true}]}",
		 dd, dd, append, img, rw, ro);
	r = td_http(&d, "POST", "/v1/vms", body, &hs);
	cr_assert_eq(hs, 201, "%s", json_object_to_json_string(r));
	json_object_put(r);

	out = sh_out(&st,
		     "'%s' --socket '%s' ip --wait 600 deb-s 2>&1 && '%s' --socket '%s' exec "
		     "--via ssh --ssh-key '%s' deb-s -- sh -c 'cat %s/in; cat %s/f; "
		     "echo from-guest >%s/out; echo x >%s/g || echo ro-refused' 2>&1",
		     vmctl(), d.sock, vmctl(), d.sock, key, rw, ro, rw, ro);
	cr_expect_eq(st, 0, "ip --wait then exec --via ssh: %s", out);
	cr_expect(strstr(out, "from-host\nro-file\n") && strstr(out, "ro-refused"), "%s", out);
	free(out);
	out = sh_out(&st, "cat '%s/out'", rw);
	cr_expect_str_eq(out, "from-guest\n", "the guest's write reached the host");
	free(out);

	t0 = td_now();
	out = sh_out(&st, "'%s' --socket '%s' stop deb-s 2>&1", vmctl(), d.sock);
	cr_expect_eq(st, 0, "stop: %s", out);
	free(out);
	/* ACPI through logind: well before stop_grace_s (60) would force it */
	cr_expect_lt(td_now() - t0, 45, "graceful stop took %.1f s", td_now() - t0);
	r = td_http(&d, "GET", "/v1/vms/deb-s", NULL, &hs);
	cr_expect_str_eq(td_str(r, "state"), "stopped");
	json_object_put(r);
}

static void up_pool(void)
{
	const char *dd = td_distro_dir();

	if (!dd)
		cr_skip_test("no Debian image (scripts/mkdistro.sh; built by make check as root)");
	snprintf(img, sizeof(img), "%s/disk.raw", dd);
	snprintf(key, sizeof(key), "%s/test_key", dd);
	tt_start_conf(&d, "pool_template = debt\npool_size = 1");
}

TestSuite(distro_pool, .init = up_pool, .fini = down, .timeout = 900);

/* Until the pool has a member ready (the test fails after timeout_s). */
static void wait_pool_ready(int timeout_s)
{
	struct json_object *r = NULL;
	double end = td_now() + timeout_s;
	long hs;

	for (;;) {
		json_object_put(r);
		r = td_http(&d, "GET", "/v1/pool", NULL, &hs);
		if (td_int(r, "ready") >= 1)
			break;
		cr_assert(td_now() < end, "no pool member ready in %d s: %s", timeout_s,
			  json_object_to_json_string(r));
		sleep(1);
	}
	json_object_put(r);
}

static double wall_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* the pool's next member, paused a while: its clock is behind until taken */
static void take_sets_the_clock_by_date(void)
{
	struct json_object *r, *p;
	char name[64], *out;
	long hs;
	double off, before, after, g;

	wait_pool_ready(600);
	sleep(3);
	r = td_http(&d, "POST", "/v1/pool/take", "{}", &hs);
	cr_assert_eq(hs, 201, "take: %s", json_object_to_json_string(r));
	snprintf(name, sizeof(name), "%s", td_str(r, "name"));
	p = json_object_object_get(r, "pool");
	cr_expect(json_object_get_boolean(json_object_object_get(p, "clock_set")), "%s",
		  json_object_to_json_string(r));
	/* GNU date: no hwclock -w, which waits for the RTC's next second */
	cr_expect_str_eq(json_object_get_string(json_object_object_get(p, "clock_method")), "date");
	cr_expect_lt(fabs(json_object_get_double(json_object_object_get(p, "clock_skew_ms"))),
		     500.0, "%s", json_object_to_json_string(p));
	cr_log_info("distro warm take in %.1f ms, skew %.1f ms",
		    json_object_get_double(json_object_object_get(p, "take_ms")),
		    json_object_get_double(json_object_object_get(p, "clock_skew_ms")));
	json_object_put(r);
	/* the guest's own clock, read between two readings of the host's */
	before = wall_s();
	out = guest(name, "date +%s.%N");
	after = wall_s();
	g = strtod(out, NULL);
	free(out);
	off = g < before ? g - before : g > after ? g - after : 0;
	cr_expect_lt(fabs(off), 1.0, "guest clock %.3f s off after the take", off);
	td_destroy(&d, name);
}

/*
 * A clone's clock after its restore: set by a relative date (GNU date: no
 * hwclock -w waiting for the RTC's next second), within half a second.
 */
static void clone_clock_by_date(const char *name)
{
	struct json_object *r = NULL, *t, *f = NULL;
	char path[128];
	long hs;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	/* the identity step makes new ssh host keys: slow under TCG */
	for (int k = 0; k < 3000 && !f; k++) {
		json_object_put(r);
		r = td_http(&d, "GET", path, NULL, &hs);
		if (!json_object_object_get_ex(r, "template", &t) ||
		    !json_object_object_get_ex(t, "refresh", &f) || !f)
			usleep(100000);
	}
	cr_assert_not_null(f, "%s: refresh never reported", name);
	cr_expect_str_eq(td_str(f, "clock_method") ? td_str(f, "clock_method") : "", "date",
			 "%s: %s", name, json_object_to_json_string(f));
	cr_expect_lt(fabs(json_object_get_double(json_object_object_get(f, "skew_ms"))), 500.0,
		     "%s: %s", name, json_object_to_json_string(f));
	cr_log_info("%s: refresh %.0f ms by %s, skew %.1f ms", name,
		    json_object_get_double(json_object_object_get(f, "ms")),
		    td_str(f, "clock_method"),
		    json_object_get_double(json_object_object_get(f, "skew_ms")));
	json_object_put(r);
}

/*
 * A template of the Debian VM: two clones, each its own root file system
 * over the template's disk, which does not change; then the warm pool
 * (pool_template names it) serves `vmctl run --pool`.
 */
Test(distro_pool, template_clones_and_pool)
{
	const char *dd = td_distro_dir();
	char append[256] = "", body[2048], tdisk[600], *h0, *h1, *out;
	struct json_object *r;
	long hs;
	int st;

	td_guest_append(dd, append, sizeof(append));
	snprintf(body, sizeof(body),
		 "{\"name\":\"debt\",\"accel\":\"tcg\",\"mem_mib\":384,\"kernel\":\"%s/vmlinuz\","
		 "\"initrd\":\"%s/initrd.img\",\"append\":\"%s\",\"disk\":\"%s\","
		 "\"disk_format\":\"raw\"}",
		 dd, dd, append, img);
	r = td_http(&d, "POST", "/v1/templates", body, &hs);
	cr_assert_eq(hs, 201, "template: %s", json_object_to_json_string(r));
	json_object_put(r);
	snprintf(tdisk, sizeof(tdisk), "%s/state/templates/debt/disk.qcow2", d.dir);
	h0 = sh_out(&st, "sha256sum '%s' | cut -c1-64", tdisk);

	for (int i = 0; i < 2; i++) {
		char name[16], script[128];
		snprintf(name, sizeof(name), "clone%d", i);
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"from\":\"debt\"}", name);
		r = td_http(&d, "POST", "/v1/vms", body, &hs);
		cr_assert_eq(hs, 201, "%s: %s", name, json_object_to_json_string(r));
		json_object_put(r);
		r = tt_wait_agent(&d, name, 300000);
		cr_assert_not_null(r, "%s: no agent", name);
		json_object_put(r);
		snprintf(script, sizeof(script), "echo %s >/root/clone-%s && sync", name, name);
		free(guest(name, script));
		clone_clock_by_date(name);
	}
	for (int i = 0; i < 2; i++) {
		char name[16], want[64];
		snprintf(name, sizeof(name), "clone%d", i);
		out = guest(name, "ls /root/ | grep clone-");
		snprintf(want, sizeof(want), "clone-%s\n", name);
		cr_expect_str_eq(out, want, "%s sees only its own file", name);
		free(out);
		td_destroy(&d, name);
	}
	h1 = sh_out(&st, "sha256sum '%s' | cut -c1-64", tdisk);
	cr_expect_str_eq(h1, h0, "the template's disk was written");
	free(h0);
	free(h1);

	/* the pool fills from the template once it is saved */
	wait_pool_ready(600);
	out = sh_out(&st, "'%s' --socket '%s' run --pool --via agent -- cat /etc/os-release 2>&1",
		     vmctl(), d.sock);
	cr_expect_eq(st, 0, "run --pool: %s", out);
	cr_expect(strstr(out, "Debian"), "%s", out);
	free(out);
	take_sets_the_clock_by_date();
}
