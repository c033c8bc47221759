/*
 * bench/time-to-ip: from spawning a VM to knowing its IP through the agent,
 * against spawn -> VSERPORT_CHANGE (the guest opened the agent port: the
 * lower bound). Median of N runs (default 10) of the test guest under TCG.
 * Usage: time-to-ip [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/agent/guestvm.h"

struct ipwait {
	int done;
	double t;
	char ip[64];
	char err[400];
};

static void got_ip(struct json_object *ipinfo, const struct qmp_error *err, void *arg)
{
	struct ipwait *w = arg;
	struct json_object *v;

	w->done = 1;
	w->t = guestvm_now_ms();
	if (err)
		snprintf(w->err, sizeof(w->err), "%s: %s", err->cls, err->desc);
	else if (json_object_object_get_ex(ipinfo, "ip", &v) && v)
		snprintf(w->ip, sizeof(w->ip), "%s", json_object_get_string(v));
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 10, ok = 0;
	double *port, *ip, *gap;
	struct event_base *base;

	if (runs < 1 || runs > 100) {
		fprintf(stderr, "usage: time-to-ip [RUNS 1-100]\n");
		return 2;
	}
	if (!vmboot_guest_dir()) {
		fprintf(stderr, "time-to-ip: no test guest (set VMSUP_GUEST_DIR)\n");
		return 1;
	}
	port = calloc(runs, sizeof(double));
	ip = calloc(runs, sizeof(double));
	gap = calloc(runs, sizeof(double));
	base = event_base_new();
	for (int i = 0; i < runs; i++) {
		struct guestvm g;
		struct ipwait w = {0};
		struct agent_config cfg = {0};

		if (guestvm_start(&g, base, &cfg, 1) < 0) {
			fprintf(stderr, "time-to-ip: run %d: guest did not start\n", i);
			guestvm_stop(&g);
			continue;
		}
		/* As `vmctl ip --wait 120` right after create. */
		agent_get_ip(g.agent, 120000, got_ip, &w);
		guestvm_run_until(base, &w.done, 130000);
		if (w.done && w.ip[0] && g.port_open) {
			port[ok] = g.t_port_open - g.t_spawn;
			ip[ok] = w.t - g.t_spawn;
			gap[ok] = w.t - g.t_port_open;
			printf("run %d: port open %.0f ms, ip %s at %.0f ms, gap %.1f ms\n", i,
			       port[ok], w.ip, ip[ok], gap[ok]);
			ok++;
		} else {
			fprintf(stderr, "time-to-ip: run %d failed: %s\n", i,
				w.err[0] ? w.err : "no address");
		}
		guestvm_stop(&g);
	}
	if (ok) {
		printf("time-to-ip: %d runs: spawn->port open median %.0f ms, spawn->ip median "
		       "%.0f ms, gap median %.1f ms\n",
		       ok, median(port, ok), median(ip, ok), median(gap, ok));
	}
	event_base_free(base);
	free(port);
	free(ip);
	free(gap);
	return ok == runs ? 0 : 1;
}
