/*
 * Prometheus text exposition (format 0.0.4) for vmsupd's GET /metrics.
 *
 * Two layers:
 *  - a writer (struct metrics_buf) that appends families and samples to a
 *    libevent evbuffer, escaping HELP text and label values and refusing
 *    anything a scraper would reject: a bad metric or label name, a family
 *    declared twice, a sample outside the family declared last;
 *  - vmsupd's own exposition (metrics_render_vmsup) built on it from plain
 *    structs the daemon fills, so the daemon never formats text itself.
 *
 * Errors are sticky: after the first failure every call returns -1 and
 * metrics_error() says what went wrong.
 */
#ifndef VMSUP_METRICS_H
#define VMSUP_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct evbuffer;

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
	METRICS_UNTYPED,
};

struct metrics_buf {
	struct evbuffer *out; /* borrowed */
	char **families;      /* names declared so far (each only once) */
	size_t nfamilies;
	enum metrics_type cur_type; /* type of families[nfamilies - 1] */
	char err[256];		    /* "" while no error */
};

/* out is borrowed and must outlive the buffer. */
void metrics_buf_init(struct metrics_buf *m, struct evbuffer *out);
void metrics_buf_release(struct metrics_buf *m);
/* The first error's message, or NULL if every call succeeded. */
const char *metrics_error(const struct metrics_buf *m);

/* Write "# HELP" and "# TYPE" for a new family; its samples must follow. */
int metrics_family(struct metrics_buf *m, const char *name, enum metrics_type type,
		   const char *help);

/*
 * One sample of the family declared last: name is the family name (or
 * name_bucket/_sum/_count for a histogram); the variadic part is label
 * name/value pairs ending with NULL:
 *   metrics_sample(m, "vmsup_vm_vcpus", 2, "vm", "a", NULL);
 */
int metrics_sample(struct metrics_buf *m, const char *name, double value, ...)
    __attribute__((sentinel));
/* labels: name/value pairs ending with NULL (NULL itself = no labels). */
int metrics_samplev(struct metrics_buf *m, const char *name, double value,
		    const char *const *labels);

/*
 * A histogram with fixed upper bounds (strictly increasing, finite); the
 * +Inf bucket is implicit. Counts per bucket are kept non-cumulative and
 * summed when written.
 */
#define METRICS_HIST_MAX 32
struct metrics_hist {
	size_t nbounds;
	double bounds[METRICS_HIST_MAX];
	uint64_t counts[METRICS_HIST_MAX + 1]; /* last = above every bound */
	uint64_t count;
	double sum;
};

/* 0, or -1 with *err (first error wins) for bad bounds. */
int metrics_hist_init(struct metrics_hist *h, const double *bounds, size_t nbounds, char **err);
/* NaN and negative observations are ignored (a clock can step back). */
void metrics_hist_observe(struct metrics_hist *h, double value);
/* name_bucket{labels...,le="..."}, name_sum, name_count for family name. */
int metrics_histogram(struct metrics_buf *m, const char *name, const struct metrics_hist *h,
		      const char *const *labels);

/* The QMP round-trip histogram: buckets from 0.5 ms to 10 s. */
void metrics_qmp_hist_init(struct metrics_hist *h);
void metrics_qmp_observe(struct metrics_hist *h, double seconds);

/* API request counts by HTTP status code (100..599). */
struct metrics_api_counts {
	uint64_t by_code[600];
};
void metrics_api_count(struct metrics_api_counts *c, int code);

/* One VM as the daemon sees it when /metrics is asked for. */
struct metrics_vm {
	const char *name;
	const char *state; /* one of DESIGN.md's states */
	int vcpus;
	uint64_t memory_bytes; /* boot size */
	int64_t balloon_bytes; /* actual from query-balloon; < 0: unknown */
	double cpu_seconds;    /* user+system of qemu; < 0: unknown */
	uint64_t restarts;
	int agent_ready; /* 1 when the agent state is "ready" */
	int state_unsaved; /* 1 while its state file could not be written */
};

struct metrics_daemon {
	double uptime_seconds;
	const struct metrics_api_counts *api; /* may be NULL */
	const struct metrics_hist *qmp;	      /* may be NULL */
};

/*
 * The whole vmsupd exposition into out. Families without samples are
 * still declared, so a scraper sees every name from the first scrape.
 * Returns 0, or -1 with *err (first error wins).
 */
int metrics_render_vmsup(struct evbuffer *out, const struct metrics_daemon *d,
			 const struct metrics_vm *vms, size_t nvms, char **err);

/* The Content-Type a /metrics reply must carry. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif
