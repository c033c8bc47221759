#include "tests/lib/bridge-net.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void sh_ok(const char *cmd)
{
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

void tb_up(struct tbridge *b)
{
	char cmd[160], path[64];
	int fd;

	memset(b, 0, sizeof(*b));
	b->dnsmasq = -1;
	if (geteuid())
		cr_skip_test("bridge mode needs root (taps, a network namespace): skipped");
	if (access("/dev/net/tun", R_OK | W_OK))
		cr_skip_test("no /dev/net/tun: skipped");
	if (access("/usr/sbin/dnsmasq", X_OK))
		cr_skip_test("no dnsmasq (Debian: dnsmasq-base): skipped");
	snprintf(b->ns, sizeof(b->ns), "vmsup-br-%d", (int)getpid());
	snprintf(b->leases, sizeof(b->leases), "/tmp/%s.leases", b->ns);
	snprintf(cmd, sizeof(cmd), "ip netns add %s", b->ns);
	sh_ok(cmd);
	snprintf(path, sizeof(path), "/run/netns/%s", b->ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert(fd >= 0 && !setns(fd, CLONE_NEWNET), "joining %s", b->ns);
	close(fd);
	sh_ok("ip link set lo up && ip link add " TB_BRIDGE " type bridge && "
	      "ip addr add " TB_PREFIX "1/24 dev " TB_BRIDGE " && ip link set " TB_BRIDGE " up");
	b->dnsmasq = fork();
	cr_assert(b->dnsmasq >= 0);
	if (!b->dnsmasq) {
		char lf[128];
		/* dies with the test, whatever ends it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(lf, sizeof(lf), "--dhcp-leasefile=%s", b->leases);
		execl("/usr/sbin/dnsmasq", "dnsmasq", "--keep-in-foreground",
		      "--conf-file=/dev/null", "--port=0", "--bind-interfaces",
		      "--interface=" TB_BRIDGE, "--except-interface=lo",
		      "--dhcp-range=" TB_PREFIX "50," TB_PREFIX "99,255.255.255.0,1h",
		      "--dhcp-authoritative", "--user=root", lf, "--pid-file", (char *)NULL);
		_exit(127);
	}
}

void tb_down(struct tbridge *b)
{
	char cmd[96];

	if (b->dnsmasq > 0) {
		kill(b->dnsmasq, SIGKILL);
		waitpid(b->dnsmasq, NULL, 0);
		b->dnsmasq = -1;
	}
	if (b->leases[0])
		unlink(b->leases);
	if (b->ns[0]) {
		snprintf(cmd, sizeof(cmd), "ip netns del %s", b->ns);
		sh_ok(cmd);
		b->ns[0] = '\0';
	}
}

void tb_lease_of(const struct tbridge *b, const char *mac, char *ip, size_t n)
{
	char line[256], lmac[64], lip[64];
	FILE *f = fopen(b->leases, "r");

	*ip = '\0';
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %63s %63s", lmac, lip) == 2 && !strcasecmp(lmac, mac))
			snprintf(ip, n, "%s", lip);
	if (f)
		fclose(f);
}
