/* vmsupd's /metrics exposition, built on the writer in metrics.c. */
#include "src/metrics/metrics.h"

#include <stdio.h>
#include <string.h>

#include "src/util/err.h"

#include <event2/buffer.h>

/*
 * Every state of DESIGN.md gets a series per VM (1 for the current one, 0
 * for the others), so `vmsup_vm_state{state="running"} == 1` and sums by
 * state work without absent-series tricks.
 */
static const char *const vm_states[] = {"defined",  "starting", "running", "paused",
					"stopping", "stopped",	"crashed", "failed"};

static int render_vms(struct metrics_buf *m, const struct metrics_vm *vms, size_t n)
{
	const size_t nstates = sizeof(vm_states) / sizeof(vm_states[0]);

	metrics_family(m, "vmsup_vm_state", METRICS_GAUGE,
		       "Lifecycle state of the VM: 1 for its current state, 0 for the others.");
	for (size_t i = 0; i < n; i++) {
		int known = 0;
		for (size_t s = 0; s < nstates; s++) {
			int cur = vms[i].state && strcmp(vms[i].state, vm_states[s]) == 0;
			known |= cur;
			metrics_sample(m, "vmsup_vm_state", cur, "vm", vms[i].name, "state",
				       vm_states[s], NULL);
		}
		/* a state added later in the daemon still shows up, not vanishes */
		if (!known && vms[i].state)
			metrics_sample(m, "vmsup_vm_state", 1, "vm", vms[i].name, "state",
				       vms[i].state, NULL);
	}

	metrics_family(m, "vmsup_vm_vcpus", METRICS_GAUGE, "Virtual CPUs of the VM.");
	for (size_t i = 0; i < n; i++)
		metrics_sample(m, "vmsup_vm_vcpus", vms[i].vcpus, "vm", vms[i].name, NULL);

	metrics_family(m, "vmsup_vm_memory_bytes", METRICS_GAUGE,
		       "Guest memory size at boot, in bytes.");
	for (size_t i = 0; i < n; i++)
		metrics_sample(m, "vmsup_vm_memory_bytes", (double)vms[i].memory_bytes, "vm",
			       vms[i].name, NULL);

	metrics_family(m, "vmsup_vm_balloon_bytes", METRICS_GAUGE,
		       "Guest memory left by the balloon (query-balloon actual), in bytes.");
	for (size_t i = 0; i < n; i++)
		if (vms[i].balloon_bytes >= 0)
			metrics_sample(m, "vmsup_vm_balloon_bytes", (double)vms[i].balloon_bytes,
				       "vm", vms[i].name, NULL);

	metrics_family(m, "vmsup_vm_cpu_seconds_total", METRICS_COUNTER,
		       "CPU time used by the VM's qemu process (user + system), in seconds.");
	for (size_t i = 0; i < n; i++)
		if (vms[i].cpu_seconds >= 0)
			metrics_sample(m, "vmsup_vm_cpu_seconds_total", vms[i].cpu_seconds, "vm",
				       vms[i].name, NULL);

	metrics_family(m, "vmsup_vm_restarts_total", METRICS_COUNTER,
		       "Times the supervisor restarted the VM.");
	for (size_t i = 0; i < n; i++)
		metrics_sample(m, "vmsup_vm_restarts_total", (double)vms[i].restarts, "vm",
			       vms[i].name, NULL);

	metrics_family(m, "vmsup_vm_agent_ready", METRICS_GAUGE,
		       "1 when the guest agent answered guest-sync, else 0.");
	for (size_t i = 0; i < n; i++)
		metrics_sample(m, "vmsup_vm_agent_ready", vms[i].agent_ready ? 1 : 0, "vm",
			       vms[i].name, NULL);
	return metrics_error(m) ? -1 : 0;
}

int metrics_render_vmsup(struct evbuffer *out, const struct metrics_daemon *d,
			 const struct metrics_vm *vms, size_t nvms, char **err)
{
	struct metrics_buf m;
	metrics_buf_init(&m, out);

	for (size_t i = 0; i < nvms; i++) {
		if (!vms[i].name) {
			metrics_buf_release(&m);
			return vmsup_err(err, "VM %zu has no name", i);
		}
	}
	render_vms(&m, vms, nvms);

	metrics_family(&m, "vmsup_vms", METRICS_GAUGE, "VMs known to the supervisor.");
	metrics_sample(&m, "vmsup_vms", (double)nvms, NULL);

	size_t unsaved = 0;
	for (size_t i = 0; i < nvms; i++)
		unsaved += vms[i].state_unsaved != 0;
	metrics_family(
	    &m, "vmsup_vms_state_unsaved", METRICS_GAUGE,
	    "VMs whose state file could not be written (a restart would not know them).");
	metrics_sample(&m, "vmsup_vms_state_unsaved", (double)unsaved, NULL);

	metrics_family(&m, "vmsup_uptime_seconds", METRICS_GAUGE,
		       "Seconds since the supervisor started.");
	metrics_sample(&m, "vmsup_uptime_seconds", d ? d->uptime_seconds : 0, NULL);

	metrics_family(&m, "vmsup_api_requests_total", METRICS_COUNTER,
		       "API requests answered, by HTTP status code.");
	if (d && d->api) {
		for (int code = 100; code <= 599; code++) {
			if (!d->api->by_code[code])
				continue;
			char c[12]; /* room for any int: gcc -O1 does not bound code */
			snprintf(c, sizeof(c), "%d", code);
			metrics_sample(&m, "vmsup_api_requests_total",
				       (double)d->api->by_code[code], "code", c, NULL);
		}
	}

	metrics_family(&m, "vmsup_qmp_roundtrip_seconds", METRICS_HISTOGRAM,
		       "Time from sending a QMP command to its reply, in seconds.");
	struct metrics_hist empty;
	if (!d || !d->qmp)
		metrics_qmp_hist_init(&empty);
	metrics_histogram(&m, "vmsup_qmp_roundtrip_seconds", d && d->qmp ? d->qmp : &empty, NULL);

	int rc = 0;
	if (metrics_error(&m)) {
		rc = vmsup_err(err, "%s", metrics_error(&m));
	}
	metrics_buf_release(&m);
	return rc;
}
