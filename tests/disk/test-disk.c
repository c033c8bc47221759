/*
 * Disk images under the real daemon and qemu (issue 21), on the test
 * guest (TCG): an image is never written in overlay mode (two VMs on one
 * image at once, each sees only its own writes, the image's hash does not
 * move, destroy removes the overlays); a raw image named raw is read raw
 * by the guest even when its first bytes are a qcow2 header; a persistent
 * disk is written in place and is one VM's alone; after a daemon restart
 * a disk is opened again only if it is still the file checked at create.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/snapshot/template-util.h"

static struct tdaemon d;

static void up(void)
{
	tt_start(&d);
}

static void down(void)
{
	tt_stop(&d);
}

TestSuite(disk, .init = up, .fini = down, .timeout = 600);

static char *sha256(const char *path)
{
	char cmd[600], *line = NULL;
	size_t n = 0;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "sha256sum '%s' | cut -c1-64", path);
	cr_assert_not_null(p = popen(cmd, "r"));
	cr_assert_gt(getline(&line, &n, p), 0);
	pclose(p);
	return line;
}

/* POST the test guest with this disk; the reply's status. */
static long create(const char *name, const char *img, const char *mode, const char *fmt, bool start,
		   char *desc, size_t dsize)
{
	char *s = tt_spec(name, 128);
	struct json_object *spec = json_tokener_parse(s), *r;
	long st;

	free(s);
	json_object_object_add(spec, "disk", json_object_new_string(img));
	if (mode)
		json_object_object_add(spec, "disk_mode", json_object_new_string(mode));
	if (fmt)
		json_object_object_add(spec, "disk_format", json_object_new_string(fmt));
	json_object_object_add(spec, "start", json_object_new_boolean(start));
	r = td_http(&d, "POST", "/v1/vms", json_object_to_json_string(spec), &st);
	json_object_put(spec);
	if (desc)
		snprintf(desc, dsize, "%s", r && td_err_desc(r) ? td_err_desc(r) : "");
	json_object_put(r);
	return st;
}

static void boot(const char *name, const char *img, const char *mode, const char *fmt)
{
	char desc[1024];
	struct json_object *vm;

	cr_assert_eq(create(name, img, mode, fmt, true, desc, sizeof(desc)), 201, "%s: %s", name,
		     desc);
	vm = tt_wait_agent(&d, name, 180000);
	cr_assert_not_null(vm, "%s: no agent", name);
	json_object_put(vm);
}

static char *guest(const char *vm, const char *script)
{
	int s;
	char *out = tt_sh(&d, vm, script, &s);

	cr_assert(out && s == 0, "%s: %s: status %d: %s", vm, script, s, out ? out : "");
	return out;
}

static void guest_expect(const char *vm, const char *script, const char *want)
{
	char *out = guest(vm, script);

	cr_expect_str_eq(out, want, "%s: %s", vm, script);
	free(out);
}

/* The status's disk.overlay (copied into buf), or "" without one. */
static void overlay_of(const char *name, char *buf, size_t size)
{
	char path[128];
	long st;
	struct json_object *o, *dk, *ov;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	o = td_http(&d, "GET", path, NULL, &st);
	cr_assert_eq(st, 200);
	cr_assert(json_object_object_get_ex(o, "disk", &dk) && dk, "%s: no disk", name);
	buf[0] = '\0';
	if (json_object_object_get_ex(dk, "overlay", &ov) && ov)
		snprintf(buf, size, "%s", json_object_get_string(ov));
	json_object_put(o);
}

static void destroy(const char *name)
{
	cr_assert_eq(td_destroy(&d, name), 200, "destroy %s", name);
}

#define WRITE_AT "dd of=/dev/vda bs=512 seek=2048 conv=notrunc,fsync 2>/dev/null"
#define READ_AT                                                                                    \
	"echo 3 >/proc/sys/vm/drop_caches; dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null "   \
	"| head -c 8 | tr '\\000' '.'"

