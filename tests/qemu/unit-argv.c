/* The qemu argv builder: every option, each element checked exactly. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/qemu/argv.h"
#include "src/qemu/config.h"
#include "src/qemu/net.h"

static struct vm_paths paths = {
    .run_dir = "/r/vm/a",
    .qmp_sock = "/r/vm/a/qmp.sock",
    .ops_sock = "/r/vm/a/ops.sock",
    .qga_sock = "/r/vm/a/qga.sock",
    .pidfile = "/r/vm/a/qemu.pid",
    .console_log = "/r/vm/a/console.log",
    .ssh_port = 40022,
    .mac = "52:54:00:12:34:56",
};

static size_t count(char **v)
{
	size_t n = 0;
	while (v[n])
		n++;
	return n;
}

/* index of the element after the first occurrence of opt (with its value), or -1 */
static int find(char **v, const char *opt, const char *val)
{
	for (int i = 0; v[i]; i++)
		if (!strcmp(v[i], opt) && v[i + 1] && (!val || !strcmp(v[i + 1], val)))
			return i;
	return -1;
}

static void base_spec(struct vm_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->name = "a";
	s->mem_mib = 256;
	s->cpus = 2;
	s->accel = "tcg";
	s->restart = "never";
	s->start = true;
}

Test(argv, guestless_exact)
{
	struct vm_spec s;
	struct vm_argv_opts o = {"qemu-system-x86_64", true, NULL, 96};
	const char *want[] = {
	    "qemu-system-x86_64",
	    "-name",
	    "guest=a",
	    "-machine",
	    "q35",
	    "-accel",
	    "tcg,tb-size=96",
	    "-m",
	    "256",
	    "-smp",
	    "2",
	    "-nodefaults",
	    "-no-user-config",
	    "-display",
	    "none",
	    "-S",
	    "-chardev",
	    "socket,id=qmp,path=/r/vm/a/qmp.sock,server=on,wait=off",
	    "-mon",
	    "chardev=qmp,mode=control",
	    "-chardev",
	    "socket,id=ops,path=/r/vm/a/ops.sock,server=on,wait=off",
	    "-mon",
	    "chardev=ops,mode=control",
	    "-chardev",
	    "socket,id=qga0,path=/r/vm/a/qga.sock,server=on,wait=off",
	    "-device",
	    "virtio-serial-pci",
	    "-device",
	    "virtserialport,chardev=qga0,id=qga0,name=org.qemu.guest_agent.0",
	    "-device",
	    "virtio-balloon-pci,id=balloon0",
	    "-device",
	    "vmgenid",
	    "-device",
	    "pvpanic",
	    "-netdev",
	    "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22",
	    "-device",
	    "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56",
	    "-chardev",
	    "socket,id=serial0,path=/r/vm/a/console.sock,server=on,wait=off,logfile=/r/vm/a/"
	    "console."
	    "log,logappend=on",
	    "-serial",
	    "chardev:serial0",
	    "-sandbox",
	    "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
	    "-pidfile",
	    "/r/vm/a/qemu.pid",
	};
	char *err = NULL;
	char **v;

	base_spec(&s);
	v = vm_argv_build(&s, &paths, &o, &err);
	cr_assert_not_null(v, "%s", err);
	cr_assert_eq(count(v), sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_expect_str_eq(v[i], want[i], "element %zu", i);
	vm_argv_free(v);
}

/* a restore of a template saved before VMs had pvpanic (or virtio-rng)
 * leaves it out; a guest-less VM has no rng */
Test(argv, no_pvpanic_or_rng_for_old_templates)
{
	struct vm_spec s;
	struct vm_argv_opts o = {"q", false, NULL, 0};
	char **v;

	base_spec(&s);
	s.guest = true;
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_geq(find(v, "-device", "pvpanic"), 0);
	cr_expect_geq(find(v, "-device", "virtio-rng-pci"), 0);
	vm_argv_free(v);
	s.no_pvpanic = true;
	s.no_rng = true;
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_lt(find(v, "-device", "pvpanic"), 0);
	cr_expect_lt(find(v, "-device", "virtio-rng-pci"), 0);
	vm_argv_free(v);
	s.no_rng = false;
	s.guest = false;
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_lt(find(v, "-device", "virtio-rng-pci"), 0);
	vm_argv_free(v);
}

Test(argv, kvm_tcg_fallback_is_two_accels)
{
	struct vm_spec s;
	struct vm_argv_opts o = {"q", false, NULL, 0};
	char **v;
	int i;

	base_spec(&s);
	s.accel = "kvm:tcg";
	v = vm_argv_build(&s, &paths, &o, NULL);
	i = find(v, "-accel", "kvm");
	cr_assert_geq(i, 0);
	cr_expect_str_eq(v[i + 2], "-accel");
	cr_expect_str_eq(v[i + 3], "tcg");
	cr_expect_eq(find(v, "-sandbox", NULL), -1, "no -sandbox when qemu lacks it");
	vm_argv_free(v);

	s.accel = "kvm";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_geq(find(v, "-accel", "kvm"), 0);
	cr_expect_eq(find(v, "-accel", "tcg"), -1);
	vm_argv_free(v);
}

/* The translation cache the memory ceiling counts is the one qemu gets. */
Test(argv, tcg_cache_size_is_explicit)
{
	struct vm_spec s;
	struct vm_argv_opts o = {"q", false, NULL, 128};
	char **v;

	base_spec(&s);
	s.accel = "kvm:tcg";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_geq(find(v, "-accel", "kvm"), 0);
	cr_expect_geq(find(v, "-accel", "tcg,tb-size=128"), 0);
	vm_argv_free(v);
	s.accel = "kvm";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_eq(find(v, "-accel", "tcg,tb-size=128"), -1, "no TCG option for kvm only");
	vm_argv_free(v);
	cr_expect(vmsup_accel_may_tcg("tcg") && vmsup_accel_may_tcg("kvm:tcg"));
	cr_expect_not(vmsup_accel_may_tcg("kvm"));
}

Test(argv, kernel_initrd_append_shares)
{
	struct vm_spec s;
	struct vm_share sh[2] = {{.path = "/srv/x"}, {.path = "/srv/y,z", .readonly = true}};
	struct vm_argv_opts o = {"q", false, "nobody", 0};
	char **v;
	int i;

	base_spec(&s);
	s.kernel = "/g/vmlinuz";
	s.initrd = "/g/initrd.img";
	s.append = "console=ttyS0";
	s.shares = sh;
	s.nshares = 2;
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_assert_not_null(v);
	cr_expect_geq(find(v, "-kernel", "/g/vmlinuz"), 0);
	cr_expect_geq(find(v, "-initrd", "/g/initrd.img"), 0);
	cr_expect_geq(
	    find(v, "-append", "console=ttyS0 vmshare=vmshare0:/srv/x vmshare=vmshare1:/srv/y,z"),
	    0);
	i = find(v, "-virtfs", "local,path=/srv/x,mount_tag=vmshare0,security_model=none");
	cr_expect_geq(i, 0);
	/* a comma in a path is doubled, qemu's escape */
	cr_expect_geq(
	    find(v, "-virtfs",
		 "local,path=/srv/y,,z,mount_tag=vmshare1,security_model=none,readonly=on"),
	    0);
	cr_expect_geq(find(v, "-runas", "nobody"), 0);
	cr_expect_eq(find(v, "-drive", NULL), -1);
	vm_argv_free(v);

	/* the files module's descriptors (src/files/): qemu gets those; the
	 * guest still mounts each share at its path */
	s.kernel_qemu = "/proc/self/fd/13";
	s.initrd_qemu = "/proc/self/fd/14";
	sh[0].qemu_path = "/proc/self/fd/15";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_assert_not_null(v);
	cr_expect_geq(find(v, "-kernel", "/proc/self/fd/13"), 0);
	cr_expect_geq(find(v, "-initrd", "/proc/self/fd/14"), 0);
	cr_expect_geq(find(v, "-virtfs",
			   "local,path=/proc/self/fd/15,mount_tag=vmshare0,security_model=none"),
		      0);
	cr_expect_geq(
	    find(v, "-append", "console=ttyS0 vmshare=vmshare0:/srv/x vmshare=vmshare1:/srv/y,z"),
	    0);
	vm_argv_free(v);
}

/* The console log is the serial port: a kernel always writes there. */
Test(argv, kernel_without_append_gets_serial_console)
{
	struct vm_spec s;
	struct vm_share sh = {.path = "/srv/x"};
	struct vm_argv_opts o = {"q", false, NULL, 0};
	char **v;

	base_spec(&s);
	s.kernel = "/g/vmlinuz";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_geq(find(v, "-append", "console=ttyS0"), 0);
	cr_expect_eq(find(v, "-initrd", NULL), -1);
	vm_argv_free(v);
	s.append = "";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_geq(find(v, "-append", "console=ttyS0"), 0);
	vm_argv_free(v);
	s.shares = &sh;
	s.nshares = 1;
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_geq(find(v, "-append", "console=ttyS0 vmshare=vmshare0:/srv/x"), 0);
	vm_argv_free(v);
}

Test(argv, append_without_console_gets_serial_console_first)
{
	struct vm_spec s;
	struct vm_argv_opts o = {"q", false, NULL, 0};
	char **v;

	base_spec(&s);
	s.kernel = "/g/vmlinuz";
	s.append = "quiet -- init-arg console=tty0";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_geq(find(v, "-append", "console=ttyS0 quiet -- init-arg console=tty0"), 0);
	vm_argv_free(v);
}

Test(argv, append_naming_a_console_is_kept)
{
	struct vm_spec s;
	struct vm_argv_opts o = {"q", false, NULL, 0};
	char **v;

	base_spec(&s);
	s.kernel = "/g/vmlinuz";
	s.append = "quiet console=hvc0";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_geq(find(v, "-append", "quiet console=hvc0"), 0);
	vm_argv_free(v);
}

/* The disk is its module's (src/disk/disk-argv.c): no -drive by path here. */
Test(argv, disk_not_by_path)
{
	struct vm_spec s;
	struct vm_argv_opts o = {"q", false, NULL, 0};
	char **v;

	base_spec(&s);
	s.disk = "/img/d,1.qcow2";
	v = vm_argv_build(&s, &paths, &o, NULL);
	cr_expect_eq(find(v, "-drive", NULL), -1);
	for (size_t i = 0; v[i]; i++)
		cr_expect_null(strstr(v[i], "/img/d"), "the path reaches qemu: %s", v[i]);
	cr_expect_eq(find(v, "-kernel", NULL), -1);
	vm_argv_free(v);
}

Test(argv, mac_is_stable_and_local)
{
	char a[18], b[18], c[18];

	vm_mac_from_name("web-1", a);
	vm_mac_from_name("web-1", b);
	vm_mac_from_name("web-2", c);
	cr_expect_str_eq(a, b);
	cr_expect_str_neq(a, c);
	cr_expect_eq(strncmp(a, "52:54:00:", 9), 0);
	cr_expect_eq(strlen(a), 17);
}

/* taken() of vm_mac_unique: the MACs in a NULL-terminated list */
static bool in_list(const char *mac, void *arg)
{
	for (const char *const *l = arg; *l; l++)
		if (!strcmp(*l, mac))
			return true;
	return false;
}

Test(argv, mac_unique_rehashes_only_when_taken)
{
	char name_mac[18], m[18] = "", again[18] = "";
	const char *none[] = {NULL}, *taken[] = {name_mac, NULL};

	vm_mac_from_name("web-1", name_mac);
	cr_assert_eq(vm_mac_unique("web-1", in_list, none, m), 0);
	cr_expect_str_eq(m, name_mac, "free: the name's own MAC");
	m[0] = '\0';
	cr_assert_eq(vm_mac_unique("web-1", in_list, taken, m), 0);
	cr_expect_str_neq(m, name_mac, "taken: another one");
	cr_expect_eq(strncmp(m, "52:54:00:", 9), 0);
	/* stable: the same taken set gives the same answer, and a MAC
	 * already chosen (kept in the state file) stays while it is free */
	cr_assert_eq(vm_mac_unique("web-1", in_list, taken, again), 0);
	cr_expect_str_eq(again, m);
	cr_assert_eq(vm_mac_unique("web-1", in_list, none, again), 0);
	cr_expect_str_eq(again, m);
}

/* mode bridge: qemu gets the tap vmsupd opened, as fds[VM_SPAWN_TAP_FD] */
Test(argv, bridge_netdev_is_the_tap_fd)
{
	struct vm_net n = {.bridge = true};
	char *nd = vm_net_netdev(&n, 22), want[32];

	snprintf(want, sizeof(want), "tap,id=n0,fd=%d", 3 + VM_SPAWN_TAP_FD);
	cr_assert_not_null(nd);
	cr_expect_str_eq(nd, want);
	free(nd);
}
