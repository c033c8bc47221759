/* A booted test guest with a QMP session feeding an agent: shared by the
 * integration test and bench/time-to-ip. */
#ifndef TESTS_AGENT_GUESTVM_H
#define TESTS_AGENT_GUESTVM_H

#include "src/agent.h"
#include "tests/agent/vmboot.h"

struct guestvm {
	struct vmboot vm;
	struct event_base *base;
	struct qmp_session *qmp;
	struct agent *agent;
	double t_spawn, t_port_open, t_ready; /* ms, wall clock */
	int qmp_ready, port_open, ready;
};

double guestvm_now_ms(void);
/* Run base until *flag or ms passed; returns *flag. */
int guestvm_run_until(struct event_base *base, int *flag, unsigned ms);
/*
 * Boot and connect QMP (events go to the agent). The agent is created
 * with cfg; feed_events 0 leaves VSERPORT_CHANGE unused (probe tests).
 */
int guestvm_start(struct guestvm *g, struct event_base *base, const struct agent_config *cfg,
		  int feed_events);
void guestvm_stop(struct guestvm *g);

#endif
