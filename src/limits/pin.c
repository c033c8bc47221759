/*
 * vCPU pinning: strict CPU-list parsing and per-thread sched_setaffinity().
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "src/limits/pin.h"
#include "src/util/err.h"

#define PIN_LIST_MAX 4096

/* One CPU number at *p; advances *p. */
static int parse_cpu(const char **p, const char *list, long *out, char **err)
{
	const char *s = *p;
	long v = 0;

	if (*s < '0' || *s > '9') {
		vmsup_err(err, "CPU list \"%s\": expected a CPU number at offset %td", list,
			  s - list);
		return -1;
	}
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (*s - '0');
		if (v >= CPU_SETSIZE) {
			vmsup_err(err, "CPU list \"%s\": CPU number at offset %td is above %d",
				  list, *p - list, CPU_SETSIZE - 1);
			return -1;
		}
		s++;
	}
	*out = v;
	*p = s;
	return 0;
}

int pin_parse(const char *list, cpu_set_t *out, char **err)
{
	const char *p = list;

	CPU_ZERO(out);
	if (!list || !*list) {
		vmsup_err(err, "empty CPU list");
		return -1;
	}
	if (strlen(list) > PIN_LIST_MAX) {
		vmsup_err(err, "CPU list longer than %d characters", PIN_LIST_MAX);
		return -1;
	}
	for (;;) {
		long a, b;

		if (parse_cpu(&p, list, &a, err) < 0)
			goto fail;
		b = a;
		if (*p == '-') {
			p++;
			if (parse_cpu(&p, list, &b, err) < 0)
				goto fail;
			if (b < a) {
				vmsup_err(err, "CPU list \"%s\": range %ld-%ld is backwards", list,
					  a, b);
				goto fail;
			}
		}
		for (long c = a; c <= b; c++)
			CPU_SET((int)c, out);
		if (*p == '\0')
			return 0;
		if (*p != ',') {
			vmsup_err(err, "CPU list \"%s\": unexpected '%c' at offset %td", list, *p,
				  p - list);
			goto fail;
		}
		p++;
	}
fail:
	CPU_ZERO(out);
	return -1;
}

int pin_format(const cpu_set_t *set, char *buf, size_t len)
{
	size_t used = 0;

	if (len == 0)
		return -1;
	buf[0] = '\0';
	for (int c = 0; c < CPU_SETSIZE; c++) {
		int e = c;
		int n;

		if (!CPU_ISSET(c, set))
			continue;
		while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
			e++;
		if (e == c)
			n = snprintf(buf + used, len - used, "%s%d", used ? "," : "", c);
		else
			n = snprintf(buf + used, len - used, "%s%d-%d", used ? "," : "", c, e);
		if (n < 0 || (size_t)n >= len - used) {
			buf[0] = '\0';
			return -1;
		}
		used += (size_t)n;
		c = e;
	}
	return 0;
}

int pin_check_available(const cpu_set_t *set, char **err)
{
	cpu_set_t mine, extra;
	char buf[256];

	if (sched_getaffinity(0, sizeof(mine), &mine) < 0) {
		vmsup_err(err, "sched_getaffinity: %s", strerror(errno));
		return -1;
	}
	if (CPU_COUNT(set) == 0) {
		vmsup_err(err, "empty CPU set");
		return -1;
	}
	/* extra = set minus mine */
	CPU_XOR(&extra, set, &mine);
	CPU_AND(&extra, &extra, set);
	if (CPU_COUNT(&extra)) {
		char have[256];

		if (pin_format(&extra, buf, sizeof(buf)) < 0)
			snprintf(buf, sizeof(buf), "(%d CPUs)", CPU_COUNT(&extra));
		if (pin_format(&mine, have, sizeof(have)) < 0)
			snprintf(have, sizeof(have), "(%d CPUs)", CPU_COUNT(&mine));
		vmsup_err(err, "CPU(s) %s not available (this process may use %s)", buf, have);
		return -1;
	}
	return 0;
}

int pin_thread(pid_t tid, const cpu_set_t *set, char **err)
{
	if (tid <= 0) {
		vmsup_err(err, "invalid thread id %d", (int)tid);
		return -1;
	}
	if (sched_setaffinity(tid, sizeof(*set), set) < 0) {
		vmsup_err(err, "sched_setaffinity(thread %d): %s", (int)tid, strerror(errno));
		return -1;
	}
	return 0;
}

