/*
 * bench/scale's event delivery figure: stop/cont written to a VM's ops
 * socket until the STOP/RESUME line comes on GET /v1/events, and where
 * the time went, from the timestamp qemu puts on each event.
 */
#ifndef VMSUP_BENCH_SCALE_EVENTS_H
#define VMSUP_BENCH_SCALE_EVENTS_H

#include <pthread.h>

#include "bench/benchlib.h"

struct watch {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	const char *sock; /* vmsupd's API socket */
	const char *vm;	  /* the VM watched */
	const char *want; /* QMP event name awaited for vm, NULL = none */
	double seen;	  /* when it arrived, 0 = not yet */
	double seen_rt;	  /* the same, CLOCK_REALTIME in ms (qemu stamps events with it) */
	int quit;
	int ended;
	char err[256];
};

/* The /v1/events reader (a thread; ends with the stream, or when quit is set). */
void *stream_thread(void *arg);
/* The stream is subscribed once an event of ours comes through it. */
int prime_stream(struct watch *w, const char *ops_sock, char **err);

/* st[0]: command -> line on /v1/events; st[1]: command -> qemu's stamp;
 * st[2]: qemu's stamp -> /v1/events; st[3]: qemu's stamp -> ops socket. */
#define EV_SPLITS 4
int event_latency(struct watch *w, const char *ops_sock, int rounds, struct bl_stats st[EV_SPLITS],
		  char **err);

#endif
