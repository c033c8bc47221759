/*
 * The test guest under TCG: graceful stop is an ACPI power-off, a kernel
 * given no command line still writes its console to console.log, and an
 * agent exec's output is cut at exec_output_max (flagged), even when
 * qemu-ga's reply is over the QMP default of 16 MiB; 12 MB of output come
 * back whole (sha256) with vmsupd's peak RSS growing by under 3x of it.
 * The guest takes entropy from the host (virtio-rng).
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/util/b64.h"
#include "tests/lib/daemon-harness.h"

#define OUT_MAX 65536

static struct tdaemon d;

/* POST exec of a shell line: stdout's length and stdout_truncated. */
static void exec_out(const char *line, size_t *len, bool *cut)
{
	char body[512];
	struct json_object *r, *v;
	unsigned char *out;
	long st;

	snprintf(body, sizeof(body), "{\"argv\":[\"sh\",\"-c\",\"%s\"],\"timeout_s\":120}", line);
	r = td_http(&d, "POST", "/v1/vms/g/exec", body, &st);
	cr_assert_eq(st, 200, "exec %s: %ld %s", line, st, td_err_desc(r) ? td_err_desc(r) : "");
	cr_assert(td_str(r, "stdout_b64"));
	out = b64_decode(td_str(r, "stdout_b64"), strlen(td_str(r, "stdout_b64")), len);
	cr_assert_not_null(out);
	free(out);
	cr_assert(json_object_object_get_ex(r, "stdout_truncated", &v));
	*cut = json_object_get_boolean(v);
	json_object_put(r);
}

/* POST exec of a shell line: its stdout into out (NUL-terminated, cut to n). */
static void exec_text(const char *line, char *out, size_t n)
{
	char body[512];
	struct json_object *r;
	unsigned char *o;
	size_t len;
	long st;

	snprintf(body, sizeof(body), "{\"argv\":[\"sh\",\"-c\",\"%s\"],\"timeout_s\":60}", line);
	r = td_http(&d, "POST", "/v1/vms/g/exec", body, &st);
	cr_assert_eq(st, 200, "exec %s: %ld %s", line, st, td_err_desc(r) ? td_err_desc(r) : "");
	o = b64_decode(td_str(r, "stdout_b64"), strlen(td_str(r, "stdout_b64")), &len);
	cr_assert_not_null(o);
	snprintf(out, n, "%.*s", (int)len, (const char *)o);
	free(o);
	json_object_put(r);
}

static void down(void)
{
	td_stop(&d);
}

TestSuite(guest, .fini = down, .timeout = 300);

/* No "append" and no default_append: the console still reaches console.log. */
Test(guest, graceful_stop_is_acpi_poweroff)
{
	const char *gd = getenv("VMSUP_GUEST_DIR");
	char kernel[512], initrd[512], console[512] = "";
	struct json_object *r;
	long st;
	int ev;
	pid_t pid;

	if (!gd)
		gd = "/tmp/guest";
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", gd);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", gd);
	if (access(kernel, R_OK) || access(initrd, R_OK))
		cr_skip_test("no test guest in %s (scripts/mkguest.sh builds it)", gd);
	td_start(&d, "exec_output_max = 65536"); /* OUT_MAX */
	/* every VM's events (g is this daemon's only VM): a stream filtered on
	 * a VM that does not exist yet is 404 */
	ev = td_events_open(&d, NULL);
	r = td_create_guest(&d, "g", kernel, initrd);
	pid = (pid_t)td_int(r, "pid");
	if (td_str(r, "console_log"))
		snprintf(console, sizeof(console), "%s", td_str(r, "console_log"));
	json_object_put(r);
	/* the guest's userland (acpid) is up once it opens the agent port */
	cr_assert(td_events_wait(ev, "VSERPORT_CHANGE", 120000), "guest did not boot in 120 s");
	/* the kernel's first line, and the init script's last (via /dev/console) */
	cr_expect(*console && td_file_has(console, "Linux version"),
		  "no kernel messages in the console log '%s'", console);
	cr_expect(*console && td_file_has(console, "rc: guest up"),
		  "no init output in the console log '%s'", console);
	json_object_put(td_wait_ip(&d, "g", 120, &st));
	cr_assert_eq(st, 200, "the guest's agent did not come up");
	{
		/* the host's entropy (virtio-rng): the guest's crng is ready
		 * soon after boot. Without it, an idle TCG guest (no RDRAND)
		 * had no "crng init done" in 60 s, and its sshd waited on it */
		char out[256] = "";

		exec_text("cat /sys/class/misc/hw_random/rng_current", out, sizeof(out));
		cr_expect(!strncmp(out, "virtio_rng", 10), "the guest's hwrng: '%s'", out);
		for (int i = 0; i < 60 && !strstr(out, "crng init done"); i++) {
			if (i)
				sleep(1);
			exec_text("dmesg | grep -m1 'crng init done'", out, sizeof(out));
		}
		cr_expect(strstr(out, "crng init done"), "the guest's crng is not ready");
	}
	{
		size_t len;
		bool cut;
		double t0;

		exec_out("head -c 1000 /dev/zero", &len, &cut);
		cr_expect(len == 1000 && !cut, "1000 bytes: %zu back, truncated %d", len, cut);
		exec_out("head -c 100000 /dev/zero", &len, &cut);
		cr_expect(len == OUT_MAX && cut, "100000 bytes: %zu back, truncated %d", len, cut);
		/* qemu-ga's reply (base64) over 16 MiB: was a 502 */
		t0 = td_now();
		exec_out("head -c 13000000 /dev/zero", &len, &cut);
		cr_expect(len == OUT_MAX && cut, "13 MB: %zu back, truncated %d", len, cut);
		cr_log_info("13 MB of output through the agent in %.1f s", td_now() - t0);
	}
	r = td_http(&d, "POST", "/v1/vms/g/stop", "{\"timeout_s\":90}", &st);
	cr_expect_eq(st, 200);
	cr_expect_str_eq(td_str(r, "state"), "stopped");
	cr_expect_eq(td_int(r, "exit_status"), 0);
	json_object_put(r);
	/* the guest powered itself off: SHUTDOWN came from the guest, not from quit */
	cr_expect(td_events_wait(ev, "\"guest\":true", 1000),
		  "no guest-initiated SHUTDOWN event (power-off timed out into quit?)");
	cr_expect(td_pid_gone(pid, 5000));
	close(ev);
}

