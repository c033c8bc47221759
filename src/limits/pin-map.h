/*
 * libvmcg, part 3: per-vCPU pinning maps and qemu's emulator threads
 * (virsh's vcpupin and emulatorpin). A map names, for some vCPU indices,
 * the host CPUs that vCPU's thread may run on; the emulator threads are
 * every thread of the qemu process that query-cpus-fast does not name as
 * a vCPU (main loop, RCU, I/O threads and workers, which inherit the main
 * loop's affinity when it spawns them later).
 *
 * Functions return 0 on success or -1 with *err set to a malloc'd message
 * (err may be NULL).
 */
#ifndef VMSUP_PIN_MAP_H
#define VMSUP_PIN_MAP_H

#include <sched.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

/* The most vCPUs a map can name (VMSUP_CPUS_MAX fits). */
#define PIN_MAP_VCPUS 64

struct pin_map {
	uint64_t named; /* bit i: vCPU i has a set */
	cpu_set_t set[PIN_MAP_VCPUS];
};

/*
 * {"0": "1", "1": "0-1,3"}: keys are vCPU indices in decimal (0..63, no
 * sign, no leading zero), values CPU lists (pin_parse) of CPUs this
 * process may use. At least one entry. Errors name the entry; what is the
 * caller's name for the object (e.g. "vcpu_pin").
 */
int pin_map_from_json(struct json_object *o, const char *what, struct pin_map *m, char **err);

/* Every vCPU the map names is below ncpus (the VM's vCPU count). */
int pin_map_check_vcpus(const struct pin_map *m, const char *what, unsigned ncpus, char **err);

/* {"0": "1", ...} in canonical lists; a new object. */
struct json_object *pin_map_to_json(const struct pin_map *m);

/*
 * vCPU threads of a query-cpus-fast reply (checked as pin_read_vcpus
 * does) onto the map's sets; vCPUs the map does not name onto rest.
 * Threads already on their set are left alone (a reattach re-sets only
 * what someone changed); *nchanged (may be NULL) counts those set.
 * Refuses a map that needs two vCPUs sharing one thread (TCG without
 * multi-threading) on different sets. Checks everything before setting.
 */
int pin_vcpus_map(struct json_object *cpus_fast, pid_t pid, const struct pin_map *m,
		  const cpu_set_t *rest, int *nchanged, char **err);

/*
 * Every thread in /proc/PID/task that is not a vCPU of cpus_fast onto
 * set; a thread that exits meanwhile is skipped. *nthreads, *nchanged
 * (may be NULL): emulator threads seen, and those whose affinity changed.
 */
int pin_emulator(struct json_object *cpus_fast, pid_t pid, const cpu_set_t *set, int *nthreads,
		 int *nchanged, char **err);

#endif
