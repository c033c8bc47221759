/* vmctl: help texts, one per command (`vmctl CMD --help`). */
#include "config.h"

#include "src/cli/vmctl.h"

#include <string.h>

#define CREATE_OPTS                                                                                \
	"  --mem SIZE           memory in MiB, or with a unit: 256M, 1G (default:\n"               \
	"                       vmsupd's mem_mib)\n"                                               \
	"  --cpus N             vCPUs (default: vmsupd's cpus)\n"                                  \
	"  --kernel FILE        kernel to boot (default: the configured default guest)\n"          \
	"  --initrd FILE        initrd for --kernel\n"                                             \
	"  --append STRING      kernel command line\n"                                             \
	"  --disk FILE[:OPTS]   disk image: the first is the root disk (booted, or with\n"         \
	"                       --kernel the kernel's root); more are data disks. Writes go\n"     \
	"                       to an overlay of the VM's own, the image is never written.\n"      \
	"                       OPTS: ro (data disk, read-only), persistent (write the\n"          \
	"                       image itself, one VM per image), raw|qcow2 (the format)\n"         \
	"  --disk-mode MODE     the root disk's: overlay (default) or persistent\n"                \
	"  --accel kvm|tcg|kvm:tcg  accelerator (kvm:tcg falls back to TCG)\n"                     \
	"  --share DIR[:ro]     share host DIR into the guest at the same path (repeatable)\n"     \
	"  --restart POLICY     restart policy passed to vmsupd (e.g. never)\n"                    \
	"  --net user|none|bridge[:NAME]  user: QEMU user networking (default); none:\n"           \
	"                       no NIC, the agent still works; bridge: a tap on host\n"            \
	"                       bridge NAME (default: vmsupd.conf's bridge), DHCP address\n"       \
	"  --publish [ADDR:]HOSTPORT:GUESTPORT[/tcp|/udp]  forward a host port to the\n"           \
	"                       guest (repeatable; HOSTPORT 0 picks one: 'vmctl port')\n"          \
	"  --egress             let the guest connect out (needs allow_egress in vmsupd)\n"        \
	"  --no-guest           a guest-less VM (no kernel, no disk)\n"

/* create and run, not template create (a restore has its template's threads) */
#define PIN_OPTS                                                                                   \
	"  --pin LIST|VCPU:LIST,...  pin the vCPU threads: every vCPU on host CPUs LIST\n"         \
	"                       (0-1,3), or each vCPU on its own (0:2,1:3; vCPUs not named\n"      \
	"                       may use every CPU); CPU lists are vmsupd's CPUs\n"                 \
	"  --emulator-pin LIST  pin qemu's other threads (main loop, I/O, workers) to LIST\n"

