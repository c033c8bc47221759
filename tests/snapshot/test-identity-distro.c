/*
 * The clone-identity step (issue 18) on a systemd/openssh guest: the
 * Debian image (scripts/mkdistro.sh) booted under the real daemon, the
 * daemon's own identity script (snap_identity_script) run through the
 * agent as a restore runs it. Afterwards the guest has a new machine-id
 * and the hostname it was given, sshd serves new host keys (those in
 * /etc/ssh, so a client that trusted the old ones refuses it) and still
 * lets the test key in. The restore path itself runs it on the test guest
 * (test-template-clones.c); a Debian template needs per-VM disk overlays.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/snapshot/snapshot.h"
#include "tests/snapshot/template-util.h"

static struct tdaemon d;

static void teardown(void)
{
	tt_stop(&d);
}

/* The first line a shell command prints (malloc'd, newline kept). */
static char *host_sh(const char *cmd)
{
	char *line = NULL;
	size_t n = 0;
	FILE *p = popen(cmd, "r");

	cr_assert_not_null(p, "%s", cmd);
	if (getdelim(&line, &n, '\0', p) < 0) {
		free(line);
		line = strdup("");
	}
	pclose(p);
	return line;
}

static char *keyscan(int port)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd),
		 "ssh-keyscan -T 60 -t ed25519 -p %d 127.0.0.1 2>/dev/null | ssh-keygen -lf - "
		 "2>/dev/null "
		 "| cut -d' ' -f2",
		 port);
	return host_sh(cmd);
}

static char *guest(const char *script)
{
	int s;
	char *out = tt_sh(&d, "deb", script, &s);

	cr_assert(out && s == 0, "in the guest: %s: status %d: %s", script, s, out ? out : "");
	return out;
}

static void boot_debian(int *port)
{
	struct json_object *r;
	long st;

	r = td_create_distro(&d, "deb", 512, &st);
	cr_assert_eq(st, 201, "%s", json_object_to_json_string(r));
	*port = (int)td_int(r, "ssh_port");
	json_object_put(r);
	r = td_wait_ip(&d, "deb", 600, &st);
	cr_assert_eq(st, 200, "no agent/IP from the Debian guest: %s",
		     json_object_to_json_string(r));
	json_object_put(r);
}

Test(identity, debian_guest_becomes_its_own_machine, .fini = teardown, .timeout = 900)
{
	const char *dd = td_distro_dir();
	char *script, *mid0, *mid1, *host, *key0, *key1, *inkey, *login, cmd[1200];
	double t0;
	int port;

	if (!dd)
		cr_skip_test("no distro image (VMSUP_DISTRO_DIR; scripts/mkdistro.sh builds it)");
	tt_start(&d);
	boot_debian(&port);
	/* sshd comes up after the agent: its first keys, as a client saw them */
	key0 = keyscan(port);
	for (int i = 0; i < 60 && !*key0; i++) {
		free(key0);
		sleep(2);
		key0 = keyscan(port);
	}
	cr_assert(*key0, "the Debian guest's sshd never answered on port %d", port);
	mid0 = guest("cat /etc/machine-id");

	cr_assert_geq(asprintf(&script,
			       "cat >/run/vmsup-identity <<'VMSUP_EOF'\n%sVMSUP_EOF\n"
			       "sh /run/vmsup-identity clone-7",
			       snap_identity_script()),
		      0);
	t0 = td_now();
	free(guest(script));
	free(script);
	cr_log_info("identity script: %.1f s in the guest", td_now() - t0);

	mid1 = guest("cat /etc/machine-id");
	host = guest("hostname; cat /etc/hostname");
	cr_expect_str_neq(mid1, mid0, "machine-id unchanged: %s", mid1);
	cr_expect_eq(strlen(mid1), 33, "machine-id: %s", mid1);
	cr_expect_eq(strspn(mid1, "0123456789abcdef"), 32, "machine-id: %s", mid1);
	cr_expect_str_eq(host, "clone-7\nclone-7\n");
	/* sshd re-exec'd on SIGHUP: it serves the new key from /etc/ssh */
	key1 = keyscan(port);
	for (int i = 0; i < 15 && !*key1; i++) {
		free(key1);
		sleep(1);
		key1 = keyscan(port);
	}
	inkey = guest("ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub | cut -d' ' -f2");
	cr_expect(*key1, "sshd gone after the identity step");
	cr_expect_str_neq(key1, key0, "same ssh host key after the identity step");
	cr_expect_str_eq(key1, inkey, "sshd serves %s, /etc/ssh has %s", key1, inkey);
	/* and still lets its user in */
	snprintf(cmd, sizeof(cmd),
		 "ssh -i '%s/test_key' -p %d -o StrictHostKeyChecking=no "
		 "-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=60 "
		 "root@127.0.0.1 hostname 2>/dev/null",
		 dd, port);
	login = host_sh(cmd);
	cr_expect_str_eq(login, "clone-7\n", "ssh login after the identity step: '%s'", login);
	cr_log_info("machine-id %.32s -> %.32s, host key %.20s -> %.20s", mid0, mid1, key0, key1);
	free(mid0), free(mid1), free(host), free(key0), free(key1), free(inkey), free(login);
}
