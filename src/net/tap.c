#include "src/net/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>

#include <linux/capability.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "src/util/err.h"

void vm_tap_name(const char *vm_name, char out[VM_TAP_NAME_LEN])
{
	/* FNV-1a, as the MAC: the same VM name gives the same tap name */
	uint32_t h = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)vm_name; *p; p++)
		h = (h ^ *p) * 16777619u;
	snprintf(out, VM_TAP_NAME_LEN, "vmsup-%08x", h);
}

bool vm_tap_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

int vm_tap_bridge_check(const char *bridge, char **err)
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr = {0};
	int sock, r;

	if (!if_nametoindex(bridge))
		return vmsup_err(err, "bridge '%s' does not exist", bridge);
	/* the driver's name, not /sys/class/net/NAME/bridge: sysfs shows the
	 * network namespace it was mounted in, not necessarily ours */
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", bridge);
	ifr.ifr_data = (void *)&info;
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return vmsup_err(err, "socket: %s", strerror(errno));
	r = ioctl(sock, SIOCETHTOOL, &ifr);
	close(sock);
	if (r < 0 || strcmp(info.driver, "bridge"))
		return vmsup_err(err, "'%s' is a network interface but not a bridge", bridge);
	return 0;
}

static bool has_net_admin(void)
{
	struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct d[2] = {{0}};

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32));
}

int vm_tap_usable(const char *bridge, const char **cls, char **err)
{
	if (vm_tap_bridge_check(bridge, err)) {
		*cls = VMSUP_EC_INVALID;
		return -1;
	}
	if (!has_net_admin()) {
		*cls = VMSUP_EC_UNSUPPORTED;
		return vmsup_err(err, "mode bridge needs CAP_NET_ADMIN to create the VM's tap "
				      "(run vmsupd as root or give it the capability)");
	}
	return 0;
}

static int cap_err(char **err, const char *what, const char *name, int e)
{
	if (e == EPERM || e == EACCES)
		return vmsup_err(err,
				 "%s %s: mode bridge needs CAP_NET_ADMIN (run vmsupd as root "
				 "or give it the capability)",
				 what, name);
	return vmsup_err(err, "%s %s: %s", what, name, strerror(e));
}

/* The tap into bridge, and up; sock any AF_INET datagram socket. */
static int attach(int sock, const char *name, const char *bridge, char **err)
{
	struct ifreq ifr = {0};
	int idx = (int)if_nametoindex(name);

	if (!idx)
		return vmsup_err(err, "tap %s vanished: %s", name, strerror(errno));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", bridge);
	ifr.ifr_ifindex = idx;
	if (ioctl(sock, SIOCBRADDIF, &ifr) < 0)
		return cap_err(err, "adding the tap to bridge", bridge, errno);
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0)
		return cap_err(err, "reading the flags of tap", name, errno);
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
		return cap_err(err, "bringing up tap", name, errno);
	return 0;
}

int vm_tap_open(const char *name, const char *bridge, char **err)
{
	struct ifreq ifr = {0};
	int fd, sock;

	if (vm_tap_bridge_check(bridge, err))
		return -1;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return cap_err(err, "opening", "/dev/net/tun", errno);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		close(fd);
		if (e == EBUSY)
			return vmsup_err(err,
					 "tap %s is in use (another VM with the same name "
					 "hash, or a qemu that still runs)",
					 name);
		return cap_err(err, "creating tap", name, e);
	}
	/* a tap left persistent by someone else: make it go with its last fd */
	ioctl(fd, TUNSETPERSIST, 0);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || attach(sock, name, bridge, err)) {
		if (sock < 0)
			vmsup_err(err, "socket: %s", strerror(errno));
		else
			close(sock);
		close(fd);
		return -1;
	}
	close(sock);
	return fd;
}
