/*
 * Integration tests of the test guest (scripts/mkguest.sh) booted under
 * QEMU through the harness: the agent, the network, ssh, the 9p share, the
 * guest's wget and both ways of powering the guest off.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>

#include "qmp/qmp.h"
#include "tests/lib/guest-harness.h"

/* Booting Linux under TCG on a loaded 2-core machine: be generous. */
#define BOOT_TIMEOUT_MS	 180000u
#define SSH_TIMEOUT_MS	 60000u
#define POWER_TIMEOUT_MS 60000u

static struct th_vm vm;

/* On failure print the guest console, then fail the test. */
#define gassert(cond, ...)                                                                         \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			th_dump_serial(&vm);                                                       \
			cr_assert_fail(__VA_ARGS__);                                               \
		}                                                                                  \
	} while (0)

static void setup(void)
{
	memset(&vm, 0, sizeof(vm));
	if (!th_have_qemu())
		cr_skip_test("qemu-system-x86_64 is not installed");
	cr_assert(th_guest_dir(), "VMSUP_GUEST_DIR does not hold a guest (scripts/mkguest.sh DIR)");
}

static void teardown(void)
{
	th_vm_kill(&vm);
}

static void boot(const char *append_extra, const char *const *extra)
{
	int r = th_boot_guest_append(&vm, 256, append_extra, extra);

	cr_assert_eq(r, 0, "qemu did not start");
	gassert(th_wait_agent(&vm, BOOT_TIMEOUT_MS) == 0, "guest agent never answered");
}

/* Run one agent command; returns a new reference to "return" or NULL. */
static struct json_object *qga(const char *cmd, struct json_object *args, unsigned timeout_ms,
			       struct qmp_error *err)
{
	struct qmp_sync *c = qmp_sync_open(vm.qga_path, QMP_KIND_QGA, 10000, err);
	struct json_object *ret = NULL;

	if (!c) {
		json_object_put(args);
		return NULL;
	}
	if (qmp_sync_call(c, cmd, args, timeout_ms, &ret, err) < 0)
		ret = NULL;
	qmp_sync_close(c);
	return ret;
}

static char *read_text(const char *dir, const char *name)
{
	char path[4096], *buf = NULL;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	if (getline(&buf, &n, f) < 0) {
		free(buf);
		buf = NULL;
	} else {
		buf[strcspn(buf, "\r\n")] = '\0';
	}
	fclose(f);
	return buf;
}

/* ssh retried while the ssh client itself fails (255: dropbear not up yet). */
static int ssh_retry(const char *cmd, char **out, int *status)
{
	const char *key = th_guest_key();

	for (unsigned waited = 0; waited < SSH_TIMEOUT_MS; waited += 1000) {
		if (th_ssh(&vm, key, cmd, out, status) < 0)
			return -1;
		if (*status != 255)
			return 0;
		free(*out);
		*out = NULL;
		sleep(1);
	}
	return -1;
}

static int enabled_command(struct json_object *info, const char *name)
{
	struct json_object *cmds;

	if (!json_object_object_get_ex(info, "supported_commands", &cmds))
		return 0;
	for (size_t i = 0; i < json_object_array_length(cmds); i++) {
		struct json_object *c = json_object_array_get_idx(cmds, i), *n, *e;

		if (json_object_object_get_ex(c, "name", &n) &&
		    !strcmp(json_object_get_string(n), name))
			return json_object_object_get_ex(c, "enabled", &e) &&
			       json_object_get_boolean(e);
	}
	return 0;
}

