#include "src/util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

static enum vmsup_log_level cur_level = VMSUP_LOG_INFO;
static enum vmsup_log_format cur_format = VMSUP_LOG_TEXT;
static const char *const names[] = {"error", "warn", "info", "debug"};

void vmsup_log_setup(enum vmsup_log_level level, enum vmsup_log_format format)
{
	cur_level = level;
	cur_format = format;
}

int vmsup_log_enabled(enum vmsup_log_level level)
{
	return level <= cur_level;
}

int vmsup_log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

void vmsup_log(enum vmsup_log_level level, const char *vm, const char *fmt, ...)
{
	char msg[1024];
	struct timespec ts;
	va_list ap;

	if (!vmsup_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	clock_gettime(CLOCK_REALTIME, &ts);
	if (cur_format == VMSUP_LOG_JSON) {
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "ts",
				       json_object_new_double(ts.tv_sec + ts.tv_nsec / 1e9));
		json_object_object_add(o, "level", json_object_new_string(names[level]));
		if (vm)
			json_object_object_add(o, "vm", json_object_new_string(vm));
		json_object_object_add(o, "msg", json_object_new_string(msg));
		/* one write per line so concurrent writers never interleave */
		fprintf(stderr, "%s\n",
			json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else if (vm) {
		fprintf(stderr, "vmsupd: %s: %s: %s\n", names[level], vm, msg);
	} else {
		fprintf(stderr, "vmsupd: %s: %s\n", names[level], msg);
	}
}

static long long mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

static void report_suppressed(struct vmsup_log_limit *lim, enum vmsup_log_level level)
{
	if (!lim->suppressed)
		return;
	vmsup_log(level, NULL, "%s: suppressed %llu messages (over %u a second)", lim->what,
		  lim->suppressed, lim->per_s);
	lim->suppressed = 0;
}

void vmsup_log_limited(struct vmsup_log_limit *lim, enum vmsup_log_level level, const char *msg)
{
	long long now = mono_s();

	if (!vmsup_log_enabled(level))
		return;
	if (now != lim->window) {
		report_suppressed(lim, level);
		lim->window = now;
		lim->used = 0;
	}
	if (lim->used >= lim->per_s) {
		lim->suppressed++;
		return;
	}
	lim->used++;
	vmsup_log(level, NULL, "%s: %s", lim->what, msg);
}

void vmsup_log_limit_flush(struct vmsup_log_limit *lim, enum vmsup_log_level level)
{
	report_suppressed(lim, level);
}
