/*
 * Booting the test guest for the agent's integration test and benchmark,
 * wired the way vmsupd wires the agent (QMP monitor + QGA chardev on a
 * virtserialport with an id, so VSERPORT_CHANGE is sent). Stand-in until
 * the shared tests/harness.h exists.
 */
#ifndef TESTS_AGENT_VMBOOT_H
#define TESTS_AGENT_VMBOOT_H

#include <sys/types.h>

#define VMBOOT_MAC "52:54:00:4a:47:01"

struct vmboot {
	char dir[64]; /* 0700 run dir */
	char qmp_path[128];
	char qga_path[128];
	int ssh_port;
	pid_t pid; /* leader of its own process group */
};

/* Guest files from $VMSUP_GUEST_DIR (or the fallbacks); NULL if none. */
const char *vmboot_guest_dir(void);
/* Spawn qemu (argv array, -accel tcg); 0 or -1 with a message on stderr. */
int vmboot_start(struct vmboot *vm, const char *guest_dir);
/* Kill and reap (idempotent), remove the run dir. Also done atexit. */
void vmboot_stop(struct vmboot *vm);

#endif
