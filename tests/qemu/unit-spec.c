/* VM spec validation: types, unknown fields, ranges, files, defaults. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/qemu/spec.h"

static struct vmsup_config cfg;
static char dir[64], kernel[128], initrd[128], qcow[128], unreadable[128];

static void touch(const char *p, const char *data, mode_t mode)
{
	FILE *f = fopen(p, "w");
	cr_assert_not_null(f);
	fputs(data, f);
	fclose(f);
	chmod(p, mode);
}

static void setup(void)
{
	strcpy(dir, "/tmp/vmsupd-spec-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", dir);
	snprintf(initrd, sizeof(initrd), "%s/initrd", dir);
	snprintf(qcow, sizeof(qcow), "%s/d.qcow2", dir);
	snprintf(unreadable, sizeof(unreadable), "%s/secret", dir);
	touch(kernel, "k", 0644);
	touch(initrd, "i", 0644);
	touch(qcow, "QFI\xfb....", 0644);
	touch(unreadable, "s", 0);
	vmsup_config_init(&cfg, NULL);
}

static void teardown(void)
{
	unlink(kernel);
	unlink(initrd);
	unlink(qcow);
	unlink(unreadable);
	rmdir(dir);
	vmsup_config_release(&cfg);
}

TestSuite(spec, .init = setup, .fini = teardown);

static int parse(const char *json, struct vm_spec *s, char **err)
{
	struct json_object *j = json_tokener_parse(json);
	int r;

	cr_assert_not_null(j, "test JSON broken: %s", json);
	r = vm_spec_from_json(j, &cfg, s, err);
	json_object_put(j);
	return r;
}

static void bad(const char *json, const char *needle)
{
	struct vm_spec s;
	char *err = NULL;

	cr_expect_eq(parse(json, &s, &err), -1, "accepted %s", json);
	cr_expect(err && strstr(err, needle), "%s: got '%s', want '%s'", json, err, needle);
	free(err);
	vm_spec_release(&s);
}

Test(spec, minimal_gets_config_defaults)
{
	struct vm_spec s;
	char *err = NULL;

	cr_assert_eq(parse("{\"name\":\"a\"}", &s, &err), 0, "%s", err);
	cr_expect_str_eq(s.name, "a");
	cr_expect_eq(s.mem_mib, cfg.mem_mib);
	cr_expect_eq(s.cpus, cfg.cpus);
	cr_expect_str_eq(s.accel, "kvm:tcg");
	cr_expect_str_eq(s.restart, "never");
	cr_expect(s.start);
	cr_expect(s.guest);
	cr_expect_not(s.autostart);
	cr_expect_null(s.kernel, "no default guest configured: guest-less");
	vm_spec_release(&s);
}

Test(spec, full)
{
	struct vm_spec s;
	char *err = NULL, json[1024];

	snprintf(
	    json, sizeof(json),
	    "{\"name\":\"b\",\"mem_mib\":16,\"cpus\":64,\"accel\":\"tcg\",\"kernel\":\"%s\","
	    "\"initrd\":\"%s\",\"append\":\"console=ttyS0\",\"shares\":[{\"path\":\"%s\","
	    "\"readonly\":true},{\"path\":\"/tmp\"}],\"restart\":\"on-failure\",\"start\":false,"
	    "\"autostart\":true}",
	    kernel, initrd, dir);
	cr_assert_eq(parse(json, &s, &err), 0, "%s", err);
	cr_expect_eq(s.mem_mib, 16);
	cr_expect_eq(s.cpus, 64);
	cr_expect_str_eq(s.kernel, kernel);
	cr_expect_str_eq(s.initrd, initrd);
	cr_expect_str_eq(s.append, "console=ttyS0");
	cr_assert_eq(s.nshares, 2);
	cr_expect_str_eq(s.shares[0].path, dir);
	cr_expect(s.shares[0].readonly);
	cr_expect_not(s.shares[1].readonly);
	cr_expect_not(s.start);
	/* and back: the state file's form parses to the same spec */
	struct json_object *j = vm_spec_to_json(&s);
	struct vm_spec t;
	cr_assert_eq(vm_spec_from_json(j, &cfg, &t, &err), 0, "%s", err);
	cr_expect_str_eq(t.kernel, s.kernel);
	cr_expect_eq(t.nshares, 2);
	cr_expect(s.autostart);
	cr_expect(t.autostart, "autostart lost in the state file's form");
	json_object_put(j);
	vm_spec_release(&t);
	vm_spec_release(&s);
}

