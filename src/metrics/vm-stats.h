/*
 * vmsupd's counters for GET /metrics: API replies by status code and the
 * QMP round-trip histogram, plus the daemon's start time. The daemon owns
 * one struct vmsup_stats and registers vm_stats_module with it, so every
 * QMP round trip the core times (vm_qmp_call) lands in the histogram.
 */
#ifndef VMSUP_VM_STATS_H
#define VMSUP_VM_STATS_H

#include "src/core/module.h"
#include "src/metrics/metrics.h"

struct vmsup_stats {
	struct metrics_hist qmp_rt;
	struct metrics_api_counts api;
	double started_mono;
};

void vmsup_stats_init(struct vmsup_stats *s);
double vmsup_stats_now(void); /* CLOCK_MONOTONIC, seconds */

#define VM_STATS_MODULE "stats"
extern const struct vm_module vm_stats_module;
struct vmsup;
/* The registered counters, NULL when none. */
struct vmsup_stats *vm_stats_of(const struct vmsup *sup);

#endif
