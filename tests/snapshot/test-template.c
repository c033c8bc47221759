/*
 * Templates through the real daemon and the test guest (TCG): make one,
 * restore three VMs from it at once, check each is its own machine with a
 * fresh clock and RNG, break copies of it in every way, remove it.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "tests/snapshot/template-util.h"

#define NVM 3

static struct tdaemon d;

static void teardown(void)
{
	tt_stop(&d);
}

static struct json_object *post(const char *path, const char *body, long *st)
{
	return td_http(&d, "POST", path, body, st);
}

static double realtime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The ssh forward of a VM reaches that VM's sshd: its banner comes back. */
static int ssh_banner(int port, char *buf, size_t len)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {60, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return 0;
}

struct restore {
	char name[32];
	long status;
	struct json_object *vm;
	double secs;
};

static void *restore_one(void *arg)
{
	struct restore *r = arg;
	char body[128];
	double t0 = td_now();

	snprintf(body, sizeof(body), "{\"name\":\"%s\",\"from\":\"base\"}", r->name);
	r->vm = post("/v1/vms", body, &r->status);
	r->secs = td_now() - t0;
	return NULL;
}

/* Copy the template directory under another name; edit (may be NULL) changes its meta. */
static void copy_template(const char *to, void (*edit)(struct json_object *meta))
{
	char cmd[512], meta[512];
	struct json_object *m;

	snprintf(cmd, sizeof(cmd), "cp -r %s/state/templates/base %s/state/templates/%s", d.dir,
		 d.dir, to);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(meta, sizeof(meta), "%s/state/templates/%s/meta.json", d.dir, to);
	cr_assert_not_null(m = json_object_from_file(meta));
	json_object_object_add(m, "name", json_object_new_string(to));
	if (edit)
		edit(m);
	cr_assert_eq(json_object_to_file(meta, m), 0);
	json_object_put(m);
}

/* The template's device set with another memory size. */
static void other_mem(struct json_object *m)
{
	struct json_object *dc = json_object_object_get(m, "devconfig");

	for (size_t i = 0; i + 1 < json_object_array_length(dc); i++)
		if (!strcmp(json_object_get_string(json_object_array_get_idx(dc, i)), "-m"))
			json_object_array_put_idx(dc, i + 1, json_object_new_string("512"));
}

/* A template saved before the files' hashes were recorded. */
static void no_hashes(struct json_object *m)
{
	json_object_object_del(m, "state_sha256");
	json_object_object_del(m, "ram_sha256");
}

static void other_qemu(struct json_object *m)
{
	json_object_object_add(m, "qemu_version", json_object_new_string("1.0.0"));
}

static void expect_no_vm_qemu(const char *name)
{
	char path[128];
	long st;
	struct json_object *r;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	r = td_http(&d, "GET", path, NULL, &st);
	if (st == 200) {
		cr_expect_null(json_object_object_get(r, "pid") ? json_object_object_get(r, "pid")
								: NULL,
			       "%s: a qemu is left", name);
		json_object_put(r);
		r = td_http(&d, "DELETE", path, NULL, &st);
	}
	json_object_put(r);
}