Test(spec, default_guest_from_config)
{
	struct vm_spec s;
	char *err = NULL;

	vmsup_config_set(&cfg, "default_kernel", kernel, NULL);
	vmsup_config_set(&cfg, "default_initrd", initrd, NULL);
	vmsup_config_set(&cfg, "default_append", "quiet", NULL);
	cr_assert_eq(parse("{\"name\":\"a\"}", &s, &err), 0, "%s", err);
	cr_expect_str_eq(s.kernel, kernel);
	cr_expect_str_eq(s.initrd, initrd);
	cr_expect_str_eq(s.append, "quiet");
	vm_spec_release(&s);
	cr_assert_eq(parse("{\"name\":\"a\",\"guest\":false}", &s, &err), 0, "%s", err);
	cr_expect_null(s.kernel);
	cr_expect_null(s.initrd);
	vm_spec_release(&s);
}

/* The image is the disk module's to read (as the caller, src/disk/): the
 * spec never probes it, keeps the caller's words and defaults the mode. */
Test(spec, disk_fields)
{
	struct vm_spec s;
	char *err = NULL;

	cr_assert_eq(parse("{\"name\":\"a\",\"disk\":\"/nonexistent/x.img\"}", &s, &err), 0, "%s",
		     err);
	cr_expect_str_eq(s.disk_mode, "overlay");
	cr_expect_null(s.disk_format, "not probed");
	vm_spec_release(&s);
	cr_assert_eq(parse("{\"name\":\"a\",\"disk\":\"/x.img\",\"disk_mode\":\"persistent\","
			   "\"disk_format\":\"raw\"}",
			   &s, &err),
		     0, "%s", err);
	cr_expect_str_eq(s.disk_mode, "persistent");
	cr_expect_str_eq(s.disk_format, "raw");
	vm_spec_release(&s);
}

/* Direct kernel boot with a root disk: both kept, the default guest not used. */
Test(spec, kernel_with_disk)
{
	struct vm_spec s;
	char *err = NULL, json[512];

	snprintf(json, sizeof(json),
		 "{\"name\":\"a\",\"kernel\":\"%s\",\"disk\":\"%s\",\"append\":\"root=/dev/vda\"}",
		 kernel, qcow);
	cr_assert_eq(parse(json, &s, &err), 0, "%s", err);
	cr_expect_str_eq(s.kernel, kernel);
	cr_expect_str_eq(s.disk, qcow);
	cr_expect_null(s.initrd);
	vm_spec_release(&s);
}

