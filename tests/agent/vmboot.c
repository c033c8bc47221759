#include "tests/agent/vmboot.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#define MAX_VMS 4

static struct vmboot *live[MAX_VMS];

static void kill_all(void)
{
	for (int i = 0; i < MAX_VMS; i++)
		if (live[i])
			vmboot_stop(live[i]);
}

const char *vmboot_guest_dir(void)
{
	static const char *const cands[] = {"/tmp/guest", "/tmp/b-agent/guest"};
	const char *d = getenv("VMSUP_GUEST_DIR");
	char p[512];

	if (d) {
		snprintf(p, sizeof(p), "%s/initrd.img", d);
		if (access(p, R_OK) == 0)
			return d;
	}
	for (size_t i = 0; i < sizeof(cands) / sizeof(cands[0]); i++) {
		snprintf(p, sizeof(p), "%s/initrd.img", cands[i]);
		if (access(p, R_OK) == 0)
			return cands[i];
	}
	return NULL;
}

static int free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

int vmboot_start(struct vmboot *vm, const char *g)
{
	char kernel[512], initrd[512], append[512] = "console=ttyS0 panic=-1", ap[512];
	char qmp[160], chardev[200], netdev[160], nic[96], serial[160];
	FILE *f;
	int slot;

	memset(vm, 0, sizeof(*vm));
	for (slot = 0; slot < MAX_VMS && live[slot]; slot++)
		;
	if (slot == MAX_VMS)
		return -1;
	strcpy(vm->dir, "/tmp/vmagent-vm-XXXXXX");
	if (!mkdtemp(vm->dir)) /* mkdtemp makes it 0700 */
		return -1;
	snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s/qmp.sock", vm->dir);
	snprintf(vm->qga_path, sizeof(vm->qga_path), "%s/qga.sock", vm->dir);
	snprintf(kernel, sizeof(kernel), "%s/vmlinuz", g);
	snprintf(initrd, sizeof(initrd), "%s/initrd.img", g);
	snprintf(ap, sizeof(ap), "%s/append", g);
	if ((f = fopen(ap, "r"))) {
		if (fgets(append, sizeof(append), f))
			append[strcspn(append, "\n")] = '\0';
		fclose(f);
	}
	vm->ssh_port = free_port();
	snprintf(qmp, sizeof(qmp), "unix:%s,server=on,wait=off", vm->qmp_path);
	snprintf(chardev, sizeof(chardev), "socket,id=qga0,path=%s,server=on,wait=off",
		 vm->qga_path);
	snprintf(netdev, sizeof(netdev), "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22",
		 vm->ssh_port);
	snprintf(nic, sizeof(nic), "virtio-net-pci,netdev=n0,mac=%s", VMBOOT_MAC);
	snprintf(serial, sizeof(serial), "file:%s/console.log", vm->dir);
	char *const argv[] = {"qemu-system-x86_64",
			      "-accel",
			      "tcg",
			      "-m",
			      "256",
			      "-nodefaults",
			      "-no-user-config",
			      "-display",
			      "none",
			      "-kernel",
			      kernel,
			      "-initrd",
			      initrd,
			      "-append",
			      append,
			      "-serial",
			      serial,
			      "-qmp",
			      qmp,
			      "-chardev",
			      chardev,
			      "-device",
			      "virtio-serial-pci",
			      "-device",
			      "virtserialport,chardev=qga0,id=qga0port,name=org.qemu.guest_agent.0",
			      "-netdev",
			      netdev,
			      "-device",
			      nic,
			      NULL};
	vm->pid = fork();
	if (vm->pid < 0)
		return -1;
	if (vm->pid == 0) {
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	setpgid(vm->pid, vm->pid);
	live[slot] = vm;
	static int reg;
	if (!reg++)
		atexit(kill_all);
	return 0;
}

void vmboot_stop(struct vmboot *vm)
{
	char p[200];

	for (int i = 0; i < MAX_VMS; i++)
		if (live[i] == vm)
			live[i] = NULL;
	if (vm->pid > 0) {
		kill(-vm->pid, SIGKILL);
		while (waitpid(vm->pid, NULL, 0) < 0 && errno == EINTR)
			;
		vm->pid = 0;
	}
	if (vm->dir[0]) {
		static const char *const files[] = {"qmp.sock", "qga.sock", "console.log", "key",
						    "key.pub"};
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(p, sizeof(p), "%s/%s", vm->dir, files[i]);
			unlink(p);
		}
		rmdir(vm->dir);
		vm->dir[0] = '\0';
	}
}