Test(disk, overlay_two_vms_one_image)
{
	char img[300], ov1[300], ov2[300];
	char *before, *after;
	struct stat st;

	/* raw, and its first bytes a qcow2 header naming a file the guest must
	 * never get: named raw, the guest reads those bytes as they are */
	snprintf(img, sizeof(img), "%s/base.raw", d.dir);
	td_sh_ok(
	    "qemu-img create -q -f qcow2 -u -F raw -b /etc/shadow '%s' 1M && truncate -s 8M '%s'",
	    img, img);
	before = sha256(img);

	boot("v1", img, NULL, "raw");
	boot("v2", img, NULL, "raw");
	guest_expect("v1", "head -c 4 /dev/vda | od -An -c | tr -d ' \\n'", "QFI373");

	free(guest("v1", "printf v1-wrote | " WRITE_AT));
	guest_expect("v2", READ_AT, "........");
	free(guest("v2", "printf v2-wrote | " WRITE_AT));
	guest_expect("v1", READ_AT, "v1-wrote");
	guest_expect("v2", READ_AT, "v2-wrote");

	overlay_of("v1", ov1, sizeof(ov1));
	overlay_of("v2", ov2, sizeof(ov2));
	cr_assert(ov1[0] && ov2[0] && strcmp(ov1, ov2), "own overlays: '%s' '%s'", ov1, ov2);
	cr_expect_eq(stat(ov1, &st), 0, "%s", ov1);
	destroy("v1");
	destroy("v2");
	cr_expect_neq(stat(ov1, &st), 0, "overlay %s removed with its VM", ov1);
	cr_expect_neq(stat(ov2, &st), 0, "overlay %s removed with its VM", ov2);
	*strrchr(ov1, '/') = '\0';
	cr_expect_neq(stat(ov1, &st), 0, "the VM's disk dir %s removed", ov1);

	after = sha256(img);
	cr_expect_str_eq(after, before, "the image was written");
	free(before);
	free(after);
}

Test(disk, persistent_is_written_in_place_by_one_vm)
{
	char img[300], desc[1024], cmd[600], got[16] = "";
	FILE *p;

	snprintf(img, sizeof(img), "%s/own.raw", d.dir);
	td_sh_ok("truncate -s 8M '%s'", img);
	boot("p1", img, "persistent", NULL);

	cr_expect_eq(create("p2", img, "persistent", NULL, false, desc, sizeof(desc)), 409,
		     "a second persistent VM: %s", desc);
	cr_expect(strstr(desc, "p1"), "names the VM holding it: %s", desc);
	cr_expect_eq(create("o1", img, NULL, NULL, false, desc, sizeof(desc)), 409,
		     "an overlay over an image being written: %s", desc);

	free(guest("p1", "printf persist! | " WRITE_AT));
	destroy("p1");
	snprintf(cmd, sizeof(cmd), "dd if='%s' bs=512 skip=2048 count=1 2>/dev/null | head -c 8",
		 img);
	cr_assert_not_null(p = popen(cmd, "r"));
	cr_expect_gt(fread(got, 1, 8, p), 0);
	pclose(p);
	cr_expect_str_eq(got, "persist!", "the write is in the image");
	cr_expect_eq(access(img, F_OK), 0, "destroy leaves a persistent image");
	cr_expect_eq(create("o1", img, NULL, NULL, false, desc, sizeof(desc)), 201,
		     "free again: %s", desc);
}

static struct json_object *op(const char *name, const char *what, long *st)
{
	char path[128];

	snprintf(path, sizeof(path), "/v1/vms/%s/%s", name, what);
	return td_http(&d, "POST", path, "{}", st);
}

/* The descriptors the caller's check opened die with the daemon: the next
 * one opens the path again, and only if it is still the same file. */
Test(disk, reopened_after_restart_only_if_the_same_file)
{
	char img[300], desc[1024], path[128];
	struct json_object *r;
	long st;

	snprintf(img, sizeof(img), "%s/r.raw", d.dir);
	td_sh_ok("truncate -s 4M '%s'", img);
	cr_assert_eq(create("r1", img, NULL, "raw", false, desc, sizeof(desc)), 201, "%s", desc);
	td_kill9(&d);
	td_restart(&d);

	r = op("r1", "start", &st);
	cr_expect_eq(st, 200, "start after a restart: %s", r ? json_object_to_json_string(r) : "");
	cr_expect_str_eq(td_str(r, "state"), "running");
	json_object_put(r);
	r = op("r1", "stop", &st);
	json_object_put(r);

	/* a new file under the old name: not what was checked */
	td_sh_ok("cp '%s' '%s.new' && mv '%s.new' '%s'", img, img, img, img);
	td_kill9(&d);
	td_restart(&d);
	r = op("r1", "start", &st);
	json_object_put(r);
	snprintf(path, sizeof(path), "/v1/vms/r1");
	r = td_http(&d, "GET", path, NULL, &st);
	cr_expect_str_eq(td_str(r, "state"), "failed");
	cr_expect(td_str(r, "error") && strstr(td_str(r, "error"), "no longer the file"),
		  "error: %s", td_str(r, "error") ? td_str(r, "error") : "(null)");
	json_object_put(r);
}