Test(spec, rejects)
{
	char json[512];

	bad("[]", "must be a JSON object");
	bad("{}", "'name' is required");
	bad("{\"name\":\"a\",\"color\":\"red\"}", "unknown field 'color'");
	bad("{\"name\":\"a\",\"autostart\":\"yes\"}", "'autostart' must be true or false");
	bad("{\"name\":\"a\",\"autostart\":1}", "'autostart' must be true or false");
	bad("{\"name\":5}", "'name' must be a string");
	bad("{\"name\":\"../x\"}", "'name'");
	bad("{\"name\":\"a/b\"}", "'name'");
	bad("{\"name\":\"a\",\"mem_mib\":\"512\"}", "'mem_mib' must be an integer");
	bad("{\"name\":\"a\",\"mem_mib\":512.5}", "'mem_mib' must be an integer");
	bad("{\"name\":\"a\",\"mem_mib\":15}", "'mem_mib' is 15, must be in 16..1048576");
	bad("{\"name\":\"a\",\"mem_mib\":1048577}", "must be in 16..1048576");
	bad("{\"name\":\"a\",\"cpus\":0}", "'cpus' is 0, must be in 1..64");
	bad("{\"name\":\"a\",\"cpus\":65}", "'cpus'");
	bad("{\"name\":\"a\",\"cpus\":-1}", "'cpus'");
	bad("{\"name\":\"a\",\"accel\":\"xen\"}", "'accel': 'xen'");
	bad("{\"name\":\"a\",\"start\":1}", "'start' must be true or false");
	bad("{\"name\":\"a\",\"guest\":\"no\"}", "'guest' must be true or false");
	bad("{\"name\":\"a\",\"restart\":\"sometimes\"}", "'restart'");
	bad("{\"name\":\"a\",\"kernel\":\"vmlinuz\"}", "not an absolute path");
	bad("{\"name\":\"a\",\"kernel\":\"/nonexistent/vmlinuz\"}", "No such file");
	bad("{\"name\":\"a\",\"kernel\":\"/tmp\"}", "not a regular file");
	bad("{\"name\":\"a\",\"append\":\"x\"}", "need a 'kernel'");
	bad("{\"name\":\"a\",\"shares\":{}}", "'shares' must be an array");
	bad("{\"name\":\"a\",\"shares\":[\"/tmp\"]}", "'shares[0]' must be an object");
	bad("{\"name\":\"a\",\"shares\":[{\"path\":\"/tmp\",\"rw\":1}]}", "unknown field 'rw'");
	bad("{\"name\":\"a\",\"shares\":[{\"readonly\":true}]}", "'path' is required");
	bad("{\"name\":\"a\",\"shares\":[{\"path\":\"tmp\"}]}", "not an absolute path");
	bad("{\"name\":\"a\",\"shares\":[{\"path\":\"/nonexistent\"}]}", "No such file");
	bad("{\"name\":\"a\",\"shares\":[{\"path\":\"/etc/passwd\"}]}", "not a directory");
	bad("{\"name\":\"a\",\"shares\":[{\"path\":\"/tmp\",\"readonly\":\"yes\"}]}",
	    "'readonly' must be true or false");
	snprintf(json, sizeof(json), "{\"name\":\"a\",\"guest\":false,\"kernel\":\"%s\"}", kernel);
	bad(json, "'guest': false excludes");
	if (geteuid() != 0) {
		snprintf(json, sizeof(json), "{\"name\":\"a\",\"kernel\":\"%s\"}", unreadable);
		bad(json, "Permission denied");
	}
}

/* A state file's spec is read back without the filesystem: a kernel or a
 * share gone while the daemon was down must not lose the VM (issue 19);
 * the start check and the status name what went. */
Test(spec, stored_spec_parses_with_files_gone)
{
	char json[512], share[160], want[200];
	struct json_object *j, *missing;
	struct vm_spec s;
	char *err = NULL;

	snprintf(share, sizeof(share), "%s/share", dir);
	cr_assert_eq(mkdir(share, 0700), 0);
	snprintf(json, sizeof(json),
		 "{\"name\":\"a\",\"kernel\":\"%s\",\"initrd\":\"%s\","
		 "\"shares\":[{\"path\":\"%s\"}]}",
		 kernel, initrd, share);
	cr_assert_eq(parse(json, &s, &err), 0, "%s", err);
	missing = vm_spec_missing(&s);
	cr_expect_eq(json_object_array_length(missing), 0);
	json_object_put(missing);
	cr_expect_eq(vm_spec_check_files(&s, &err), 0, "%s", err);
	vm_spec_release(&s);

	cr_assert_eq(unlink(kernel), 0);
	cr_assert_eq(rmdir(share), 0);
	/* API input is still checked */
	bad(json, "No such file or directory");
	j = json_tokener_parse(json);
	cr_assert_eq(vm_spec_from_stored(j, &cfg, &s, &err), 0, "stored: %s", err);
	json_object_put(j);
	cr_expect_str_eq(s.kernel, kernel);
	cr_expect_eq(s.nshares, 1);
	cr_expect_eq(vm_spec_check_files(&s, &err), -1);
	cr_expect(err && strstr(err, kernel), "the start check names the kernel: %s", err);
	free(err);
	missing = vm_spec_missing(&s);
	cr_assert_eq(json_object_array_length(missing), 2, "%s",
		     json_object_to_json_string(missing));
	snprintf(want, sizeof(want), "kernel: %s", kernel);
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(missing, 0)), want);
	snprintf(want, sizeof(want), "shares[0]: %s", share);
	cr_expect_str_eq(json_object_get_string(json_object_array_get_idx(missing, 1)), want);
	json_object_put(missing);
	vm_spec_release(&s);
	touch(kernel, "k", 0644);
}
