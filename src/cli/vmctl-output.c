/* vmctl: text and JSON output of API objects. */
#include "config.h"

#include "src/cli/vmctl.h"

#include <string.h>
#include <time.h>

void vmctl_print_json(struct json_object *v)
{
	printf("%s\n",
	       json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						     JSON_C_TO_STRING_NOSLASHESCAPE));
}

const char *vmctl_field(struct json_object *o, const char *key, char *buf, size_t n)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	if (json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	snprintf(buf, n, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
	return buf;
}

const char *vmctl_ms(struct json_object *o, const char *key, char *buf, size_t n)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return "-";
	snprintf(buf, n, "%.1f", json_object_get_double(v));
	return buf;
}

const char *vmctl_utc(double epoch, char *buf, size_t n)
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(buf, n, "%.0f", epoch);
	return buf;
}

/* A field's text: times (created) in UTC, JSON values as JSON. */
static const char *vm_text(const char *key, struct json_object *val, char *buf, size_t n)
{
	if (!val)
		return "-";
	if (json_object_is_type(val, json_type_string))
		return json_object_get_string(val);
	if (!strcmp(key, "vcpu_pin") && json_object_is_type(val, json_type_object)) {
		size_t used = 0;

		/* as --pin takes it: 0:2,1:3 */
		buf[0] = '\0';
		json_object_object_foreach(val, k, v)
		{
			int w = snprintf(buf + used, n - used, "%s%s:%s", used ? "," : "", k,
					 json_object_get_string(v));
			if (w < 0 || (size_t)w >= n - used)
				break;
			used += (size_t)w;
		}
		return buf;
	}
	if (!strcmp(key, "created") &&
	    (json_object_is_type(val, json_type_double) || json_object_is_type(val, json_type_int)))
		return vmctl_utc(json_object_get_double(val), buf, n);
	return json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Every field, in the daemon's order, so new fields show up unasked. */
void vmctl_print_vm_text(struct json_object *vm)
{
	if (!json_object_is_type(vm, json_type_object))
		return;
	json_object_object_foreach(vm, key, val)
	{
		char b[512];
		const char *s = vm_text(key, val, b, sizeof(b));

		if (strchr(s, '\n')) {
			/* log_tail and the like: indented below the key. */
			const char *p = s;

			printf("%s:\n", key);
			while (*p) {
				size_t l = strcspn(p, "\n");

				printf("    %.*s\n", (int)l, p);
				p += l + (p[l] == '\n');
			}
		} else {
			printf("%-15s %s\n", key, s);
		}
	}
}

void vmctl_print_vm_list_text(struct json_object *vms, int names_only)
{
	size_t i, n = vms ? json_object_array_length(vms) : 0;
	char nb[64];

	for (i = 0; names_only && i < n; i++)
		printf("%s\n",
		       vmctl_field(json_object_array_get_idx(vms, i), "name", nb, sizeof(nb)));
	if (names_only)
		return;
	printf("%-24s %-9s %-8s %-5s %-7s %-4s %s\n", "NAME", "STATE", "PID", "ACCEL", "MEM",
	       "CPUS", "IP");
	for (i = 0; i < n; i++) {
		struct json_object *vm = json_object_array_get_idx(vms, i);
		char b[7][64];

		printf("%-24s %-9s %-8s %-5s %-7s %-4s %s\n", vmctl_field(vm, "name", b[0], 64),
		       vmctl_field(vm, "state", b[1], 64), vmctl_field(vm, "pid", b[2], 64),
		       vmctl_field(vm, "accel", b[3], 64), vmctl_field(vm, "mem_mib", b[4], 64),
		       vmctl_field(vm, "cpus", b[5], 64), vmctl_field(vm, "ip", b[6], 64));
	}
}

void vmctl_print_event_text(struct json_object *ev)
{
	char b[4][256];
	struct json_object *data;
	const char *type = vmctl_field(ev, "type", b[0], sizeof(b[0]));

	printf("%s %s %s ", vmctl_field(ev, "ts", b[1], sizeof(b[1])),
	       vmctl_field(ev, "vm", b[2], sizeof(b[2])), type);
	if (strcmp(type, "state") == 0) {
		printf("%s\n", vmctl_field(ev, "state", b[3], sizeof(b[3])));
	} else if (strcmp(type, "qmp") == 0) {
		printf("%s", vmctl_field(ev, "event", b[3], sizeof(b[3])));
		if (json_object_object_get_ex(ev, "data", &data) && data &&
		    json_object_object_length(data))
			printf(" %s", json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN));
		printf("\n");
	} else {
		printf("%s\n", json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN));
	}
	fflush(stdout);
}