/* The IPv4 address of the interface whose MAC is mac, or NULL. */
static const char *ipv4_of(struct json_object *ifaces, const char *name, const char *mac)
{
	for (size_t i = 0; i < json_object_array_length(ifaces); i++) {
		struct json_object *it = json_object_array_get_idx(ifaces, i), *v, *addrs;

		if (!json_object_object_get_ex(it, "name", &v) ||
		    strcmp(json_object_get_string(v), name))
			continue;
		if (!json_object_object_get_ex(it, "hardware-address", &v) ||
		    strcasecmp(json_object_get_string(v), mac))
			return NULL;
		if (!json_object_object_get_ex(it, "ip-addresses", &addrs))
			return NULL;
		for (size_t j = 0; j < json_object_array_length(addrs); j++) {
			struct json_object *a = json_object_array_get_idx(addrs, j), *t, *ip;

			if (json_object_object_get_ex(a, "ip-address-type", &t) &&
			    !strcmp(json_object_get_string(t), "ipv4") &&
			    json_object_object_get_ex(a, "ip-address", &ip))
				return json_object_get_string(ip);
		}
	}
	return NULL;
}

TestSuite(guest, .init = setup, .fini = teardown, .timeout = 600);

Test(guest, agent_network_ssh_share)
{
	char share[] = "/tmp/th-share-XXXXXX";
	char append[128], virtfs[256], hostfile[300];
	struct qmp_error err;
	struct json_object *ret, *v;
	char *out = NULL, *krel;
	int status = -1;
	const char *ip = NULL;
	FILE *f;

	memset(&err, 0, sizeof(err));
	cr_assert(mkdtemp(share), "mkdtemp: %s", strerror(errno));
	snprintf(virtfs, sizeof(virtfs),
		 "local,path=%s,mount_tag=share0,security_model=none,id=share0", share);
	snprintf(append, sizeof(append), "vmshare=share0:%s", share);
	snprintf(hostfile, sizeof(hostfile), "%s/from-host", share);
	f = fopen(hostfile, "w");
	cr_assert(f);
	fputs("hello guest\n", f);
	fclose(f);
	const char *extra[] = {"-virtfs", virtfs, NULL};

	boot(append, extra);

	ret = qga("guest-ping", NULL, 10000, &err);
	gassert(ret, "guest-ping: %s: %s", err.cls, err.desc);
	json_object_put(ret);

	ret = qga("guest-info", NULL, 10000, &err);
	gassert(ret, "guest-info: %s: %s", err.cls, err.desc);
	gassert(json_object_object_get_ex(ret, "version", &v) &&
		    strlen(json_object_get_string(v)) > 0,
		"guest-info has no version");
	/* What the supervisor relies on must not be blocked. */
	gassert(enabled_command(ret, "guest-exec"), "guest-exec disabled");
	gassert(enabled_command(ret, "guest-ssh-add-authorized-keys"),
		"guest-ssh-add-authorized-keys disabled");
	gassert(enabled_command(ret, "guest-file-open"), "guest-file-open disabled");
	gassert(enabled_command(ret, "guest-shutdown"), "guest-shutdown disabled");
	json_object_put(ret);

	/* The guest configures eth0 before the agent starts; allow a renewal race. */
	for (int i = 0; i < 30 && !ip; i++) {
		ret = qga("guest-network-get-interfaces", NULL, 10000, &err);
		gassert(ret, "guest-network-get-interfaces: %s: %s", err.cls, err.desc);
		ip = ipv4_of(ret, "eth0", vm.mac);
		if (ip)
			cr_log_info("eth0 %s", ip);
		json_object_put(ret);
		if (!ip)
			sleep(1);
	}
	gassert(ip, "eth0 with MAC %s has no IPv4 address", vm.mac);

	gassert(ssh_retry("uname -r", &out, &status) == 0, "ssh never connected");
	gassert(status == 0, "uname -r exited %d", status);
	krel = read_text(th_guest_dir(), "kernel-release");
	gassert(krel, "no kernel-release in the guest dir");
	out[strcspn(out, "\n")] = '\0';
	gassert(!strcmp(out, krel), "guest runs %s, the package is %s", out, krel);
	free(krel);
	free(out);
	out = NULL;

	/* The share: the host's file is visible and the guest's write comes back. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "cat %s/from-host && echo hello host > %s/from-guest", share,
		 share);
	gassert(ssh_retry(cmd, &out, &status) == 0 && status == 0, "9p share: status %d", status);
	gassert(!strcmp(out, "hello guest\n"), "guest read '%s' from the share", out);
	free(out);
	krel = read_text(share, "from-guest");
	gassert(krel && !strcmp(krel, "hello host"), "host read '%s' from the share",
		krel ? krel : "(nothing)");
	free(krel);

	/* wget, as health checks and token fetches use it, from the guest's own
	 * httpd: "-T" made Debian 12's busybox wget die of SIGSEGV (139). */
	gassert(ssh_retry("mkdir -p /tmp/www && echo hello wget >/tmp/www/index.html && "
			  "httpd -p 127.0.0.1:8080 -h /tmp/www && "
			  "wget -q -T 10 -O - http://127.0.0.1:8080/ && "
			  "wget -qT5 -O /tmp/got http://127.0.0.1:8080/ && cat /tmp/got && "
			  "busybox wget -q -O - http://127.0.0.1:8080/",
			  &out, &status) == 0,
		"ssh never connected");
	gassert(status == 0, "wget: exit status %d, output '%s'", status, out);
	gassert(!strcmp(out, "hello wget\nhello wget\nhello wget\n"), "wget fetched '%s'", out);
	free(out);
	out = NULL;

	/* The exit status of the remote command passes through. */
	gassert(ssh_retry("exit 7", &out, &status) == 0 && status == 7, "exit 7 gave %d", status);
	free(out);

	unlink(hostfile);
	snprintf(hostfile, sizeof(hostfile), "%s/from-guest", share);
	unlink(hostfile);
	rmdir(share);
}

