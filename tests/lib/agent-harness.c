#include "tests/lib/agent-harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

int th_run_until(struct event_base *base, int *flag, unsigned ms)
{
	double end = th_now_ms() + ms;
	/* wakes the loop so the deadline is seen even when nothing happens */
	struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = {0, 5000};

	if (!t)
		return *flag;
	evtimer_add(t, &tv);
	while (!*flag && th_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}

static void on_state(struct agent *a, enum agent_state st, void *arg)
{
	struct th_guest *g = arg;

	if (st == AGENT_READY && !g->agent_ready) {
		g->agent_ready = 1;
		g->t_agent = th_now_ms();
	}
}

static void on_event(struct qmp_session *s, const char *name, struct json_object *data, int64_t sec,
		     int64_t usec, void *arg)
{
	struct th_guest *g = arg;
	struct json_object *open;

	if (!strcmp(name, "VSERPORT_CHANGE") && json_object_object_get_ex(data, "open", &open) &&
	    json_object_get_boolean(open) && !g->port_open) {
		g->port_open = 1;
		g->t_port_open = th_now_ms();
	}
	if (g->agent)
		agent_qmp_event(g->agent, name, data);
}

static void on_qmp_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct th_guest *g = arg;

	if (err)
		fprintf(stderr, "harness: QMP: %s\n", err->desc);
	else
		g->qmp_ready = 1;
	g->qmp_done = 1;
}

int th_guest_prepare(struct th_guest *g, const struct th_opts *o)
{
	struct th_opts paused = {0};

	memset(g, 0, sizeof(*g));
	if (o)
		paused = *o;
	g->stay_paused = paused.paused || paused.incoming;
	paused.paused = 1;
	return th_prepare(&g->vm, &paused);
}

int th_guest_start(struct th_guest *g, struct event_base *base, const struct agent_config *cfg)
{
	static const struct agent_callbacks cbs = {.state_changed = on_state};
	struct agent_config c = {.port_id = TH_AGENT_PORT_ID, .cmd_timeout_ms = 30000};
	struct qmp_error err;

	g->base = base;
	if (cfg) {
		c = *cfg;
		if (!c.port_id)
			c.port_id = TH_AGENT_PORT_ID;
	}
	g->t_spawn = th_now_ms();
	if (th_start(&g->vm) < 0)
		return -1;
	g->agent = agent_new(base, g->vm.qga_path, g->vm.mac, &c, &cbs, g);
	if (!g->agent) {
		fprintf(stderr, "harness: agent_new failed\n");
		return -1;
	}
	g->qmp = qmp_session_new(base, QMP_KIND_QMP, NULL);
	if (!g->qmp || qmp_connect(g->qmp, g->vm.qmp_path, on_qmp_ready, g, &err) < 0) {
		fprintf(stderr, "harness: QMP connect: %s\n", g->qmp ? err.desc : "out of memory");
		return -1;
	}
	if (qmp_subscribe(g->qmp, on_event, g) < 0) {
		fprintf(stderr, "harness: QMP subscribe failed\n");
		return -1;
	}
	th_run_until(base, &g->qmp_done, 60000);
	if (!g->qmp_ready) {
		fprintf(stderr, "harness: no QMP handshake%s\n", g->qmp_done ? "" : " in 60 s");
		return -1;
	}
	if (!g->stay_paused && qmp_call(g->qmp, "cont", NULL, 0, NULL, NULL, &err) < 0) {
		fprintf(stderr, "harness: cont: %s\n", err.desc);
		return -1;
	}
	return 0;
}

int th_guest_boot(struct th_guest *g, struct event_base *base, const struct th_opts *o,
		  const struct agent_config *cfg)
{
	if (th_guest_prepare(g, o) < 0)
		return -1;
	return th_guest_start(g, base, cfg);
}

int th_guest_wait_agent(struct th_guest *g, unsigned ms)
{
	return th_run_until(g->base, &g->agent_ready, ms) ? 0 : -1;
}

struct shres {
	int done, status, ok;
	char *out;
};

static void on_sh(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct shres *r = arg;

	if (err) {
		fprintf(stderr, "harness: guest-exec: %s: %s\n", err->cls, err->desc);
	} else {
		r->ok = 1;
		r->status = res->status;
		r->out = strndup(res->out ? (const char *)res->out : "", res->out_len);
	}
	r->done = 1;
}

int th_guest_sh(struct th_guest *g, const char *cmd, char **out, int *status, unsigned ms)
{
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct shres r = {0};
	struct qmp_error err;

	if (!g->agent || !agent_exec(g->agent, argv, NULL, 0, ms, on_sh, &r, &err)) {
		fprintf(stderr, "harness: %s\n", g->agent ? err.desc : "no agent");
		return -1;
	}
	/* the agent's own timeout ends it first; this bounds a lost reply */
	th_run_until(g->base, &r.done, ms + 5000);
	if (!r.done || !r.ok || (out && !r.out)) {
		free(r.out);
		return -1;
	}
	if (status)
		*status = r.status;
	if (out)
		*out = r.out;
	else
		free(r.out);
	return 0;
}

void th_guest_stop(struct th_guest *g)
{
	agent_free(g->agent);
	g->agent = NULL;
	if (g->qmp)
		qmp_session_free(g->qmp);
	g->qmp = NULL;
	th_vm_kill(&g->vm);
}
