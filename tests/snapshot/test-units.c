/* Device configuration, path quoting and the template store, without qemu. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/snapshot/snapshot.h"
#include "src/snapshot/template.h"

/* The daemon's argv for a VM (src/qemu/argv.c layout) with the per-VM parts given. */
#define VM_ARGV(name, run, port, ...)                                                              \
	{                                                                                          \
		"/usr/bin/qemu-system-x86_64", "-name", "guest=" name, "-machine", "q35",          \
		    "-accel", "tcg", "-m", "256", "-nodefaults", "-S", "-kernel", "/g/vmlinuz",    \
		    "-chardev", "socket,id=qmp,path=" run "/qmp.sock,server=on,wait=off", "-mon",  \
		    "chardev=qmp,mode=control", "-chardev",                                        \
		    "socket,id=qga0,path=" run "/a,,b.sock,server=on,wait=off", "-device",         \
		    "virtserialport,chardev=qga0,id=qga0,name=org.qemu.guest_agent.0", "-netdev",  \
		    "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:" port "-:22", "-device",        \
		    "virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:cc", __VA_ARGS__ "-serial",       \
		    "file:" run "/console.log", "-sandbox", "on,spawn=deny", "-pidfile",           \
		    run "/qemu.pid", NULL                                                          \
	}

static struct json_object *dc(const char *const *argv)
{
	char *err = NULL;
	struct json_object *j = snap_devconfig(argv, &err);

	cr_assert_not_null(j, "devconfig: %s", err ? err : "?");
	return j;
}

Test(devconfig, per_vm_parts_do_not_count)
{
	const char *a[] = VM_ARGV("one", "/run/vm/one", "2201", );
	const char *b[] = VM_ARGV("two", "/run/vm/two", "40022", );
	struct json_object *ja = dc(a), *jb = dc(b);
	const char *s = json_object_to_json_string(ja);
	char *err = NULL, mac[32];

	cr_expect_eq(snap_devconfig_compare(ja, jb, &err), 0, "%s", err ? err : "");
	/* nothing per VM survives: name, paths, port, pidfile, sandbox */
	cr_expect_null(strstr(s, "one"), "%s", s);
	cr_expect_null(strstr(s, "2201"), "%s", s);
	cr_expect_null(strstr(s, "spawn"), "%s", s);
	cr_expect_null(strstr(s, "\"-S\""), "%s", s);
	/* the escaped comma inside a path did not split the option */
	cr_expect_not_null(strstr(s, "socket,id=qga0,path=*,server=on,wait=off"), "%s", s);
	cr_expect_not_null(strstr(s, "file:*"), "%s", s);
	cr_expect_str_eq(snap_devconfig_mac(ja, mac, sizeof(mac)), "52:54:00:aa:bb:cc");
	cr_expect_eq(snap_devconfig_has_device(ja, "vmgenid"), 0);
	free(err);
	json_object_put(ja);
	json_object_put(jb);
}

Test(devconfig, another_device_is_named)
{
	const char *a[] = VM_ARGV("one", "/r1", "2201", "-device", "vmgenid,id=vmgenid0", );
	const char *b[] = VM_ARGV("one", "/r1", "2201", );
	struct json_object *ja = dc(a), *jb = dc(b);
	char *err = NULL;

	cr_assert_eq(snap_devconfig_has_device(ja, "vmgenid"), 1);
	/* the driver, not a prefix of it; pvpanic absent */
	cr_expect_eq(snap_devconfig_has_device(ja, "vmgen"), 0);
	cr_expect_eq(snap_devconfig_has_device(ja, "pvpanic"), 0);
	cr_assert_eq(snap_devconfig_compare(ja, jb, &err), -1);
	cr_assert_not_null(err);
	cr_expect_not_null(strstr(err, "'-device vmgenid,id=vmgenid0'"), "%s", err);
	cr_expect_not_null(strstr(err, "'-serial file:*'"), "%s", err);
	free(err);
	json_object_put(ja);
	json_object_put(jb);
}

/* A clone on a bridge has a MAC of its own (the stream carries the
 * template's); the backend and the device model still count. */
