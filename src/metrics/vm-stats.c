#include "src/metrics/vm-stats.h"

#include <string.h>
#include <time.h>

void vmsup_stats_init(struct vmsup_stats *s)
{
	memset(s, 0, sizeof(*s));
	metrics_qmp_hist_init(&s->qmp_rt);
	s->started_mono = vmsup_stats_now();
}

double vmsup_stats_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void mod_qmp_rtt(void *ctx, double seconds)
{
	struct vmsup_stats *s = ctx;

	metrics_qmp_observe(&s->qmp_rt, seconds);
}

const struct vm_module vm_stats_module = {
    .name = VM_STATS_MODULE,
    .qmp_rtt = mod_qmp_rtt,
};

struct vmsup_stats *vm_stats_of(const struct vmsup *sup)
{
	return vmsup_module_ctx(sup, VM_STATS_MODULE);
}
