#include "src/qemu/argv.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/err.h"

struct av {
	char **v;
	size_t n, cap;
	int oom;
};

static void push(struct av *a, char *s)
{
	if (!s) {
		a->oom = 1;
		return;
	}
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		char **v = realloc(a->v, cap * sizeof(*v));
		if (!v) {
			free(s);
			a->oom = 1;
			return;
		}
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = s;
	a->v[a->n] = NULL;
}

static void add(struct av *a, const char *s)
{
	push(a, strdup(s));
}

__attribute__((format(printf, 2, 3))) static void addf(struct av *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	push(a, s);
}

/* qemu's option syntax: a comma inside a value is written twice. */
static char *esc(const char *s)
{
	size_t n = 0;
	char *r, *d;

	for (const char *p = s; *p; p++)
		n += *p == ',' ? 2 : 1;
	if (!(r = malloc(n + 1)))
		return NULL;
	d = r;
	for (const char *p = s; *p; p++) {
		*d++ = *p;
		if (*p == ',')
			*d++ = ',';
	}
	*d = '\0';
	return r;
}

/*
 * The serial port: a socket chardev in the run dir for `vmctl console`,
 * which also writes every byte the guest prints to the console log
 * (logfile=), attached or not. logappend=on opens the log O_APPEND, so the
 * daemon can rotate it under qemu (copy, then truncate) without leaving a
 * sparse hole before qemu's next write.
 */
static void serial_console(struct av *a, const char *run_dir, const char *log)
{
	char *d = esc(run_dir), *l = esc(log);

	add(a, "-chardev");
	if (d && l)
		addf(a,
		     "socket,id=" VM_SERIAL_ID ",path=%s/" VM_CONSOLE_SOCK
		     ",server=on,wait=off,logfile=%s,logappend=on",
		     d, l);
	else
		a->oom = 1;
	free(d);
	free(l);
	add(a, "-serial");
	add(a, "chardev:" VM_SERIAL_ID);
}

/* "-chardev socket,id=ID,path=PATH,server=on,wait=off" */
static void chardev(struct av *a, const char *id, const char *path)
{
	char *p = esc(path);

	add(a, "-chardev");
	if (p)
		addf(a, "socket,id=%s,path=%s,server=on,wait=off", id, p);
	else
		a->oom = 1;
	free(p);
}

/* Whether the kernel command line names a console (words after "--" are init's). */
static int names_console(const char *cmdline)
{
	const char *p = cmdline;

	while (p && *p) {
		size_t n;

		p += strspn(p, " \t\n");
		n = strcspn(p, " \t\n");
		if (n == 2 && !strncmp(p, "--", 2))
			return 0;
		if (n >= 8 && !strncmp(p, "console=", 8))
			return 1;
		p += n;
	}
	return 0;
}