Test(devconfig, nic_mac_does_not_count)
{
	static const struct {
		const char *netdev, *device;
		int want;
		const char *what;
	} rows[] = {
	    {"tap,id=n0,fd=6", "virtio-net-pci,netdev=n0,mac=52:54:00:01:02:03", 0, "another MAC"},
	    {"tap,id=n1,fd=6", "virtio-net-pci,netdev=n0,mac=52:54:00:01:02:03", -1,
	     "another netdev id"},
	    {"tap,id=n0,fd=6", "e1000,netdev=n0,mac=52:54:00:01:02:03", -1, "another NIC model"},
	    {"tap,id=n0,fd=6", "virtio-net-pci,netdev=n0,mq=on,mac=52:54:00:01:02:03", -1,
	     "another NIC property"},
	    {"user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:5-:22",
	     "virtio-net-pci,netdev=n0,mac=52:54:00:01:02:03", -1, "user networking (slirp state)"},
	};
	const char *t[] = {"q",
			   "-netdev",
			   "tap,id=n0,fd=6",
			   "-device",
			   "virtio-net-pci,netdev=n0,mac=52:54:00:aa:bb:cc",
			   NULL};
	struct json_object *jt = dc(t);

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *c[] = {"q", "-netdev", rows[i].netdev, "-device", rows[i].device, NULL};
		struct json_object *jc = dc(c);
		char *err = NULL;

		cr_expect_eq(snap_devconfig_compare(jt, jc, &err), rows[i].want, "%s: %s",
			     rows[i].what, err ? err : "equal");
		free(err);
		json_object_put(jc);
	}
	json_object_put(jt);
}

Test(devconfig, memory_size_differs)
{
	const char *a[] = {"q", "-m", "256", "-nodefaults", NULL};
	const char *b[] = {"q", "-m", "512", "-nodefaults", NULL};
	struct json_object *ja = dc(a), *jb = dc(b);
	char *err = NULL;

	cr_assert_eq(snap_devconfig_compare(ja, jb, &err), -1);
	cr_expect_not_null(strstr(err, "'-m 256'"), "%s", err);
	cr_expect_not_null(strstr(err, "'-m 512'"), "%s", err);
	free(err);
	json_object_put(ja);
	json_object_put(jb);
}

Test(devconfig, refuses_disks_and_shares)
{
	const char *d[] = {"q", "-drive", "file=/x.img,if=virtio,format=raw", NULL};
	const char *v[] = {"q", "-virtfs", "local,path=/s,mount_tag=t,security_model=none", NULL};
	const char *m[] = {"q", "-m", NULL};
	char *err = NULL;

	cr_expect_null(snap_devconfig(d, &err));
	cr_expect_not_null(err && strstr(err, "-drive"), "%s", err);
	free(err);
	err = NULL;
	cr_expect_null(snap_devconfig(v, &err));
	cr_expect_not_null(err && strstr(err, "9p"), "%s", err);
	free(err);
	err = NULL;
	cr_expect_null(snap_devconfig(m, &err));
	cr_expect_not_null(err && strstr(err, "no argument"), "%s", err);
	free(err);
}

Test(quote, safe_paths_only)
{
	char *err = NULL, *q = snap_shell_quote("/var/lib/vmsup/templates/a-b.1/state", &err);

	cr_assert_str_eq(q, "'/var/lib/vmsup/templates/a-b.1/state'");
	free(q);
	static const char *const bad[] = {"rel/path", "/a'b",  "/a$(id)", "/a`x`", "/a\nb",
					  "/a;b",     "/a\"b", "/a\\b",	  "",	   "/a*b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		cr_expect_null(snap_shell_quote(bad[i], &err), "accepted %s", bad[i]);
		cr_expect_not_null(err);
		free(err);
	}
}

Test(tmplname, rules)
{
	static const char *const good[] = {"a", "Base-1.2_x", "0"};
	static const char *const bad[] = {"", "-a", ".hidden", "a/b", "a b", "..", "_x"};
	char *err = NULL, longname[80];

	for (size_t i = 0; i < 3; i++)
		cr_expect_eq(tmpl_name_check(good[i], NULL), 0, "%s", good[i]);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = NULL;
		cr_expect_eq(tmpl_name_check(bad[i], &err), -1, "%s", bad[i]);
		cr_expect_not_null(err);
		free(err);
	}
	memset(longname, 'a', 64);
	longname[64] = '\0';
	cr_expect_eq(tmpl_name_check(longname, NULL), -1);
}

static char sdir[64];

static void mkstate(void)
{
	strcpy(sdir, "/tmp/vmsnap-store-XXXXXX");
	cr_assert_not_null(mkdtemp(sdir));
}

static void rmstate(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", sdir);
	cr_expect_eq(system(cmd), 0);
}

/* A template made the way the daemon makes one, with a fake state file. */
static void make_tmpl(const char *name, size_t bytes)
{
	struct tmpl_new t;
	char *err = NULL;
	const char *argv[] = VM_ARGV("x", "/r", "1", );
	struct json_object *d = dc(argv), *meta;
	struct snap_stats st = {.file_bytes = bytes, .ram_total = 1 << 28};
	FILE *f;

	cr_assert_eq(tmpl_begin(sdir, name, &t, &err), 0, "%s", err ? err : "");
	f = fopen(t.state_path, "w");
	cr_assert_not_null(f);
	for (size_t i = 0; i < bytes; i++)
		fputc('Q', f);
	fclose(f);
	meta = tmpl_meta_new(name, "7.2.22", "Debian", d, NULL, &st);
	cr_assert_eq(tmpl_commit(&t, meta, &err), 0, "%s", err ? err : "");
	json_object_put(meta);
	json_object_put(d);
}