/* kB of a "Vm...:" line of /proc/PID/status */
static long status_kb(pid_t pid, const char *key)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	cr_assert_not_null(f = fopen(path, "re"));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			kb = atol(line + strlen(key) + 1);
	fclose(f);
	return kb;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned len = 0;

	cr_assert(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL));
	for (unsigned i = 0; i < len && i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

#define BIG_OUT 12000000 /* under qemu-ga's 16 MiB cap and exec_output_max's default */
#define PATTERN "0123456789abcdef\n"

/*
 * The output decoded where the agent's reply holds it and encoded straight
 * into the HTTP reply: vmsupd's peak RSS over the exec (VmHWM, reset by
 * clear_refs) grows by about 2.7x the output (the reply's base64 while
 * json-c copies it out of its tokener, 2 x 4/3), was 9x. One more whole
 * copy of the output (1x) or of its base64 (1.33x) would cross 3x.
 */
Test(guest, big_exec_output_whole_and_rss_bounded)
{
	char kernel[512], initrd[512], body[2048], want[65], got[65];
	const char *line = "{\"argv\":[\"sh\",\"-c\",\"yes 0123456789abcdef | head -c 12000000\"],"
			   "\"timeout_s\":300}";
	struct json_object *r, *v;
	unsigned char *out, *exp;
	size_t len;
	long st, rss0, hwm;
	int fd;

	if (!td_guest_files(kernel, initrd, sizeof(kernel)))
		cr_skip_test("no test guest (VMSUP_GUEST_DIR; scripts/mkguest.sh builds it)");
	td_start(&d, NULL); /* exec_output_max: the default, 16 MiB */
	json_object_put(td_create_guest(&d, "g", kernel, initrd));
	json_object_put(td_wait_ip(&d, "g", 120, &st));
	cr_assert_eq(st, 200, "the guest's agent did not come up");

	/* the high-water mark from now on (Linux: "5" resets VmHWM to VmRSS) */
	snprintf(body, sizeof(body), "/proc/%d/clear_refs", (int)d.pid);
	cr_assert_geq(fd = open(body, O_WRONLY | O_CLOEXEC), 0, "%s", body);
	cr_assert_eq(write(fd, "5", 1), 1, "resetting VmHWM");
	close(fd);
	rss0 = status_kb(d.pid, "VmRSS");
	r = td_http(&d, "POST", "/v1/vms/g/exec", line, &st);
	hwm = status_kb(d.pid, "VmHWM");
	cr_assert_eq(st, 200, "exec: %ld %s", st, td_err_desc(r) ? td_err_desc(r) : "");
	cr_assert(json_object_object_get_ex(r, "stdout_truncated", &v));
	cr_expect(!json_object_get_boolean(v), "12 MB flagged truncated");
	cr_expect_eq(td_int(r, "status"), 0);
	cr_assert(td_str(r, "stdout_b64"));
	out = b64_decode(td_str(r, "stdout_b64"), strlen(td_str(r, "stdout_b64")), &len);
	cr_assert_not_null(out);
	json_object_put(r);

	cr_assert_not_null(exp = malloc(BIG_OUT));
	for (size_t i = 0; i < BIG_OUT; i++)
		exp[i] = (unsigned char)PATTERN[i % (sizeof(PATTERN) - 1)];
	sha256_hex(exp, BIG_OUT, want);
	sha256_hex(out, len, got);
	free(exp);
	free(out);
	cr_expect_eq(len, BIG_OUT, "%zu bytes back", len);
	cr_expect_str_eq(got, want, "the output's sha256");

	cr_log_info("vmsupd for %d bytes of output: RSS %ld kB before, peak %ld kB: +%.2fx the "
		    "output",
		    BIG_OUT, rss0, hwm, (hwm - rss0) * 1024.0 / BIG_OUT);
	cr_expect_lt((hwm - rss0) * 1024.0, 3.0 * BIG_OUT,
		     "vmsupd's peak RSS grew by %ld kB for %d bytes of output", hwm - rss0,
		     BIG_OUT);
}