static const struct help {
	const char *cmd, *synopsis, *text;
} helps[] = {
    {"create", "create NAME [OPTIONS]",
     "Define a VM and start it; returns once it is running (or failed, with the "
     "reason).\n\n" CREATE_OPTS PIN_OPTS "  --no-start           only define it (state defined)\n"
     "  --autostart          start it each time vmsupd starts (see 'vmctl autostart')\n"
     "  --from TEMPLATE      restore a template instead of booting (with --from only\n"
     "                       --no-start and --restart apply; devices are the template's)\n"},
    {"template",
     "template create NAME [CREATE OPTIONS] | template list | template rm NAME | "
     "template verify NAME",
     "create: boot a VM from the options, wait for its agent and address, save its whole\n"
     "state as template NAME and remove the VM (prints the state size and save time).\n"
     "list: the templates, their state size, qemu version and MAC. rm: remove one.\n"
     "verify: read every byte of NAME's files and check them against the sha256\n"
     "recorded at save; exits 1 naming the first file that differs.\n"
     "VMs are made from a template with `vmctl create NAME --from TEMPLATE`.\n"},
    {"list", "list", "List VMs: name, state, pid, accel, memory, cpus, ip. -q: the names only.\n"},
    {"status", "status NAME",
     "Show one VM, every field (created as a UTC time). With -o json: name, state, pid,\n"
     "accel, mem_mib, balloon_mib, cpus, cpu_quota_pct, qmp_ops_socket, ssh_port, ip,\n"
     "agent, created (seconds since the epoch), ... as the API returns them.\n"},
    {"start", "start NAME", "Start a defined or stopped VM.\n"},
    {"pause", "pause NAME", "Pause a running VM (QMP stop).\n"},
    {"resume", "resume NAME", "Resume a paused VM (QMP cont).\n"},
    {"reset", "reset NAME", "Hard-reset the VM.\n"},
    {"stop", "stop NAME [--timeout S]",
     "ACPI power-off; after the grace period (--timeout S, else vmsupd's stop_grace_s)\n"
     "quit, then SIGKILL; quit at once when there is no guest or its agent never\n"
     "answered. Returns once the VM is stopped (at once if it already is).\n"},
    {"kill", "kill NAME", "SIGKILL the VM's qemu.\n"},
    {"destroy", "destroy NAME [--timeout S] [--force]",
     "Stop the VM if needed (graceful, bounded by --timeout S) and remove it.\n"
     "--force: SIGKILL its qemu at once (no ACPI, no grace), also while it boots\n"
     "or is still being created, then remove it.\n"},
    {"memory", "memory NAME SIZE",
     "Set the balloon target (and the memory limit): MiB, or with a unit (512M, 1G).\n"},
    {"cpu",
     "cpu NAME [--quota PCT|none] [--period US] [--pin LIST|VCPU:LIST,...|''] "
     "[--emulator-pin LIST|'']",
     "  --quota PCT          cgroup CPU quota in percent of one CPU (e.g. 150; at most\n"
     "                       100 per vCPU); none removes the quota\n"
     "  --period US          quota period in microseconds\n"
     "  --pin LIST           pin vCPU threads to host CPUs, e.g. 0-1 or 0,2; '' (or\n"
     "                       none) unpins them (every CPU vmsupd may use)\n"
     "  --pin VCPU:LIST,...  pin each vCPU on its own, e.g. 0:2,1:3 (vCPUs not named:\n"
     "                       every CPU); status shows it as vcpu_pin\n"
     "  --emulator-pin LIST  pin qemu's non-vCPU threads (main loop, I/O threads,\n"
     "                       workers) to LIST; '' (or none) unpins them\n"},
    {"ip", "ip NAME [--wait S]",
     "Print the guest's address from the guest agent (IPv4, then IPv6).\n"
     "  --wait S             wait up to S seconds for the agent and an address\n"
     "With -o json: every interface with its MAC and addresses.\n"},
    {"logs", "logs NAME [-f] [--tail N] [--qemu]",
     "Print the last lines of the VM's serial console log (console.log.1, then\n"
     "console.log), kept until the VM is destroyed, also when it crashed or failed.\n"
     "  --tail N             the last N lines (default 100, at most 100000)\n"
     "  --qemu               qemu's own stderr log instead of the console\n"
     "  -f, --follow         then print what the log gains, until the VM is destroyed\n"
     "                       or Ctrl-C (text only; blank lines are left out)\n"
     "With -o json: {\"name\", \"source\", \"log\"}.\n"},
    {"console", "console NAME",
     "Attach to the VM's serial console (one client at a time; a second is told who\n"
     "holds it). The terminal is in raw mode: every key goes to the guest, Ctrl-C\n"
     "too. Ctrl-] detaches and leaves the VM running. The console log goes on being\n"
     "written meanwhile. Without a terminal, stdin goes to the guest and vmctl ends\n"
     "a second after stdin ends once the console is quiet. Exit 1 when the console\n"
     "closes because the VM stopped.\n"},
    {"port", "port NAME",
     "List the VM's published ports as docker port does: GUESTPORT/PROTO -> ADDR:PORT,\n"
     "the host port bound in this run. With -o json: the status's ports array.\n"},
    {"exec", "exec NAME [-i] [-t] [--via ssh|agent] [--ssh-key FILE] -- CMD [ARG...]",
     "Run CMD in the guest; stdout/stderr stream, the exit status passes through\n"
     "(a signal N gives 128+N). A paused, stopped or guest-less VM is an error at once.\n"
     "  -i, --interactive    pass stdin (ssh always does; the agent takes at most\n"
     "                       524288 bytes, read before CMD starts)\n"
     "  -t, --tty            a terminal for CMD (ssh -tt; not with --via agent)\n"
     "  --via ssh            openssh to the VM's forwarded port, supervisor key, per-VM\n"
     "                       known_hosts (default when the VM has an ssh port)\n"
     "  --via agent          qemu-guest-agent guest-exec (output after the command ends)\n"
     "  --ssh-key FILE       private key (default: $VMSUP_SSH_KEY, then vmsupd's ssh_key)\n"
     "Arguments are quoted for the guest's POSIX shell: no word splitting, no expansion.\n"},
    {"run", "run [CREATE OPTIONS] [--workdir DIR] [--env K=V]... [--via ssh|agent] -- CMD [ARG...]",
     "One shot: create a VM with a generated name, wait for its address, run CMD in it,\n"
     "stream the output, destroy the VM, exit with CMD's status. SIGINT/SIGTERM stop the\n"
     "command and destroy the VM (exit 130/143). Progress on stderr when it is a "
     "terminal.\n\n" CREATE_OPTS PIN_OPTS
     "  --workdir DIR        directory to run CMD in (in the guest)\n"
     "  --env K=V            environment variable for CMD (repeatable)\n"
     "  --via ssh|agent      how to run CMD (default ssh)\n"
     "  --ssh-key FILE       private key for ssh (as for exec)\n"
     "  --name NAME          use NAME instead of a generated one\n"
     "  --timeout S          wait at most S seconds for the guest to answer ssh (default 120)\n"
     "  --pool               take a VM from vmsupd's warm pool (pool_template, pool_size):\n"
     "                       restored and paused ahead of time, resumed for CMD; only\n"
     "                       --mem (balloon target), --cpus (CPU quota) and one --share\n"
     "                       (bound in at the same path) apply\n"
     "CMD runs through a launcher script (vm-launcher.sh) given to the guest's sh -c: it\n"
     "mounts shares the guest did not mount, cd's to --workdir, exports --env and runs\n"
     "CMD; the task's stdin is vmctl's stdin.\n"
     "With no daemon listening on the socket, run starts its own supervisor for the\n"
     "length of the command (config: $VMSUP_CONFIG, else " SYSCONFDIR "/vmsupd.conf if\n"
     "readable; sockets, state and logs in a private 0700 directory under $TMPDIR when\n"
     "that is short, else /tmp) and removes it, and every qemu, afterwards.\n"
     "$VMCTL_TIMING=FILE appends the phase times of the run to FILE as a JSON line.\n"},
    {"qmp", "qmp NAME COMMAND [ARGS-JSON] | qmp NAME JSON",
     "Send a QMP command through vmsupd and print the reply: a command name with its\n"
     "arguments as a JSON object (like vm-qmp), e.g. query-status or\n"
     "balloon '{\"value\": 268435456}', or a whole command object,\n"
     "'{\"execute\":\"query-status\"}'.\n"},
    {"events", "events [NAME]",
     "Follow the event stream (state changes and QMP events), of one VM or all.\n"
     "A NAME that is no VM is an error (exit 1), not a stream that waits.\n"},
    {"metrics", "metrics", "Print vmsupd's Prometheus metrics.\n"},
    {"health", "health",
     "The host's health (GET /v1/health): ok, or degraded with one line per reason\n"
     "(reason, VM, detail): a state file not saved, a VM's files missing, a restart\n"
     "pending. Exit 0 when ok, 1 when degraded or vmsupd does not answer.\n"},
    {"pool", "pool",
     "The warm pool: its template, the VMs ready or being restored, how many were taken\n"
     "warm or restored on demand, the last error (-o json: GET /v1/pool).\n"},
    {"version", "version", "Print vmctl's version and vmsupd's (with qemu's).\n"},
    {"autostart", "autostart NAME on|off",
     "Whether vmsupd starts the VM each time it starts (after reattaching the VMs of\n"
     "its previous run), if it does not run then. Once per daemon start: restarts of a\n"
     "VM that goes down are its restart policy's (--restart). Kept in the state file.\n"},
    {"shutdown", "shutdown --all [--timeout S]",
     "Stop every VM in parallel, for a host shutdown (vmsupd-guests.service): ACPI\n"
     "power-off for a guest whose agent answered, quit at once for the others; quit\n"
     "after the grace (--timeout S, else vmsupd's stop_grace_s), SIGKILL 5 s later.\n"
     "Returns once no VM runs; one line per VM. Exit status 1 if any VM did not stop\n"
     "as asked. Warm-pool VMs are left to vmsupd. vmsupd itself keeps running.\n"},
};