static const char *mode_of(struct json_object *disk)
{
	struct json_object *m;

	return json_object_object_get_ex(disk, "mode", &m) ? json_object_get_string(m) : "";
}

/*
 * Data disks from vmctl's --disk (the first is the root, here none: the
 * test guest boots from its initrd, so each --disk is a data disk after
 * --kernel): an overlay one written by the guest while its image keeps its
 * hash, a read-only one the guest cannot write, a persistent one written
 * in place.
 */
Test(disk, data_disks_from_vmctl)
{
	char a[300], b[300], c[300], k[512], i[512], cmd[4096], got[16] = "";
	char *ha, *hb, *ha2, *hb2;
	struct json_object *vm, *dd;
	const char *top = getenv("top_builddir");
	long st;
	FILE *p;

	snprintf(a, sizeof(a), "%s/a.raw", d.dir);
	snprintf(b, sizeof(b), "%s/b.raw", d.dir);
	snprintf(c, sizeof(c), "%s/c,x:1.raw", d.dir); /* a comma and a colon in the name */
	td_sh_ok("truncate -s 4M '%s' '%s' '%s'", a, b, c);
	ha = sha256(a);
	hb = sha256(b);
	tt_guest(k, i);
	/* the first --disk is the root disk (here unused: the guest runs from
	 * its initrd), the next three data disks */
	snprintf(cmd, sizeof(cmd),
		 "'%s/src/cli/vmctl' --socket '%s' create dd1 --accel tcg --mem 128 --kernel '%s' "
		 "--initrd '%s' --append 'console=ttyS0 panic=-1' --no-start --disk '%s:raw' "
		 "--disk '%s:raw' --disk '%s:ro,raw' --disk '%s:persistent'",
		 top ? top : ".", d.sock, k, i, a, a, b, c);
	td_sh_ok("%s", cmd);
	vm = td_http(&d, "GET", "/v1/vms/dd1", NULL, &st);
	cr_assert_eq(st, 200);
	cr_assert(json_object_object_get_ex(vm, "data_disks", &dd));
	cr_assert_eq(json_object_array_length(dd), 3, "%s", json_object_to_json_string(dd));
	cr_expect_str_eq(mode_of(json_object_array_get_idx(dd, 0)), "overlay");
	cr_expect_str_eq(mode_of(json_object_array_get_idx(dd, 1)), "readonly");
	cr_expect_str_eq(mode_of(json_object_array_get_idx(dd, 2)), "persistent");
	json_object_put(vm);

	json_object_put(op("dd1", "start", &st));
	cr_assert_eq(st, 200);
	vm = tt_wait_agent(&d, "dd1", 180000);
	cr_assert_not_null(vm, "no agent");
	json_object_put(vm);
	/* vda: the root (an overlay over a); vdb: a again, vdc: b, vdd: c */
	free(guest("dd1", "printf overlay1 | dd of=/dev/vdb bs=512 seek=2048 conv=notrunc,fsync "
			  "2>/dev/null"));
	{
		int s;
		char *out =
		    tt_sh(&d, "dd1",
			  "printf nope | dd of=/dev/vdc bs=512 seek=2048 conv=notrunc,fsync", &s);
		cr_expect_neq(s, 0, "a read-only data disk was written");
		free(out);
	}
	free(guest("dd1", "printf persist2 | dd of=/dev/vdd bs=512 seek=2048 conv=notrunc,fsync "
			  "2>/dev/null"));
	guest_expect("dd1",
		     "echo 3 >/proc/sys/vm/drop_caches; dd if=/dev/vdb bs=512 skip=2048 count=1 "
		     "2>/dev/null | head -c 8",
		     "overlay1");
	destroy("dd1");

	ha2 = sha256(a);
	hb2 = sha256(b);
	cr_expect_str_eq(ha2, ha, "the overlay data disk's image was written");
	cr_expect_str_eq(hb2, hb, "the read-only data disk's image was written");
	snprintf(cmd, sizeof(cmd), "dd if='%s' bs=512 skip=2048 count=1 2>/dev/null | head -c 8",
		 c);
	cr_assert_not_null(p = popen(cmd, "r"));
	cr_expect_gt(fread(got, 1, 8, p), 0);
	pclose(p);
	cr_expect_str_eq(got, "persist2", "the persistent data disk holds the write");
	free(ha);
	free(hb);
	free(ha2);
	free(hb2);
}

