/*
 * libvmcg, part 2: vCPU pinning. CPU lists in the kernel's format
 * ("0-1,3"), parsed strictly, and sched_setaffinity() on each vCPU thread
 * named by QMP query-cpus-fast.
 *
 * Functions return 0 on success or -1 with *err set to a malloc'd message
 * (err may be NULL).
 */
#ifndef VMSUP_PIN_H
#define VMSUP_PIN_H

#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <json-c/json.h>

/*
 * "N", "N-M" items separated by ","; decimal digits only, no spaces, no
 * empty items, N <= M, every CPU < CPU_SETSIZE, at most 4096 characters.
 * The result is never empty.
 */
int pin_parse(const char *list, cpu_set_t *out, char **err);

/* Canonical form ("0-2,5") into buf; -1 if it does not fit. Empty set gives "". */
int pin_format(const cpu_set_t *set, char *buf, size_t len);

/* Every CPU in set is one this process may run on (its own affinity mask). */
int pin_check_available(const cpu_set_t *set, char **err);

/* Set / read one thread's affinity (tid as from gettid() or QMP "thread-id"). */
int pin_thread(pid_t tid, const cpu_set_t *set, char **err);
int pin_get_thread(pid_t tid, cpu_set_t *out, char **err);

enum pin_mode {
	PIN_ALL,      /* every vCPU may run on every CPU of the set */
	PIN_ONE_EACH, /* vCPU i (by cpu-index order) on the i-th CPU of the set, round robin */
};

/* One vCPU of query-cpus-fast: its cpu-index and thread. */
struct pin_vcpu {
	int64_t index;
	pid_t tid;
};

/*
 * The vCPUs of a query-cpus-fast reply, checked as a whole: each entry an
 * object with integer "cpu-index" and "thread-id", each thread one of
 * process pid (/proc/PID/task), no index twice. *out is malloc'd and
 * sorted by cpu-index.
 */
int pin_read_vcpus(struct json_object *cpus_fast, pid_t pid, struct pin_vcpu **out, size_t *n,
		   char **err);

/*
 * Pin the vCPU threads listed in the return value of query-cpus-fast
 * (a JSON array of objects with "cpu-index" and "thread-id"). Each
 * thread-id must be a thread of process pid (checked in /proc/PID/task),
 * so a confused or hostile QMP peer cannot make us pin someone else's
 * thread. Validates the whole array before touching any thread.
 * *npinned (may be NULL) is set to the number of threads pinned.
 */
int pin_vcpus(struct json_object *cpus_fast, pid_t pid, const cpu_set_t *set, enum pin_mode mode,
	      int *npinned, char **err);

#endif
