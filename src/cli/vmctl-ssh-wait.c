/*
 * sshd answering on a VM's forwarded port. qemu's user network accepts a
 * connection to the forward before anything listens in the guest (and
 * resets it then), and a systemd guest's agent and address come seconds
 * before ssh.service: only the "SSH-" banner says sshd is there.
 */
#include "config.h"

#include "src/cli/vmctl-exec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "src/cli/vmctl-shell.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* One connection: did it say "SSH-" within 2 s? */
static int banner_once(const struct sockaddr_in *sa)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;
	char buf[4];

	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ok = poll(&p, 1, 2000) == 1 && read(fd, buf, 4) == 4 && !memcmp(buf, "SSH-", 4);
	}
	close(fd);
	return ok;
}

int vmctl_ssh_wait_banner(const struct vmctl *g, const char *name, const char *host, long port,
			  double wait_s, char *why, size_t size)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	double deadline = now() + wait_s, check = 0;

	if (!host || inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		snprintf(why, size, "the VM has no IPv4 address to ssh to yet (vmctl ip --wait)");
		return -1;
	}
	while (!vmctl_signal) {
		int r = banner_once(&sa);
		if (r < 0)
			break;
		if (r)
			return 0;
		if (now() >= deadline)
			break;
		/* a dead VM is noticed within a second, not at the deadline */
		if (now() >= check) {
			check = now() + 0.5;
			if (vmctl_vm_dead(g, name, why, size))
				return -2;
		}
		poll(NULL, 0, 100);
	}
	snprintf(why, size,
		 "sshd did not answer on %s:%ld within %.0f s (the guest has no sshd, or "
		 "it is still starting; --via agent needs none)",
		 host, port, wait_s);
	return -1;
}
