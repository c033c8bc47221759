/*
 * Private to reattach: the watch on an adopted qemu and the helpers the
 * exit watch (reattach-watch.c), its QMP reconnection (reattach-qmp.c) and
 * reading the state files back (reattach.c) share. The interface is reattach.h.
 */
#ifndef VMSUP_REATTACH_INTERNAL_H
#define VMSUP_REATTACH_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include <event2/event.h>

#include "src/core/reattach.h"

struct watch {
	struct vm *vm;
	int pidfd;		 /* -1: polling /proc instead */
	struct event *ev;	 /* pidfd readable, or the poll timer */
	struct event *qmp_retry; /* reconnect after a failed handshake */
	bool resume;		 /* the old daemon died mid-start: finish it (cont) */
	double t0;		 /* reattach began (log) */
};

/* reattach-watch.c */
/* CLOCK_MONOTONIC in seconds. */
double reattach_now_mono(void);
/* The adopted qemu exited: release the watch and tell the supervisor (may free vm). */
void reattach_gone(struct vm *vm);

/* reattach-qmp.c: (re)connect the supervisor's QMP session to an adopted qemu. */
void reattach_qmp_connect_again(struct vm *vm);

#endif
