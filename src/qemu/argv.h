/*
 * The qemu command line of a VM, as an argv array (never a shell string),
 * from its spec and the per-VM runtime paths.
 */
#ifndef VMSUP_ARGV_H
#define VMSUP_ARGV_H

#include <stdbool.h>

#include "src/qemu/spec.h"

struct vm_paths {
	const char *run_dir;  /* per-VM, mode 0700 */
	const char *qmp_sock; /* supervisor monitor */
	const char *ops_sock; /* operators' monitor */
	const char *qga_sock; /* guest agent chardev */
	const char *pidfile;
	const char *console_log;
	int ssh_port; /* host side of the ssh forward on 127.0.0.1 */
	const char *mac;
};

struct vm_argv_opts {
	const char *qemu;      /* binary */
	bool sandbox;	       /* qemu supports -sandbox (probed once) */
	const char *qemu_user; /* -runas, or NULL */
	unsigned tcg_tb_mib;   /* -accel tcg,tb-size= (0 = qemu's own default) */
};

/* A NULL-terminated argv, or NULL with *err; free with vm_argv_free. */
char **vm_argv_build(const struct vm_spec *s, const struct vm_paths *p,
		     const struct vm_argv_opts *o, char **err);
void vm_argv_free(char **argv);
/* Copy more (NULL-terminated) onto the end of *argv; -1 if out of memory
 * (what was added stays, freed with the argv). */
int vm_argv_append(char ***argv, const char *const *more);

/* The staging share (vm_spec.stage): its tag, and its directory under the run dir. */
#define VM_STAGE_TAG "vmstage"
#define VM_STAGE_DIR "stage"
/* The memory backend's id when guest RAM is in a file (vm_spec.ram_file). */
#define VM_RAM_ID "ram"

/* A locally administered unicast MAC in 52:54:00/24 derived from the name. */
void vm_mac_from_name(const char *name, char out[18]);

/* The MAC is a 24-bit hash: two names may meet, and on a bridge two equal
 * MACs get one lease and lose frames. out as it is ("" for the name's MAC),
 * rehashed from the name with a counter while taken() says another VM has
 * it; -1 after 1000 tries. */
int vm_mac_unique(const char *name, bool (*taken)(const char *mac, void *arg), void *arg,
		  char out[18]);

/* Device id of the agent's virtserialport: qemu only sends VSERPORT_CHANGE
 * for a port with an id, and names it by this id. */
#define VM_AGENT_PORT_ID "qga0"
/* the serial port's chardev: a socket that logs to the console log */
#define VM_SERIAL_ID "serial0"
/* the serial port's socket in the run dir (one client at a time) */
#define VM_CONSOLE_SOCK "console.sock"

/* The sandbox option vmsupd uses (also the probe's argument). */
#define VM_SANDBOX_OPTS "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"
/* With -runas: qemu must change its ids itself once; as that user it has
 * nothing left to elevate to (spawn=deny still forbids exec'ing setuid files). */
#define VM_SANDBOX_OPTS_RUNAS                                                                      \
	"on,obsolete=deny,elevateprivileges=allow,spawn=deny,resourcecontrol=deny"

#endif
