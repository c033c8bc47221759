/*
 * vmsupd's counters for GET /metrics: API replies by status code and the
 * QMP round-trip histogram, plus the daemon's start time. The supervisor
 * sends its QMP commands through vm_qmp_call so each round trip is timed.
 */
#ifndef VMSUP_VM_STATS_H
#define VMSUP_VM_STATS_H

#include <stdint.h>

#include <json-c/json.h>

#include "qmp/qmp.h"
#include "src/metrics/metrics.h"

struct vm;

struct vmsup_stats {
	struct metrics_hist qmp_rt;
	struct metrics_api_counts api;
	double started_mono;
};

void vmsup_stats_init(struct vmsup_stats *s);
double vmsup_stats_now(void); /* CLOCK_MONOTONIC, seconds */

/*
 * qmp_call / qmp_call_raw on vm->qmp, timing the round trip into the
 * daemon's histogram when the daemon keeps one (vmsup_limits(vm->sup)).
 * Same contract as libqmp's: fn is called exactly once unless -1 is
 * returned; args / cmd are taken over.
 */
int64_t vm_qmp_call(struct vm *vm, const char *cmd, struct json_object *args, unsigned timeout_ms,
		    qmp_reply_fn fn, void *arg, struct qmp_error *err);
int64_t vm_qmp_call_raw(struct vm *vm, struct json_object *cmd, unsigned timeout_ms,
			qmp_reply_fn fn, void *arg, struct qmp_error *err);

#endif