Test(template, make_restore_three_break_remove, .fini = teardown, .timeout = 1500)
{
	char *spec = tt_spec("base", 256), *out;
	struct json_object *r, *t, *v;
	struct restore rs[NVM] = {{.name = "r0"}, {.name = "r1"}, {.name = "r2"}};
	pthread_t th[NVM];
	char rnd[NVM][200];
	int ports[NVM], xs;
	long st;

	tt_start(&d);

	/* --- make --- */
	r = post("/v1/templates", spec, &st);
	free(spec);
	cr_assert_eq(st, 201, "template create: %ld %s", st, r ? td_err_desc(r) : "");
	cr_expect_str_eq(td_str(r, "name"), "base");
	/* device state only: guest RAM is in the template's own file (x-ignore-shared) */
	cr_expect_gt(td_int(r, "state_bytes"), 100000);
	cr_expect_lt(td_int(r, "state_bytes"), 16 << 20, "guest RAM went into the state file");
	cr_expect_str_eq(td_str(r, "ram_file"), "ram");
	cr_expect_eq(td_int(r, "ram_bytes"), 256LL << 20);
	{
		/* pages the guest never wrote are holes in the RAM file, not zeros on disk */
		char rp[256];
		struct stat sb;
		snprintf(rp, sizeof(rp), "%s/state/templates/base/ram", d.dir);
		cr_assert_eq(stat(rp, &sb), 0, "%s", rp);
		cr_expect_eq(sb.st_size, 256LL << 20);
		cr_expect_lt((long long)sb.st_blocks * 512, sb.st_size,
			     "the RAM file is not sparse");
		cr_log_info("RAM file: %lld of %lld bytes allocated", (long long)sb.st_blocks * 512,
			    (long long)sb.st_size);
	}
	cr_expect(json_object_object_get_ex(r, "save_ms", &v) && json_object_get_double(v) > 0);
	cr_expect_gt(td_int(r, "ram_zero_pages"), 0, "zero pages are flags, not stored");
	cr_expect_lt(td_int(r, "state_bytes"), td_int(r, "ram_total"));
	cr_log_info("template: %lld bytes (RAM %lld), saved in %.0f ms", td_int(r, "state_bytes"),
		    td_int(r, "ram_total"),
		    json_object_object_get_ex(r, "save_ms", &v) ? json_object_get_double(v) : -1);
	json_object_put(r);
	cr_expect_eq(tt_qemus(&d), 0, "the template VM is gone after the save");

	r = td_http(&d, "GET", "/v1/templates", NULL, &st);
	cr_assert_eq(st, 200);
	cr_assert(json_object_object_get_ex(r, "templates", &t));
	cr_expect_eq(json_object_array_length(t), 1);
	json_object_put(r);

	r = post("/v1/templates", "{\"name\":\"base\",\"kernel\":\"/nonexistent\"}", &st);
	cr_expect(st == 400 || st == 409, "second template of one name: %ld", st);
	json_object_put(r);

	/* --- three at once --- */
	for (int i = 0; i < NVM; i++)
		pthread_create(&th[i], NULL, restore_one, &rs[i]);
	for (int i = 0; i < NVM; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < NVM; i++) {
		cr_assert_eq(rs[i].status, 201, "%s: %ld %s", rs[i].name, rs[i].status,
			     rs[i].vm ? td_err_desc(rs[i].vm) : "");
		cr_assert_str_eq(td_str(rs[i].vm, "state"), "running", "%s: %s", rs[i].name,
				 td_str(rs[i].vm, "error") ? td_str(rs[i].vm, "error") : "");
		ports[i] = (int)td_int(rs[i].vm, "ssh_port");
		{
			/* as root, a restored VM's qemu runs as the default qemu_user */
			uid_t qu;
			gid_t qg;
			long ruid, euid;
			td_proc_uids((pid_t)td_int(rs[i].vm, "pid"), &ruid, &euid);
			if (td_qemu_user_ids(&qu, &qg))
				cr_expect(ruid == (long)qu && euid == (long)qu,
					  "%s: qemu's uids %ld/%ld, not vmsup-qemu's %ld",
					  rs[i].name, ruid, euid, (long)qu);
		}
		cr_log_info("%s: POST -> running %.2f s", rs[i].name, rs[i].secs);
		json_object_put(rs[i].vm);
	}
	for (int i = 0; i < NVM; i++) {
		double h0, h1, g;
		char banner[128] = "";
		int s;
		cr_assert_not_null(r = tt_wait_agent(&d, rs[i].name, 240000), "%s: agent",
				   rs[i].name);
		{
			char p[256];
			struct json_object *ip;
			snprintf(p, sizeof(p), "/v1/vms/%s/ip?wait=120", rs[i].name);
			ip = td_http(&d, "GET", p, NULL, &st);
			cr_expect_eq(st, 200);
			cr_expect_not_null(ip ? td_str(ip, "ip") : NULL, "%s: no IP", rs[i].name);
			cr_log_info("%s: ip %s", rs[i].name, ip ? td_str(ip, "ip") : "-");
			json_object_put(ip);
		}
		cr_assert(json_object_object_get_ex(r, "template", &t) && t);
		cr_expect_str_eq(td_str(t, "name"), "base");
		cr_expect(json_object_object_get_ex(t, "restore_ms", &v) &&
			      json_object_get_double(v) > 0,
			  "restore time reported");
		cr_log_info("%s: restore %.0f ms, agent %.0f ms after spawn", rs[i].name,
			    json_object_get_double(v),
			    json_object_get_double(json_object_object_get(t, "agent_ms")));
		for (int j = 0; j < i; j++)
			cr_expect_neq(ports[i], ports[j], "own ssh port");
		json_object_put(r);

		/* the clock was set and the reseed happened: the refresh finishes after ready */
		for (int k = 0; k < 600; k++) {
			char p[256];
			snprintf(p, sizeof(p), "/v1/vms/%s", rs[i].name);
			r = td_http(&d, "GET", p, NULL, &st);
			if (json_object_object_get_ex(r, "template", &t) &&
			    json_object_object_get_ex(t, "refresh", &v) && v)
				break;
			json_object_put(r);
			r = NULL;
			usleep(100000);
		}
		cr_assert_not_null(r, "%s: refresh never reported", rs[i].name);
		json_object_object_get_ex(r, "template", &t);
		json_object_object_get_ex(t, "refresh", &v);
		cr_expect(json_object_get_boolean(json_object_object_get(v, "time_set")),
			  "%s: clock not set: %s", rs[i].name, td_str(v, "error"));
		/* busybox's date takes no relative time: the first restore
		 * learns it, and every restore reports guest-set-time */
		cr_expect_str_eq(td_str(v, "clock_method") ? td_str(v, "clock_method") : "",
				 "guest-set-time", "%s", rs[i].name);
		cr_expect(json_object_get_boolean(json_object_object_get(v, "reseeded")),
			  "%s: not reseeded: %s", rs[i].name, td_str(v, "error"));
		cr_expect_lt(fabs(json_object_get_double(json_object_object_get(v, "skew_ms"))),
			     1000.0, "%s: guest-get-time skew", rs[i].name);
		json_object_put(r);

		/* and independently of the daemon's own measurement: */
		h0 = realtime();
		out = tt_sh(&d, rs[i].name, "date +%s.%N", &s);
		h1 = realtime();
		cr_assert_not_null(out);
		g = atof(out);
		free(out);
		/* the guest's date may only print whole seconds (no %N): floor both sides */
		cr_expect(g >= floor(h0) - 1.0 && g < h1 + 1.0,
			  "%s: guest clock %.3f, host %.3f..%.3f", rs[i].name, g, h0, h1);

		out = tt_sh(&d, rs[i].name,
			    "dmesg | grep -c 'crng reseeded due to virtual machine fork'", &s);
		cr_assert_not_null(out);
		cr_expect_gt(atoi(out), 0, "%s: no vmgenid reseed in dmesg", rs[i].name);
		free(out);

		out = tt_sh(&d, rs[i].name, "head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \\n'",
			    &s);
		cr_assert_not_null(out);
		snprintf(rnd[i], sizeof(rnd[i]), "%s", out);
		free(out);
		for (int j = 0; j < i; j++)
			cr_expect_str_neq(rnd[i], rnd[j], "VM %d and %d read the same urandom", i,
					  j);

		cr_expect_eq(ssh_banner(ports[i], banner, sizeof(banner)), 0, "%s: ssh port %d",
			     rs[i].name, ports[i]);
		cr_expect(!strncmp(banner, "SSH-", 4), "%s: ssh banner '%s'", rs[i].name, banner);
	}
	/* a file written in one is in none of the others */
	out = tt_sh(&d, "r0", "echo r0 > /root/only-r0 && cat /root/only-r0", &xs);
	cr_assert_not_null(out);
	cr_expect_str_eq(out, "r0\n");
	free(out);
	for (int i = 1; i < NVM; i++) {
		out = tt_sh(&d, rs[i].name, "test -e /root/only-r0 && echo present || echo absent",
			    &xs);
		cr_assert_not_null(out);
		cr_expect_str_eq(out, "absent\n", "%s sees r0's file", rs[i].name);
		free(out);
	}
	for (int i = 0; i < NVM; i++) {
		char p[256];
		snprintf(p, sizeof(p), "/v1/vms/%s?timeout=0", rs[i].name);
		json_object_put(td_http(&d, "DELETE", p, NULL, &st));
		cr_expect_eq(st, 200);
	}

	/* --- broken templates: clear errors, no qemu left --- */
	/* truncated: refused before qemu starts */
	copy_template("trunc", NULL);
	{
		char cmd[512];
		snprintf(cmd, sizeof(cmd), "truncate -s 1000000 %s/state/templates/trunc/state",
			 d.dir);
		cr_assert_eq(system(cmd), 0);
	}
	r = post("/v1/vms", "{\"name\":\"x1\",\"from\":\"trunc\"}", &st);
	cr_expect_eq(st, 409, "truncated: %ld", st);
	cr_expect(td_err_class(r) && !strcmp(td_err_class(r), "TemplateDamaged"), "truncated: %s",
		  td_err_class(r));
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "truncated"), "truncated: %s",
		  td_err_desc(r));
	cr_log_info("truncated -> %ld %s", st, td_err_desc(r));
	json_object_put(r);
	expect_no_vm_qemu("x1");

	/* corrupt (right size, garbage header) in a template without recorded
	 * hashes (test-vmsupd-template-clones: with them it is refused at once):
	 * qemu refuses the stream and exits */
	copy_template("corrupt", no_hashes);
	{
		char cmd[512];
		snprintf(cmd, sizeof(cmd),
			 "head -c 65536 /dev/urandom | dd of=%s/state/templates/corrupt/state "
			 "conv=notrunc status=none",
			 d.dir);
		cr_assert_eq(system(cmd), 0);
	}
	r = post("/v1/vms", "{\"name\":\"x2\",\"from\":\"corrupt\"}", &st);
	cr_expect_eq(st, 201);
	cr_expect_str_eq(td_str(r, "state"), "failed");
	cr_expect(td_str(r, "error") && strstr(td_str(r, "error"), "restoring template 'corrupt'"),
		  "corrupt: %s", td_str(r, "error"));
	cr_log_info("corrupt -> %s: %s", td_str(r, "state"), td_str(r, "error"));
	json_object_put(r);
	expect_no_vm_qemu("x2");

	/* another device set (the memory size): refused before qemu starts */
	copy_template("devs", other_mem);
	r = post("/v1/vms", "{\"name\":\"x3\",\"from\":\"devs\"}", &st);
	cr_expect_eq(st, 201);
	cr_expect_str_eq(td_str(r, "state"), "failed");
	cr_expect(td_str(r, "error") && strstr(td_str(r, "error"), "device configuration"),
		  "devices: %s", td_str(r, "error"));
	cr_log_info("other devices -> %s: %s", td_str(r, "state"), td_str(r, "error"));
	json_object_put(r);
	expect_no_vm_qemu("x3");

	/* another qemu version */
	copy_template("ver", other_qemu);
	r = post("/v1/vms", "{\"name\":\"x4\",\"from\":\"ver\"}", &st);
	cr_expect_eq(st, 400);
	cr_expect(td_err_desc(r) && strstr(td_err_desc(r), "qemu 1.0.0"), "version: %s",
		  td_err_desc(r));
	json_object_put(r);
	expect_no_vm_qemu("x4");
	cr_expect_eq(tt_qemus(&d), 0, "no qemu left after the failures");

	/* --- rm --- */
	json_object_put(td_http(&d, "DELETE", "/v1/templates/base", NULL, &st));
	cr_expect_eq(st, 200);
	json_object_put(td_http(&d, "DELETE", "/v1/templates/base", NULL, &st));
	cr_expect_eq(st, 404);
	r = post("/v1/vms", "{\"name\":\"x5\",\"from\":\"base\"}", &st);
	cr_expect_eq(st, 404);
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/templates", NULL, &st);
	cr_assert(json_object_object_get_ex(r, "templates", &t));
	for (size_t i = 0; i < json_object_array_length(t); i++)
		cr_expect_str_neq(td_str(json_object_array_get_idx(t, i), "name"), "base");
	json_object_put(r);
}