Test(store, create_list_check_rm, .init = mkstate, .fini = rmstate)
{
	char *err = NULL, p[256];
	struct tmpl_new t;
	struct json_object *l, *arr;
	struct tmpl *tp;
	struct stat sb;
	const char *same[] = VM_ARGV("other", "/elsewhere", "5555", );
	const char *more[] = VM_ARGV("other", "/elsewhere", "5555", "-device", "virtio-rng-pci", );

	make_tmpl("beta", 100);
	make_tmpl("alpha", 10);
	snprintf(p, sizeof(p), "%s/templates/alpha", sdir);
	cr_assert_eq(stat(p, &sb), 0);
	cr_expect_eq(sb.st_mode & 0777, 0700);

	/* a second one with the same name is refused, and leaves nothing behind */
	cr_expect_eq(tmpl_begin(sdir, "alpha", &t, &err), -1);
	cr_expect_not_null(err && strstr(err, "already exists"), "%s", err);
	free(err);
	err = NULL;
	/* an abandoned one is invisible and removed */
	cr_assert_eq(tmpl_begin(sdir, "gamma", &t, &err), 0);
	tmpl_abort(&t);

	l = tmpl_list(sdir, &err);
	cr_assert_not_null(l, "%s", err);
	json_object_object_get_ex(l, "templates", &arr);
	cr_assert_eq(json_object_array_length(arr), 2, "%s", json_object_to_json_string(l));
	cr_expect_str_eq(json_object_get_string(
			     json_object_object_get(json_object_array_get_idx(arr, 0), "name")),
			 "alpha");
	json_object_put(l);

	tp = tmpl_open(sdir, "alpha", &err);
	cr_assert_not_null(tp, "%s", err);
	cr_expect_str_eq(tp->mac, "52:54:00:aa:bb:cc");
	cr_expect_eq(tmpl_check_vm(tp, "7.2.22", same, &err), 0, "%s", err ? err : "");
	cr_expect_eq(tmpl_check_vm(tp, "8.0.0", same, &err), -1);
	cr_expect_not_null(err && strstr(err, "qemu 7.2.22; this is qemu 8.0.0"), "%s", err);
	free(err);
	err = NULL;
	cr_expect_eq(tmpl_check_vm(tp, "7.2.22", more, &err), -1);
	cr_expect_not_null(err && strstr(err, "virtio-rng-pci"), "%s", err);
	free(err);
	err = NULL;
	tmpl_close(tp);

	cr_expect_eq(tmpl_rm(sdir, "alpha", &err), 0);
	cr_expect_eq(tmpl_rm(sdir, "alpha", &err), -1);
	cr_expect_not_null(err && strstr(err, "no template"), "%s", err);
	free(err);
	err = NULL;
	cr_expect_eq(tmpl_rm(sdir, "../x", &err), -1);
	free(err);
}

Test(store, truncated_or_broken_refused, .init = mkstate, .fini = rmstate)
{
	char *err = NULL, p[256];
	struct json_object *l, *arr, *e;
	FILE *f;

	make_tmpl("t", 100);
	snprintf(p, sizeof(p), "%s/templates/t/state", sdir);
	cr_assert_eq(truncate(p, 50), 0);
	cr_expect_null(tmpl_open(sdir, "t", &err));
	cr_expect_not_null(err && strstr(err, "50 bytes, 100 were saved"), "%s", err);
	free(err);
	err = NULL;

	make_tmpl("m", 10);
	snprintf(p, sizeof(p), "%s/templates/m/meta.json", sdir);
	f = fopen(p, "w");
	fputs("{\"format\":1,\"name\":", f);
	fclose(f);
	cr_expect_null(tmpl_open(sdir, "m", &err));
	cr_expect_not_null(err && strstr(err, "meta.json"), "%s", err);
	free(err);
	err = NULL;

	/* list shows both, each with its error, rather than failing */
	l = tmpl_list(sdir, &err);
	cr_assert_not_null(l);
	json_object_object_get_ex(l, "templates", &arr);
	cr_assert_eq(json_object_array_length(arr), 2);
	for (size_t i = 0; i < 2; i++)
		cr_expect(
		    json_object_object_get_ex(json_object_array_get_idx(arr, i), "error", &e));
	json_object_put(l);
	cr_expect_null(tmpl_open(sdir, "nope", &err));
	cr_expect_not_null(err && strstr(err, "no template 'nope'"), "%s", err);
	free(err);
}