/* ACPI power button (what the supervisor's graceful stop sends). */
Test(guest, system_powerdown)
{
	struct qmp_error err;
	struct qmp_sync *c;
	struct json_object *ret = NULL, *data = NULL, *v;
	int code;

	memset(&err, 0, sizeof(err));
	boot(NULL, NULL);
	c = qmp_sync_open(vm.qmp_path, QMP_KIND_QMP, 10000, &err);
	gassert(c, "QMP: %s: %s", err.cls, err.desc);
	gassert(qmp_sync_call(c, "system_powerdown", NULL, 10000, &ret, &err) == 0,
		"system_powerdown: %s: %s", err.cls, err.desc);
	json_object_put(ret);
	gassert(qmp_sync_wait_event(c, "SHUTDOWN", POWER_TIMEOUT_MS, &data, &err) == 0,
		"no SHUTDOWN event: %s: %s", err.cls, err.desc);
	gassert(data && json_object_object_get_ex(data, "guest", &v) && json_object_get_boolean(v),
		"SHUTDOWN was not initiated by the guest");
	json_object_put(data);
	qmp_sync_close(c);
	code = th_wait_exit(&vm, POWER_TIMEOUT_MS);
	gassert(code == 0, "qemu exit status %d after power-off", code);
}

/* guest-shutdown through the agent powers off too. */
Test(guest, agent_shutdown)
{
	struct qmp_error err;
	struct json_object *ret;
	int code;

	memset(&err, 0, sizeof(err));
	boot(NULL, NULL);
	/* guest-shutdown sends no reply on success: a timeout is expected. */
	ret = qga("guest-shutdown", json_tokener_parse("{\"mode\": \"powerdown\"}"), 3000, &err);
	gassert(ret == NULL, "guest-shutdown replied");
	gassert(!strcmp(err.cls, QMP_ERR_TIMEOUT) || !strcmp(err.cls, QMP_ERR_DISCONNECTED),
		"guest-shutdown: %s: %s", err.cls, err.desc);
	code = th_wait_exit(&vm, POWER_TIMEOUT_MS);
	gassert(code == 0, "qemu exit status %d after guest-shutdown", code);
}