Test(template, bad_requests, .fini = teardown, .timeout = 300)
{
	static const struct {
		const char *method, *path, *body;
		long status;
		const char *needle;
	} cases[] = {
	    {"POST", "/v1/templates", "", 400, "required"},
	    {"POST", "/v1/templates", "[1]", 400, "object"},
	    {"POST", "/v1/templates", "{\"name\":\"a\"}", 400, "kernel"},
	    {"POST", "/v1/templates", "{\"name\":\"-bad\",\"kernel\":\"/k\"}", 400, NULL},
	    {"POST", "/v1/templates", "{\"name\":\"a\",\"from\":\"b\"}", 400, "another template"},
	    {"POST", "/v1/vms", "{\"name\":\"a\",\"from\":\"nope\"}", 404, "nope"},
	    {"POST", "/v1/vms", "{\"name\":\"a\",\"from\":7}", 400, "string"},
	    {"POST", "/v1/vms", "{\"name\":\"a\",\"from\":\"t\",\"mem_mib\":64}", 400, "mem_mib"},
	    {"POST", "/v1/vms", "{\"name\":\"a\",\"from\":\"../x\"}", 400, NULL},
	    {"DELETE", "/v1/templates/nope", NULL, 404, "nope"},
	    {"GET", "/v1/templates/nope", NULL, 404, "nope"},
	    {"PUT", "/v1/templates", "{}", 405, NULL},
	};
	struct json_object *r, *t;
	long st;

	tt_start(&d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = td_http(&d, cases[i].method, cases[i].path, cases[i].body, &st);
		cr_expect_eq(st, cases[i].status, "%s %s %s: %ld %s", cases[i].method,
			     cases[i].path, cases[i].body ? cases[i].body : "", st,
			     r ? td_err_desc(r) : "");
		if (cases[i].needle)
			cr_expect(r && td_err_desc(r) && strstr(td_err_desc(r), cases[i].needle),
				  "%s %s: '%s' lacks '%s'", cases[i].method, cases[i].path,
				  r ? td_err_desc(r) : "", cases[i].needle);
		json_object_put(r);
	}
	r = td_http(&d, "GET", "/v1/templates", NULL, &st);
	cr_expect_eq(st, 200);
	cr_expect(json_object_object_get_ex(r, "templates", &t) &&
		  json_object_array_length(t) == 0);
	json_object_put(r);
	r = td_http(&d, "GET", "/v1/vms", NULL, &st);
	cr_expect(json_object_object_get_ex(r, "vms", &t) && json_object_array_length(t) == 0,
		  "no VM made by a refused request");
	json_object_put(r);
	cr_expect_eq(tt_qemus(&d), 0);
}

