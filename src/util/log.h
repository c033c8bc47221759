/*
 * One line per event on stderr, with a level and, where there is one, the
 * VM's name; plain text or one JSON object per line.
 */
#ifndef VMSUP_LOG_H
#define VMSUP_LOG_H

enum vmsup_log_level {
	VMSUP_LOG_ERROR,
	VMSUP_LOG_WARN,
	VMSUP_LOG_INFO,
	VMSUP_LOG_DEBUG,
};

enum vmsup_log_format {
	VMSUP_LOG_TEXT,
	VMSUP_LOG_JSON,
};

void vmsup_log_setup(enum vmsup_log_level level, enum vmsup_log_format format);
int vmsup_log_enabled(enum vmsup_log_level level);
/* vm may be NULL for daemon-wide messages. */
void vmsup_log(enum vmsup_log_level level, const char *vm, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A budget for a noisy source (libevent's own messages, say): at most
 * per_s lines a second at one level. The lines over it are counted, not
 * written; the count goes out as one "WHAT: suppressed N messages" line
 * with the next line let through, or at vmsup_log_limit_flush. One per
 * source and level, {.what = "libevent", .per_s = 10} and the rest zero.
 */
struct vmsup_log_limit {
	const char *what; /* the source, before each of its lines */
	unsigned per_s;
	long long window; /* CLOCK_MONOTONIC second of the current budget */
	unsigned used;
	unsigned long long suppressed;
};

/* "WHAT: msg" at level, within lim's budget. */
void vmsup_log_limited(struct vmsup_log_limit *lim, enum vmsup_log_level level, const char *msg);
/* Write the suppressed count now, if any (from a periodic timer and at
 * exit, so the count of a flood that stopped is not held back). */
void vmsup_log_limit_flush(struct vmsup_log_limit *lim, enum vmsup_log_level level);

/* "error", "warn", "info", "debug" -> level; -1 if unknown. */
int vmsup_log_level_parse(const char *s);

#define LOG_E(vm, ...) vmsup_log(VMSUP_LOG_ERROR, vm, __VA_ARGS__)
#define LOG_W(vm, ...) vmsup_log(VMSUP_LOG_WARN, vm, __VA_ARGS__)
#define LOG_I(vm, ...) vmsup_log(VMSUP_LOG_INFO, vm, __VA_ARGS__)
#define LOG_D(vm, ...) vmsup_log(VMSUP_LOG_DEBUG, vm, __VA_ARGS__)

#endif
