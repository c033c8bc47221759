/*
 * Caller-sent QMP that would make qemu spawn a process or open a host path
 * (qmp-guard.h). qemu 7.2's schema is the reference; names compare with '-'
 * and '_' equal, so a spelling qemu does not know is refused rather than
 * let through.
 */
#include "src/qemu/qmp-guard.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/err.h"

/* a == b with '-' and '_' equal */
static bool name_eq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
		if (x != y)
			return false;
	}
	return *a == *b;
}

static bool name_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (name_eq(name, *list))
			return true;
	return false;
}

static struct json_object *member(struct json_object *o, const char *key)
{
	if (!o || !json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_foreach(o, k, v)
	{
		if (name_eq(k, key))
			return v;
	}
	return NULL;
}

/* The string member key of o, "" if absent or not a string. */
static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v = member(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* The first member, at any depth under o, whose name is in keys. */
static const char *find_key(struct json_object *o, const char *const *keys, int depth)
{
	const char *hit = NULL;

	if (!o || depth > 32)
		return NULL;
	if (json_object_is_type(o, json_type_array)) {
		for (size_t i = 0; !hit && i < json_object_array_length(o); i++)
			hit = find_key(json_object_array_get_idx(o, i), keys, depth + 1);
		return hit;
	}
	if (!json_object_is_type(o, json_type_object))
		return NULL;
	json_object_object_foreach(o, k, v)
	{
		if (!json_object_is_type(v, json_type_null) && name_in(k, keys))
			return k;
		if ((hit = find_key(v, keys, depth + 1)))
			return hit;
	}
	return NULL;
}

static int refuse(char **why, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(char **why, const char *cmd, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	vmsup_err(why,
		  "QMP command '%s' refused: %s (qemu must not spawn processes or open host "
		  "paths a caller names)",
		  cmd, msg ? msg : "not allowed");
	free(msg);
	return -1;
}

/* Paths on the host, by the argument that carries them. */
static const char *const block_keys[] = {"filename",	  "dir",	"path",
					 "snapshot-file", "mountpoint", NULL};
static const char *const chardev_keys[] = {"path", "device", "out", "in", "logfile", NULL};
static const char *const netdev_keys[] = {"helper", "smb",  "tftp",	"guestfwd", "bootfile",
					  "sock",   "path", "vhostdev", NULL};
/* sev-guest reads dh-cert-file and session-file; dbus-vmstate's addr is a
 * D-Bus address (unix:path=...) */
static const char *const object_keys[] = {"mem-path",	  "file",  "filename", "dir",
					  "path",	  "evdev", "rootdir",  "dh-cert-file",
					  "session-file", "addr",  NULL};
static const char *const device_keys[] = {"file",   "romfile", "sysfsdev", "hostdevice",
					  "hidraw", "rootdir", "host",	   NULL};
/* every key above: a qom-set of one of these properties is refused too */
static const char *const *const all_keys[] = {block_keys,  chardev_keys, netdev_keys,
					      object_keys, device_keys,	 NULL};

/* Commands that write or read a host file and have no other form. */
static const char *const file_cmds[] = {
    "screendump", "pmemsave", "memsave", "xen-save-devices-state", "xen-load-devices-state",
    "dump-skeys", NULL};

/* HMP commands human-monitor-command may run: no file, no spawn. */
static const char *const hmp_ok[] = {
    "info",	     "help",	"?",   "stop",	  "cont", "c", "system_reset", "system_powerdown",
    "system_wakeup", "sendkey", "nmi", "balloon", NULL};

/* Migration URIs that neither spawn nor open a file: sockets and fds. */
static const char *const uri_ok[] = {"tcp:", "unix:", "vsock:", "fd:", "rdma:", NULL};

static int check_uri(const char *cmd, const char *uri, char **why)
{
	for (const char *const *p = uri_ok; *p; p++)
		if (!strncmp(uri, *p, strlen(*p)))
			return 0;
	if (!*uri)
		return 0; /* no uri (or not a string): qemu answers */
	return refuse(why, cmd,
		      "migration URI '%.40s' is not allowed: use tcp:, unix:, vsock:, fd: or "
		      "rdma: (exec: spawns a process, file: opens a host file)",
		      uri);
}

static int check_netdev(const char *cmd, struct json_object *a, char **why)
{
	const char *type = member_str(a, "type"), *k;
	struct json_object *script = member(a, "script"), *down = member(a, "downscript");

	if (name_eq(type, "bridge") || name_eq(type, "vde") || name_eq(type, "vhost-vdpa"))
		return refuse(why, cmd, "netdev type '%s' runs a helper or opens a host path",
			      type);
	if ((script && strcmp(member_str(a, "script"), "no")) ||
	    (down && strcmp(member_str(a, "downscript"), "no")))
		return refuse(why, cmd, "%s runs a script on the host", "a tap with script");
	/* without fd/fds, a tap runs /etc/qemu-ifup unless told "no" */
	if (name_eq(type, "tap") && !member(a, "fd") && !member(a, "fds") && (!script || !down))
		return refuse(why, cmd,
			      "%s runs /etc/qemu-ifup and /etc/qemu-ifdown: pass fd, or "
			      "script and downscript \"no\"",
			      "a tap without fd");
	if ((k = find_key(a, netdev_keys, 0)))
		return refuse(why, cmd, "argument '%s' spawns a process or names a host path", k);
	return 0;
}

static int check_keys(const char *cmd, struct json_object *a, const char *const *keys, char **why)
{
	const char *k = find_key(a, keys, 0);

	return k ? refuse(why, cmd, "argument '%s' names a host path", k) : 0;
}

static int check_hmp(const char *cmd, struct json_object *a, char **why)
{
	const char *line = member_str(a, "command-line");
	char word[32];
	size_t n = 0;

	line += strspn(line, " \t\r\n");
	while (line[n] && !strchr(" \t\r\n", line[n]) && n < sizeof(word) - 1) {
		word[n] = line[n];
		n++;
	}
	word[n] = '\0';
	if (!n || name_in(word, hmp_ok))
		return 0;
	return refuse(why, cmd,
		      "HMP command '%s' is not allowed (allowed: info, help, stop, cont, "
		      "system_reset, system_powerdown, system_wakeup, sendkey, nmi, balloon); "
		      "send the QMP command instead",
		      word);
}

static int check(const char *cmd, struct json_object *a, char **why, int depth);

/* transaction: each action is a command of its own */
static int check_transaction(struct json_object *a, char **why, int depth)
{
	struct json_object *acts = member(a, "actions");

	if (!acts || !json_object_is_type(acts, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(acts); i++) {
		struct json_object *act = json_object_array_get_idx(acts, i);
		if (check(member_str(act, "type"), member(act, "data"), why, depth + 1))
			return -1;
	}
	return 0;
}

static int check(const char *cmd, struct json_object *a, char **why, int depth)
{
	const char *drv;

	if (depth > 4)
		return refuse(why, cmd, "%s", "nested too deep");
	if (name_in(cmd, file_cmds))
		return refuse(why, cmd, "%s", "it reads or writes a file on the host");
	if (name_eq(cmd, "migrate") || name_eq(cmd, "migrate-incoming") ||
	    name_eq(cmd, "migrate-recover"))
		return check_uri(cmd, member_str(a, "uri"), why);
	if (name_eq(cmd, "dump-guest-memory")) {
		const char *p = member_str(a, "protocol");
		if (*p && strncmp(p, "fd:", 3))
			return refuse(why, cmd,
				      "protocol '%.40s' is not allowed: use fd: (file: writes a "
				      "host file)",
				      p);
		return 0;
	}
	if (name_eq(cmd, "human-monitor-command"))
		return check_hmp(cmd, a, why);
	if (name_eq(cmd, "transaction"))
		return check_transaction(a, why, depth);
	if (name_eq(cmd, "blockdev-add") || name_eq(cmd, "blockdev-create") ||
	    name_eq(cmd, "blockdev-reopen") || name_eq(cmd, "blockdev-change-medium") ||
	    name_eq(cmd, "blockdev-snapshot-sync") || name_eq(cmd, "block-export-add") ||
	    name_eq(cmd, "nbd-server-start") || name_eq(cmd, "change"))
		return check_keys(cmd, a, block_keys, why);
	if (name_eq(cmd, "drive-mirror") || name_eq(cmd, "drive-backup")) {
		/* their target is a file name (blockdev-mirror/-backup take a node) */
		static const char *const target[] = {"target", NULL};
		return check_keys(cmd, a, target, why) ? -1 : check_keys(cmd, a, block_keys, why);
	}
	if (name_eq(cmd, "chardev-add") || name_eq(cmd, "chardev-change"))
		return check_keys(cmd, a, chardev_keys, why);
	if (name_eq(cmd, "netdev-add"))
		return check_netdev(cmd, a, why);
	if (name_eq(cmd, "object-add"))
		return check_keys(cmd, a, object_keys, why);
	if (name_eq(cmd, "device-add")) {
		drv = member_str(a, "driver");
		if (!strncmp(drv, "vfio", 4) || !strncmp(drv, "usb-host", 8) ||
		    !strncmp(drv, "vhost-scsi", 10))
			return refuse(why, cmd, "device '%s' opens a host device", drv);
		return check_keys(cmd, a, device_keys, why);
	}
	if (name_eq(cmd, "qom-set")) {
		const char *prop = member_str(a, "property");
		for (const char *const *const *l = all_keys; *l; l++)
			if (name_in(prop, *l))
				return refuse(why, cmd, "property '%s' names a host path", prop);
	}
	return 0;
}

int vm_qmp_guard(struct json_object *cmd, char **why)
{
	static const char *const keys[] = {"execute", "exec-oob"};
	struct json_object *name;

	if (!cmd || !json_object_is_type(cmd, json_type_object))
		return 0;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (json_object_object_get_ex(cmd, keys[i], &name) &&
		    json_object_is_type(name, json_type_string) &&
		    check(json_object_get_string(name), member(cmd, "arguments"), why, 0))
			return -1;
	return 0;
}