/*
 * A template of a VM with a disk (the test guest's root is its initrd, the
 * disk is /dev/vda): the template keeps the disk it was saved with, each
 * clone writes an overlay of its own over it, neither the image nor the
 * template's disk changes, and a changed image makes the template refuse
 * to restore (its RAM was saved against the old bytes).
 */
Test(disk, template_and_clones)
{
	char img[300], *s, tdisk[400], desc[1024];
	char *h_img, *h_t, *h_img2, *h_t2;
	struct json_object *spec, *r;
	long st;

	snprintf(img, sizeof(img), "%s/t.raw", d.dir);
	td_sh_ok("truncate -s 8M '%s'", img);
	s = tt_spec("tdisk", 128);
	spec = json_tokener_parse(s);
	free(s);
	json_object_object_add(spec, "disk", json_object_new_string(img));
	json_object_object_add(spec, "disk_format", json_object_new_string("raw"));
	r = td_http(&d, "POST", "/v1/templates", json_object_to_json_string(spec), &st);
	json_object_put(spec);
	cr_assert_eq(st, 201, "template: %s", json_object_to_json_string(r));
	json_object_put(r);
	snprintf(tdisk, sizeof(tdisk), "%s/state/templates/tdisk/disk.qcow2", d.dir);
	cr_assert_eq(access(tdisk, F_OK), 0, "the template keeps its disk: %s", tdisk);
	h_img = sha256(img);
	h_t = sha256(tdisk);
	r = td_http(&d, "POST", "/v1/templates/tdisk/verify", NULL, &st);
	cr_expect_eq(st, 200, "verify: %s", json_object_to_json_string(r));
	cr_expect(strstr(json_object_to_json_string(r), "\"disk\""), "verify covers the disk: %s",
		  json_object_to_json_string(r));
	json_object_put(r);

	for (int i = 0; i < 2; i++) {
		char body[128], name[8];
		snprintf(name, sizeof(name), "c%d", i);
		snprintf(body, sizeof(body), "{\"name\":\"%s\",\"from\":\"tdisk\"}", name);
		r = td_http(&d, "POST", "/v1/vms", body, &st);
		cr_assert_eq(st, 201, "clone %s: %s", name, json_object_to_json_string(r));
		json_object_put(r);
		r = tt_wait_agent(&d, name, 120000);
		cr_assert_not_null(r, "clone %s: no agent", name);
		json_object_put(r);
	}
	free(guest("c0", "printf c0-wrote | " WRITE_AT));
	guest_expect("c1", READ_AT, "........");
	guest_expect("c0", READ_AT, "c0-wrote");
	destroy("c0");
	destroy("c1");
	h_img2 = sha256(img);
	h_t2 = sha256(tdisk);
	cr_expect_str_eq(h_img2, h_img, "the image was written");
	cr_expect_str_eq(h_t2, h_t, "the template's disk was written");

	/* the image under the template changes: no restore may use it */
	td_sh_ok("printf x | dd of='%s' bs=1 seek=100 conv=notrunc 2>/dev/null", img);
	r = td_http(&d, "POST", "/v1/vms", "{\"name\":\"c2\",\"from\":\"tdisk\"}", &st);
	snprintf(desc, sizeof(desc), "%s", td_err_desc(r) ? td_err_desc(r) : "");
	cr_expect_eq(st, 409, "restore over a changed image: %s", desc);
	cr_expect_str_eq(td_err_class(r) ? td_err_class(r) : "", "TemplateDamaged");
	cr_expect(strstr(desc, img), "names the image: %s", desc);
	json_object_put(r);
	free(h_img);
	free(h_t);
	free(h_img2);
	free(h_t2);
}