int pin_get_thread(pid_t tid, cpu_set_t *out, char **err)
{
	if (tid <= 0) {
		vmsup_err(err, "invalid thread id %d", (int)tid);
		return -1;
	}
	if (sched_getaffinity(tid, sizeof(*out), out) < 0) {
		vmsup_err(err, "sched_getaffinity(thread %d): %s", (int)tid, strerror(errno));
		return -1;
	}
	return 0;
}

static int by_index(const void *a, const void *b)
{
	const struct pin_vcpu *x = a, *y = b;

	return (x->index > y->index) - (x->index < y->index);
}

static int get_int(struct json_object *o, const char *key, size_t i, int64_t *v, char **err)
{
	struct json_object *m;

	if (!json_object_object_get_ex(o, key, &m) || !json_object_is_type(m, json_type_int)) {
		vmsup_err(err, "query-cpus-fast entry %zu: \"%s\" missing or not an integer", i,
			  key);
		return -1;
	}
	*v = json_object_get_int64(m);
	return 0;
}

int pin_read_vcpus(struct json_object *arr, pid_t pid, struct pin_vcpu **out, size_t *n, char **err)
{
	struct pin_vcpu *v = NULL;
	size_t len;

	*out = NULL;
	*n = 0;
	if (!arr || !json_object_is_type(arr, json_type_array)) {
		vmsup_err(err, "query-cpus-fast: expected an array");
		return -1;
	}
	len = json_object_array_length(arr);
	if (len == 0 || len > CPU_SETSIZE) {
		vmsup_err(err, "query-cpus-fast: %zu vCPUs (want 1..%d)", len, CPU_SETSIZE);
		return -1;
	}
	v = calloc(len, sizeof(*v));
	if (!v) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		char path[64];
		int64_t tid;
		struct stat st;

		if (!json_object_is_type(o, json_type_object)) {
			vmsup_err(err, "query-cpus-fast entry %zu: not an object", i);
			goto fail;
		}
		if (get_int(o, "cpu-index", i, &v[i].index, err) < 0 ||
		    get_int(o, "thread-id", i, &tid, err) < 0)
			goto fail;
		if (v[i].index < 0 || tid <= 0 || tid > INT_MAX) {
			vmsup_err(err,
				  "query-cpus-fast entry %zu: bad cpu-index %lld / thread-id %lld",
				  i, (long long)v[i].index, (long long)tid);
			goto fail;
		}
		v[i].tid = (pid_t)tid;
		snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)v[i].tid);
		if (stat(path, &st) < 0) {
			vmsup_err(err, "vCPU %lld: thread %d is not a thread of process %d",
				  (long long)v[i].index, (int)v[i].tid, (int)pid);
			goto fail;
		}
	}
	qsort(v, len, sizeof(*v), by_index);
	for (size_t i = 1; i < len; i++)
		if (v[i].index == v[i - 1].index) {
			vmsup_err(err, "query-cpus-fast: cpu-index %lld listed twice",
				  (long long)v[i].index);
			goto fail;
		}
	*out = v;
	*n = len;
	return 0;
fail:
	free(v);
	return -1;
}

int pin_vcpus(struct json_object *cpus_fast, pid_t pid, const cpu_set_t *set, enum pin_mode mode,
	      int *npinned, char **err)
{
	struct pin_vcpu *v = NULL;
	size_t n = 0;
	int cpus[CPU_SETSIZE], ncpus = 0, r = -1, done = 0;

	if (npinned)
		*npinned = 0;
	if (pid <= 0) {
		vmsup_err(err, "invalid pid %d", (int)pid);
		return -1;
	}
	if (mode != PIN_ALL && mode != PIN_ONE_EACH) {
		vmsup_err(err, "invalid pin mode %d", (int)mode);
		return -1;
	}
	for (int c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, set))
			cpus[ncpus++] = c;
	if (ncpus == 0) {
		vmsup_err(err, "empty CPU set");
		return -1;
	}
	if (pin_read_vcpus(cpus_fast, pid, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		cpu_set_t one;
		const cpu_set_t *use = set;

		if (mode == PIN_ONE_EACH) {
			CPU_ZERO(&one);
			CPU_SET(cpus[i % (size_t)ncpus], &one);
			use = &one;
		}
		if (pin_thread(v[i].tid, use, err) < 0)
			goto out;
		done++;
	}
	r = 0;
out:
	if (npinned)
		*npinned = done;
	free(v);
	return r;
}