/* The maker's kernel and initrd are read once, when the template is made:
 * its qemu and every restore get the template's own copies as inherited
 * descriptors, so the maker's paths may change (or point at a file only
 * root may read) without reaching a restored guest's fw_cfg. */
static void junk_over(const char *path)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	cr_assert_geq(fd, 0, "%s", path);
	cr_assert_eq(write(fd, "junk", 4), 4);
	close(fd);
}

static off_t size_of(const char *path)
{
	struct stat sb;

	cr_assert_eq(stat(path, &sb), 0, "%s", path);
	return sb.st_size;
}

/* the maker's copies (70 MB): removed also when an assertion ends the test */
static char tk_dir[] = "/tmp/vsh-tk-XXXXXX";

static void teardown_tk(void)
{
	teardown();
	if (strcmp(tk_dir + strlen(tk_dir) - 6, "XXXXXX"))
		td_sh_ok("rm -rf '%s'", tk_dir);
}

Test(template, keeps_its_own_kernel_and_initrd, .fini = teardown_tk, .timeout = 900)
{
	char k[512], i[512], *dir = tk_dir, mk[600], mi[600], cp[600], body[2048];
	char cmd[8192], a[512];
	struct json_object *r;
	off_t ksize, isize;
	long st;

	tt_guest(k, i);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(mk, sizeof(mk), "%s/vmlinuz", dir);
	snprintf(mi, sizeof(mi), "%s/initrd.img", dir);
	td_sh_ok("cp '%s' '%s' && cp '%s' '%s'", k, mk, i, mi);
	ksize = size_of(mk);
	isize = size_of(mi);
	tt_guest_append(k, a);
	tt_start(&d);
	snprintf(body, sizeof(body),
		 "{\"name\":\"own\",\"kernel\":\"%s\",\"initrd\":\"%s\",\"append\":\"%s\","
		 "\"mem_mib\":256,\"accel\":\"tcg\"}",
		 mk, mi, a);
	r = post("/v1/templates", body, &st);
	cr_assert_eq(st, 201, "template: %ld %s", st, r ? td_err_desc(r) : "");
	json_object_put(r);

	/* the copies: the maker's bytes, the daemon's files */
	snprintf(cp, sizeof(cp), "%s/state/templates/own/kernel", d.dir);
	cr_expect_eq(size_of(cp), ksize, "%s", cp);
	snprintf(cp, sizeof(cp), "%s/state/templates/own/initrd", d.dir);
	cr_expect_eq(size_of(cp), isize, "%s", cp);

	/* the maker's files are junk now: a restore that read them would not boot */
	junk_over(mk);
	junk_over(mi);
	r = post("/v1/vms", "{\"name\":\"own1\",\"from\":\"own\"}", &st);
	cr_assert_eq(st, 201, "restore: %ld %s", st, r ? td_err_desc(r) : "");
	cr_expect_str_eq(td_str(r, "state"), "running", "%s", td_str(r, "error"));
	td_cmdline((pid_t)td_int(r, "pid"), cmd, sizeof(cmd));
	cr_expect(strstr(cmd, "-kernel /proc/self/fd/13 ") &&
		      strstr(cmd, "-initrd /proc/self/fd/14 "),
		  "qemu named a path, not the template's descriptors: %s", cmd);
	cr_expect_null(strstr(cmd, dir), "qemu was given the maker's path: %s", cmd);
	json_object_put(r);
	r = tt_wait_agent(&d, "own1", 240000);
	cr_expect_not_null(r, "the restored guest's agent did not answer");
	json_object_put(r);
}