static const struct help *find(const char *cmd)
{
	size_t i;

	for (i = 0; cmd && i < sizeof(helps) / sizeof(helps[0]); i++)
		if (strcmp(helps[i].cmd, cmd) == 0)
			return &helps[i];
	return NULL;
}

void vmctl_print_usage_line(FILE *f, const char *cmd)
{
	const struct help *h = find(cmd);

	if (h)
		fprintf(f, "usage: vmctl [GLOBAL OPTIONS] %s\nTry 'vmctl %s --help'.\n",
			h->synopsis, h->cmd);
	else
		fprintf(f, "usage: vmctl [--socket PATH] [-o json|table] [-q] COMMAND ...\n"
			   "Try 'vmctl --help'.\n");
}

int vmctl_print_help(FILE *f, const char *cmd)
{
	const struct help *h = find(cmd);
	size_t i;

	if (h) {
		fprintf(f, "usage: vmctl [GLOBAL OPTIONS] %s\n\n%s", h->synopsis, h->text);
		return 0;
	}
	fprintf(f,
		"usage: vmctl [GLOBAL OPTIONS] COMMAND [ARGS...]\n\n"
		"Drive vmsupd, the virtualmesos VM supervisor, over its API socket.\n\n"
		"Global options (before the command or among its options, anywhere before --):\n"
		"  --socket PATH   API socket (default: $VMSUP_SOCKET, else vmsupd.conf's socket,\n"
		"                  else " RUNSTATEDIR "/vmsupd/api.sock)\n"
		"  -o, --output json|table  output format; json prints the API's objects, table\n"
		"                  (also: text) is the default\n"
		"  -q, --quiet     quiet: no progress, no informational output; list: names only\n"
		"  --help          this help; 'vmctl COMMAND --help' for a command\n"
		"  --version       same as 'vmctl version'\n\n"
		"Commands:\n");
	for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++)
		fprintf(f, "  %s\n", helps[i].synopsis);
	fprintf(f, "\nErrors are one line 'vmctl: NAME: reason' on stderr with exit status 1;\n"
		   "usage errors exit 2. exec and run exit with the command's status.\n");
	return 0;
}
