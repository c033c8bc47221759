/*
 * bench/time-to-ip: from spawning a VM to knowing its IP through the agent,
 * against spawn -> VSERPORT_CHANGE (the guest opened the agent port: the
 * lower bound). Median of N runs (default 10) of the test guest under TCG.
 * As vmsupd does, the agent pushes an ssh key (the test guest's
 * test_key.pub) before it reports the address; -K pushes none.
 * Usage: time-to-ip [-K] [RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tests/lib/agent-harness.h"

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
	double *port, *ip, *gap, *rgap;
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
		if (w.done && w.ip[0] && g.port_open) {
			port[ok] = g.t_port_open - g.t_spawn;
			ip[ok] = w.t - g.t_spawn;
			gap[ok] = w.t - g.t_port_open;
			rgap[ok] = g.t_agent - g.t_port_open;
			printf("run %d: port open %.0f ms, ready +%.1f ms, ip %s at %.0f ms, "
			       "gap %.1f ms\n",
			       i, port[ok], rgap[ok], w.ip, ip[ok], gap[ok]);
			ok++;
		} else {
			fprintf(stderr, "time-to-ip: run %d failed: %s\n", i,
				w.err[0] ? w.err : "no address");
		}
		th_guest_stop(&g);
	}
	if (ok) {
		printf("time-to-ip: %d runs: spawn->port open median %.0f ms, spawn->ip median "
		       "%.0f ms, gap median %.1f ms (port open->ready median %.1f ms)\n",
		       ok, median(port, ok), median(ip, ok), median(gap, ok), median(rgap, ok));
	}
	print_load("at end");
	event_base_free(base);
	free(pubkey);
	free(port);
	free(ip);
	free(gap);
	free(rgap);
	return ok == runs ? 0 : 1;
}
