/*
 * The API listener out of descriptors: pause accepting instead of spinning.
 */
#ifndef VMSUP_ACCEPT_H
#define VMSUP_ACCEPT_H

#include <event2/event.h>
#include <event2/http.h>

struct accept_guard;

/* Watch bound's listener for accept() errors; NULL if out of memory. */
struct accept_guard *accept_guard_new(struct event_base *base, struct evhttp_bound_socket *bound);
void accept_guard_free(struct accept_guard *g);

/* How long accepting pauses after an error. */
#define ACCEPT_PAUSE_MS 100

#endif
