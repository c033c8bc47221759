/*
 * bench/time-to-ip: from spawning a VM to knowing its IP through the agent,
 * against spawn -> VSERPORT_CHANGE (the guest opened the agent port: the
 * lower bound). Median of N runs (default 10) of the test guest under TCG.
 * As vmsupd does, the agent pushes an ssh key (the test guest's
 * test_key.pub), right after the address query; -K pushes none.
 * The gap (port open -> IP known) is also given as a ratio to one
 * guest-ping round trip, measured in the same boot right after (median
 * of PINGS), so that a loaded machine does not hide what the agent
 * dialogue itself costs: the goal is two round trips.
 * Usage: time-to-ip [-K] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/lib/agent-harness.h"

#define PINGS 10

static double median(double *v, int n);

struct pingwait {
	int done;
	int failed;
};

static void got_pong(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	struct pingwait *p = arg;

	(void)s;
	(void)ret;
	p->failed = err != NULL;
	p->done = 1;
}

/* Median guest-ping round trip in ms over the ready agent, or -1. */
static double ping_rtt(struct th_guest *g, struct event_base *base)
{
	double v[PINGS];

	for (int i = 0; i < PINGS; i++) {
		struct pingwait p = {0};
		struct qmp_error e;
		double t0 = th_now_ms();

		if (agent_call(g->agent, "guest-ping", NULL, 5000, got_pong, &p, &e) < 0)
			return -1;
		th_run_until(base, &p.done, 6000);
		if (!p.done || p.failed)
			return -1;
		v[i] = th_now_ms() - t0;
	}
	return median(v, PINGS);
}

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
	w->t = th_now_ms();
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

/* The test guest's public key, one authorized_keys line (malloc'd), or NULL. */
static char *guest_pubkey(void)
{
	char path[512], line[1024];
	const char *key = th_guest_key();
	FILE *f;

	if (!key || snprintf(path, sizeof(path), "%s.pub", key) >= (int)sizeof(path) ||
	    !(f = fopen(path, "r")))
		return NULL;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return line[0] ? strdup(line) : NULL;
}

/* Every timing here is inflated by the load: say how much there was. */
static void print_load(const char *when)
{
	double l[3];

	if (getloadavg(l, 3) == 3)
		printf("time-to-ip: load average %s: %.2f %.2f %.2f\n", when, l[0], l[1], l[2]);
}

int main(int argc, char **argv)
{
	int runs = 10, ok = 0, nokey = 0;
	double *port, *ip, *gap, *rgap, *ping, *ratio;
	struct event_base *base;
	char *pubkey = NULL;

	if (argc > 1 && !strcmp(argv[1], "-K")) {
		nokey = 1;
		argc--, argv++;
	}
	if (argc > 2 || (argc == 2 && ((runs = atoi(argv[1])) < 1 || runs > 100))) {
		fprintf(stderr, "usage: time-to-ip [-K] [RUNS 1-100]\n");
		return 2;
	}
	if (!th_guest_dir()) {
		fprintf(stderr, "time-to-ip: no test guest (set VMSUP_GUEST_DIR)\n");
		return 1;
	}
	if (!nokey && !(pubkey = guest_pubkey())) {
		fprintf(stderr, "time-to-ip: no %s.pub to push (-K: push none)\n",
			th_guest_key() ? th_guest_key() : "test_key");
		return 1;
	}
	printf("time-to-ip: %d runs, ssh key push %s\n", runs, pubkey ? "on" : "off");
	print_load("at start");
	port = calloc(runs, sizeof(double));
	ip = calloc(runs, sizeof(double));
	gap = calloc(runs, sizeof(double));
	rgap = calloc(runs, sizeof(double));
	ping = calloc(runs, sizeof(double));
	ratio = calloc(runs, sizeof(double));
	base = event_base_new();
	for (int i = 0; i < runs; i++) {
		struct th_guest g;
		struct ipwait w = {0};
		struct agent_config cfg = {.pubkey = pubkey};

		if (th_guest_boot(&g, base, NULL, &cfg) < 0) {
			fprintf(stderr, "time-to-ip: run %d: guest did not start\n", i);
			th_guest_stop(&g);
			continue;
		}
		/* As `vmctl ip --wait 120` right after create. */
		agent_get_ip(g.agent, 120000, got_ip, &w);
		th_run_until(base, &w.done, 130000);
		if (w.done && w.ip[0] && g.port_open && (ping[ok] = ping_rtt(&g, base)) > 0) {
			port[ok] = g.t_port_open - g.t_spawn;
			ip[ok] = w.t - g.t_spawn;
			gap[ok] = w.t - g.t_port_open;
			rgap[ok] = g.t_agent - g.t_port_open;
			ratio[ok] = gap[ok] / ping[ok];
			printf("run %d: port open %.0f ms, ready +%.1f ms, ip %s at %.0f ms, "
			       "gap %.1f ms, guest-ping %.2f ms (gap = %.1f round trips)\n",
			       i, port[ok], rgap[ok], w.ip, ip[ok], gap[ok], ping[ok], ratio[ok]);
			ok++;
		} else {
			fprintf(stderr, "time-to-ip: run %d failed: %s\n", i,
				w.err[0] ? w.err : "no address");
		}
		th_guest_stop(&g);
	}
	if (ok) {
		double mp = median(port, ok), mi = median(ip, ok), mg, mr, mping;

		printf("time-to-ip: %d runs: spawn->port open median %.0f ms, spawn->ip median "
		       "%.0f ms, gap median %.1f ms (port open->ready median %.1f ms)\n",
		       ok, mp, mi, median(gap, ok), median(rgap, ok));
		mg = median(gap, ok);
		mr = median(ratio, ok);
		mping = median(ping, ok);
		/* as bench/README.md's result lines (run.sh takes these as they are) */
		printf("BENCH\ttime-to-ip\tspawn -> IP known, median (baseline: agent port "
		       "open)\t%.0f\tms\t%.0f\t%.2f\t-\tn=%d TCG boots\n",
		       mi, mp, mi / mp, ok);
		/* ratio: the median of each boot's own gap / guest-ping */
		printf(
		    "BENCH\ttime-to-ip\tgap IP known - agent port open, median (baseline: one "
		    "guest-ping round trip)\t%.1f\tms\t%.2f\t%.1f\t<= 2x (50 ms)\tn=%d; ratio: "
		    "median over the boots of gap / median of %d guest-pings right after the IP; "
		    "port open -> agent ready median %.1f ms\n",
		    mg, mping, mr, ok, PINGS, median(rgap, ok));
	}
	print_load("at end");
	event_base_free(base);
	free(pubkey);
	free(port);
	free(ip);
	free(gap);
	free(rgap);
	free(ping);
	free(ratio);
	return ok == runs ? 0 : 1;
}
