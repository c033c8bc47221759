/*
 * Per-vCPU pinning maps and emulator-thread pinning (pin-map.h).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/limits/pin-map.h"
#include "src/limits/pin.h"
#include "src/util/err.h"

/* A vCPU index as a JSON key: "0".."63", nothing else. */
static int parse_index(const char *k, const char *what, unsigned *out, char **err)
{
	unsigned v = 0;

	if (!*k || strspn(k, "0123456789") != strlen(k) || (k[0] == '0' && k[1]) || strlen(k) > 3) {
		vmsup_err(err, "%s: key \"%s\" is not a vCPU index (0, 1, ...)", what, k);
		return -1;
	}
	for (const char *p = k; *p; p++)
		v = v * 10 + (unsigned)(*p - '0');
	if (v >= PIN_MAP_VCPUS) {
		vmsup_err(err, "%s: vCPU %u is above %d", what, v, PIN_MAP_VCPUS - 1);
		return -1;
	}
	*out = v;
	return 0;
}

int pin_map_from_json(struct json_object *o, const char *what, struct pin_map *m, char **err)
{
	memset(m, 0, sizeof(*m));
	if (!o || !json_object_is_type(o, json_type_object)) {
		vmsup_err(err, "%s must be an object like {\"0\": \"2\", \"1\": \"3\"} or null",
			  what);
		return -1;
	}
	if (json_object_object_length(o) == 0) {
		vmsup_err(err, "%s is empty (null unpins)", what);
		return -1;
	}
	json_object_object_foreach(o, k, v)
	{
		unsigned i;
		char *why = NULL;

		if (parse_index(k, what, &i, err))
			return -1;
		if (!json_object_is_type(v, json_type_string)) {
			vmsup_err(err, "%s[\"%s\"] must be a CPU list string like \"0-1,3\"", what,
				  k);
			return -1;
		}
		if (pin_parse(json_object_get_string(v), &m->set[i], &why) ||
		    pin_check_available(&m->set[i], &why)) {
			vmsup_err(err, "%s[\"%s\"]: %s", what, k, why ? why : "bad CPU list");
			free(why);
			return -1;
		}
		m->named |= 1ull << i;
	}
	return 0;
}

int pin_map_check_vcpus(const struct pin_map *m, const char *what, unsigned ncpus, char **err)
{
	for (unsigned i = ncpus; i < PIN_MAP_VCPUS; i++)
		if (m->named & (1ull << i)) {
			vmsup_err(err, "%s: vCPU %u does not exist (the VM has %u vCPU%s: 0..%u)",
				  what, i, ncpus, ncpus == 1 ? "" : "s", ncpus - 1);
			return -1;
		}
	return 0;
}

struct json_object *pin_map_to_json(const struct pin_map *m)
{
	struct json_object *o = json_object_new_object();

	for (unsigned i = 0; o && i < PIN_MAP_VCPUS; i++) {
		char k[8], list[256];

		if (!(m->named & (1ull << i)))
			continue;
		snprintf(k, sizeof(k), "%u", i);
		if (pin_format(&m->set[i], list, sizeof(list)) < 0)
			snprintf(list, sizeof(list), "(%d CPUs)", CPU_COUNT(&m->set[i]));
		json_object_object_add(o, k, json_object_new_string(list));
	}
	return o;
}

/* Set tid's affinity unless it already is set; *changed counts a change. */
static int ensure(pid_t tid, const cpu_set_t *set, int *changed, char **err)
{
	cpu_set_t now;

	if (sched_getaffinity(tid, sizeof(now), &now) == 0 && CPU_EQUAL(&now, set))
		return 0;
	if (pin_thread(tid, set, err))
		return -1;
	(*changed)++;
	return 0;
}

int pin_vcpus_map(struct json_object *cpus_fast, pid_t pid, const struct pin_map *m,
		  const cpu_set_t *rest, int *nchanged, char **err)
{
	struct pin_vcpu *v = NULL;
	const cpu_set_t **want = NULL;
	size_t n = 0;
	int changed = 0, r = -1;

	if (nchanged)
		*nchanged = 0;
	if (pin_read_vcpus(cpus_fast, pid, &v, &n, err))
		return -1;
	if (!(want = calloc(n, sizeof(*want)))) {
		vmsup_err(err, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t x = v[i].index;

		want[i] = x < PIN_MAP_VCPUS && (m->named & (1ull << x)) ? &m->set[x] : rest;
		/* one thread runs several vCPUs (TCG round-robin): one set only */
		for (size_t j = 0; j < i; j++)
			if (v[j].tid == v[i].tid && !CPU_EQUAL(want[j], want[i])) {
				vmsup_err(err,
					  "vCPUs %lld and %lld run on one thread (%d: TCG without "
					  "multi-threading), they cannot be pinned apart",
					  (long long)v[j].index, (long long)x, (int)v[i].tid);
				goto out;
			}
	}
	for (size_t i = 0; i < n; i++)
		if (ensure(v[i].tid, want[i], &changed, err))
			goto out;
	r = 0;
out:
	if (nchanged)
		*nchanged = changed;
	free(want);
	free(v);
	return r;
}

static bool is_vcpu(const struct pin_vcpu *v, size_t n, pid_t tid)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].tid == tid)
			return true;
	return false;
}

int pin_emulator(struct json_object *cpus_fast, pid_t pid, const cpu_set_t *set, int *nthreads,
		 int *nchanged, char **err)
{
	struct pin_vcpu *v = NULL;
	struct dirent *de;
	char path[64];
	size_t n = 0;
	int seen = 0, changed = 0, r = -1;
	DIR *d;

	if (nthreads)
		*nthreads = 0;
	if (nchanged)
		*nchanged = 0;
	if (pin_read_vcpus(cpus_fast, pid, &v, &n, err))
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!(d = opendir(path))) {
		vmsup_err(err, "%s: %s", path, strerror(errno));
		goto out;
	}
	while ((de = readdir(d))) {
		char *end, *why = NULL;
		long tid = strtol(de->d_name, &end, 10);

		if (de->d_name[0] < '1' || de->d_name[0] > '9' || *end || is_vcpu(v, n, tid))
			continue;
		seen++;
		if (ensure((pid_t)tid, set, &changed, &why) == 0)
			continue;
		/* a worker thread that ended since readdir: nothing to pin */
		snprintf(path, sizeof(path), "/proc/%d/task/%ld", (int)pid, tid);
		if (access(path, F_OK) < 0) {
			free(why);
			seen--;
			continue;
		}
		closedir(d);
		vmsup_err(err, "emulator thread %ld: %s", tid, why ? why : "cannot pin");
		free(why);
		goto out;
	}
	closedir(d);
	r = 0;
out:
	if (nthreads)
		*nthreads = seen;
	if (nchanged)
		*nchanged = changed;
	free(v);
	return r;
}
