/*
 * End-to-end harness for mesos-vm-executor: a real vmsupd in a private
 * directory (VMSUP_GUEST_DIR's test guest, TCG), the fake agent run against
 * the built executor, and the checks every such test ends with.
 */
#ifndef TEST_VM_HARNESS_H
#define TEST_VM_HARNESS_H

#include <json-c/json.h>
#include <stdbool.h>

#include "tests/executor/fake-agent-run.h"

/* The private directory, the task sandbox, vmsupd's socket, the --env
 * values for the executor and the fake agent's --probe (vmctl status
 * mesos-t1). */
extern char *dir, *sandbox, sock[4200], env_sock[4300], env_vmctl[4300], env_key[4300], probe[8800];

/* Boot to agent-ready is 5-15 s under TCG here; 60 s leaves room for load. */
#define VMENV "--env", env_sock, "--env", env_vmctl, "--env", env_key, "--env", "VMEXEC_IP_WAIT=60"

/* Start vmsupd (skips without qemu; cgroups false: hidden from it), with
 * extra_conf appended to its configuration. */
void start_vmsupd_as(bool cgroups, const char *extra_conf);
/* vmsupd with cgroups and a fresh sandbox (a suite's .init). */
void setup(void);
/* vmsupd stopped with its VMs, any qemu of ours killed, directories gone. */
void teardown(void);
/* qemu processes whose command line names our directory (killed if asked). */
int our_qemus(bool kill_them);

/* The TaskInfo of task t1 (1 CPU, 256 MiB) running the shell command cmd,
 * with key: value (JSON) added, e.g. its health_check (malloc'd). */
char *vm_task_json(const char *cmd, const char *key, const char *value);
/* One fake-agent run that must have no protocol violation. */
struct json_object *run(const char *const *args);
/* After the executor exited: vmsupd knows no VM and no qemu of ours runs. */
void assert_nothing_left(void);
/* TASK_RUNNING's address (labels and network_infos must agree). */
const char *running_ip(struct json_object *u);
/* The VM as vmsupd saw it at TASK_RUNNING (the probe's output). */
struct json_object *probed_vm(struct json_object *r);
/* `vmctl --socket SOCK -o json ARGS...`: stdout into buf; the exit status. */
int vmctl_json(const char *const *args, char *buf, size_t len);
/* How many VMs vmsupd knows. */
int vm_count(void);
/* When name in the sandbox was last written, by the host's clock. */
double mtime_in_sandbox(const char *name);
/* vmctl pool -o json (asserted to work). */
struct json_object *vm_pool_status(void);
/* Wait (up to 2 min) until the pool has its VM ready (asserted). */
void vm_pool_wait_ready(void);
/* vmsupd with a pool of one VM of template "base" (made here), filled. */
void vm_setup_pool(void);

#endif
