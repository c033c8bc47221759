#include "tests/agent/guestvm.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

double guestvm_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
}

int guestvm_run_until(struct event_base *base, int *flag, unsigned ms)
{
	double end = guestvm_now_ms() + ms;
	struct event *t = event_new(base, -1, EV_PERSIST, tick, NULL);
	struct timeval tv = {0, 5000};

	evtimer_add(t, &tv);
	while (!*flag && guestvm_now_ms() < end)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return *flag;
}

static void on_state(struct agent *a, enum agent_state st, void *arg)
{
	struct guestvm *g = arg;

	if (st == AGENT_READY && !g->ready) {
		g->ready = 1;
		g->t_ready = guestvm_now_ms();
	}
}

static void on_event(struct qmp_session *s, const char *name, struct json_object *data, int64_t sec,
		     int64_t usec, void *arg)
{
	struct guestvm *g = arg;
	struct json_object *open;

	if (!strcmp(name, "VSERPORT_CHANGE") && json_object_object_get_ex(data, "open", &open) &&
	    json_object_get_boolean(open) && !g->port_open) {
		g->port_open = 1;
		g->t_port_open = guestvm_now_ms();
	}
	if (g->agent)
		agent_qmp_event(g->agent, name, data);
}

static void on_qmp_ready(struct qmp_session *s, const struct qmp_error *err, void *arg)
{
	struct guestvm *g = arg;

	if (err)
		fprintf(stderr, "guestvm: QMP: %s\n", err->desc);
	else
		g->qmp_ready = 1;
}

int guestvm_start(struct guestvm *g, struct event_base *base, const struct agent_config *cfg,
		  int feed_events)
{
	const char *dir = vmboot_guest_dir();
	static const struct agent_callbacks cbs = {on_state, NULL};
	struct qmp_error err;
	double end;

	memset(g, 0, sizeof(*g));
	g->base = base;
	if (!dir)
		return -1;
	g->t_spawn = guestvm_now_ms();
	if (vmboot_start(&g->vm, dir) < 0)
		return -1;
	g->agent = agent_new(base, g->vm.qga_path, VMBOOT_MAC, cfg, &cbs, g);
	/* QEMU creates its sockets a moment after exec: retry, 10 ms apart. */
	for (end = guestvm_now_ms() + 30000; guestvm_now_ms() < end;) {
		g->qmp = qmp_session_new(base, QMP_KIND_QMP, NULL);
		if (qmp_connect(g->qmp, g->vm.qmp_path, on_qmp_ready, g, &err) == 0)
			break;
		qmp_session_free(g->qmp);
		g->qmp = NULL;
		usleep(10000);
	}
	if (!g->qmp)
		return -1;
	if (feed_events)
		qmp_subscribe(g->qmp, on_event, g);
	return guestvm_run_until(base, &g->qmp_ready, 30000) ? 0 : -1;
}

void guestvm_stop(struct guestvm *g)
{
	agent_free(g->agent);
	g->agent = NULL;
	if (g->qmp)
		qmp_session_free(g->qmp);
	g->qmp = NULL;
	vmboot_stop(&g->vm);
}