/* FNV-1a: stable across runs and hosts, so a VM keeps its MAC */
static uint32_t name_hash(const char *name)
{
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* 52:54:00 as qemu's own: the locally administered bit is set */
static void mac_of(uint32_t h, char out[18])
{
	snprintf(out, 18, "52:54:00:%02x:%02x:%02x", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

void vm_mac_from_name(const char *name, char out[18])
{
	mac_of(name_hash(name), out);
}

int vm_mac_unique(const char *name, bool (*taken)(const char *mac, void *arg), void *arg,
		  char out[18])
{
	uint32_t h = name_hash(name);

	if (!out[0])
		mac_of(h, out);
	for (unsigned i = 1; taken(out, arg); i++) {
		if (i > 1000)
			return -1;
		h = (h ^ i) * 16777619u;
		mac_of(h, out);
	}
	return 0;
}

char **vm_argv_build(const struct vm_spec *s, const struct vm_paths *p,
		     const struct vm_argv_opts *o, char **err)
{
	struct av a = {0};
	char *append = NULL;
	size_t alen = 0;
	FILE *af;

	add(&a, o->qemu);
	add(&a, "-name");
	addf(&a, "guest=%s", s->name);
	add(&a, "-machine");
	add(&a, s->ram_file ? "q35,memory-backend=" VM_RAM_ID : "q35");
	if (s->ram_file) {
		char *d = esc(s->ram_file);
		add(&a, "-object");
		if (d)
			addf(&a,
			     "memory-backend-file,id=" VM_RAM_ID ",size=%uM,mem-path=%s,share=%s",
			     s->mem_mib, d, s->ram_shared ? "on" : "off");
		else
			a.oom = 1;
		free(d);
	}
	/* qemu tries each -accel in order and keeps the first that works */
	if (strcmp(s->accel, "tcg")) {
		add(&a, "-accel");
		add(&a, "kvm");
	}
	/* qemu 7.2 sizes TCG's translation cache at min(1 GiB, host RAM / 8)
	 * when not told: memory outside the guest's RAM that fills as a big
	 * guest boots and that the cgroup ceiling must cover. Say how big it
	 * is, so the ceiling can count it (vm-limits.c). */
	if (strcmp(s->accel, "kvm")) {
		add(&a, "-accel");
		if (o->tcg_tb_mib)
			addf(&a, "tcg,tb-size=%u", o->tcg_tb_mib);
		else
			add(&a, "tcg");
	}
	add(&a, "-m");
	addf(&a, "%u", s->mem_mib);
	add(&a, "-smp");
	addf(&a, "%u", s->cpus);
	add(&a, "-nodefaults");
	add(&a, "-no-user-config");
	add(&a, "-display");
	add(&a, "none");
	add(&a, "-S");

	if (s->kernel) {
		add(&a, "-kernel");
		add(&a, s->kernel_qemu ? s->kernel_qemu : s->kernel);
		if (s->initrd) {
			add(&a, "-initrd");
			add(&a, s->initrd_qemu ? s->initrd_qemu : s->initrd);
		}
		af = open_memstream(&append, &alen);
		if (!af) {
			a.oom = 1;
		} else {
			/* The console log is the serial port: without a console= the
			 * kernel writes nowhere we keep, and a panic or an init that
			 * dies goes unseen. A console the user names is theirs to
			 * choose; put ours first, before any "--" and init's words. */
			if (!names_console(s->append))
				fputs("console=ttyS0", af);
			if (s->append && *s->append)
				fprintf(af, "%s%s", ftell(af) ? " " : "", s->append);
			/* the guest mounts each share by the tag named on its command line */
			for (size_t i = 0; i < s->nshares; i++)
				fprintf(af, " vmshare=vmshare%zu:%s", i, s->shares[i].path);
			fclose(af);
			add(&a, "-append");
			add(&a, append);
		}
	}
	/* the disk (src/disk/) comes from its module, after this argv */
	chardev(&a, "qmp", p->qmp_sock);
	add(&a, "-mon");
	add(&a, "chardev=qmp,mode=control");
	chardev(&a, "ops", p->ops_sock);
	add(&a, "-mon");
	add(&a, "chardev=ops,mode=control");
	chardev(&a, "qga0", p->qga_sock);
	add(&a, "-device");
	add(&a, "virtio-serial-pci");
	add(&a, "-device");
	add(&a, "virtserialport,chardev=qga0,id=qga0,name=org.qemu.guest_agent.0");
	add(&a, "-device");
	add(&a, "virtio-balloon-pci,id=balloon0");
	/* a new generation ID per qemu: a guest restored from a snapshot reseeds its crng */
	add(&a, "-device");
	add(&a, "vmgenid");
	/* a guest kernel that panics says so (GUEST_PANICKED): a crash with
	 * its reason, where a hung guest or a plain reset said nothing */
	if (!s->no_pvpanic) {
		add(&a, "-device");
		add(&a, "pvpanic");
	}
	/* entropy from the host (qemu's getrandom, no file): without it a TCG
	 * guest (no RDRAND) waits many seconds for its crng, and whatever
	 * reads getrandom() first waits with it (the test guest's sshd
	 * answered 2-3 s after the guest's address was known) */
	if (s->guest && !s->no_rng) {
		add(&a, "-device");
		add(&a, "virtio-rng-pci");
	}
	/* mode none: no NIC at all, the agent talks over virtio-serial */
	if (!s->net.none) {
		char *nd = vm_net_netdev(&s->net, p->ssh_port);
		add(&a, "-netdev");
		if (nd)
			add(&a, nd);
		else
			a.oom = 1;
		free(nd);
		add(&a, "-device");
		addf(&a, "virtio-net-pci,netdev=n0,mac=%s", p->mac);
	}
	for (size_t i = 0; i < s->nshares; i++) {
		const struct vm_share *sh = &s->shares[i];
		char *d = esc(sh->qemu_path ? sh->qemu_path : sh->path);
		add(&a, "-virtfs");
		if (d)
			addf(&a, "local,path=%s,mount_tag=vmshare%zu,security_model=none%s", d, i,
			     s->shares[i].readonly ? ",readonly=on" : "");
		else
			a.oom = 1;
		free(d);
	}
	if (s->stage) {
		char *d = esc(p->run_dir);
		add(&a, "-fsdev");
		if (d)
			addf(&a,
			     "local,id=" VM_STAGE_TAG ",path=%s/" VM_STAGE_DIR
			     ",security_model=none",
			     d);
		else
			a.oom = 1;
		free(d);
		add(&a, "-device");
		add(&a, "virtio-9p-pci,fsdev=" VM_STAGE_TAG ",mount_tag=" VM_STAGE_TAG);
	}
	serial_console(&a, p->run_dir, p->console_log);
	if (o->sandbox) {
		add(&a, "-sandbox");
		/* -runas calls setgid/setuid after the filter is in place: with
		 * elevateprivileges=deny qemu dies of SIGSYS (checked on 7.2) */
		add(&a, o->qemu_user ? VM_SANDBOX_OPTS_RUNAS : VM_SANDBOX_OPTS);
	}
	if (o->qemu_user) {
		add(&a, "-runas");
		add(&a, o->qemu_user);
	}
	add(&a, "-pidfile");
	add(&a, p->pidfile);

	free(append);
	if (a.oom) {
		vm_argv_free(a.v);
		vmsup_err(err, "out of memory building the qemu command line");
		return NULL;
	}
	return a.v;
}

void vm_argv_free(char **argv)
{
	if (!argv)
		return;
	for (char **p = argv; *p; p++)
		free(*p);
	free(argv);
}

int vm_argv_append(char ***argv, const char *const *more)
{
	size_t n = 0, m = 0;
	char **v;

	while ((*argv)[n])
		n++;
	while (more[m])
		m++;
	if (!(v = realloc(*argv, (n + m + 1) * sizeof(*v))))
		return -1;
	*argv = v;
	for (size_t i = 0; i < m; i++) {
		v[n + i] = strdup(more[i]);
		v[n + i + 1] = NULL;
		if (!v[n + i])
			return -1;
	}
	v[n + m] = NULL;
	return 0;
}
