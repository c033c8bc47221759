/*
 * The state files' writer: one thread that does the write, fsync, rename
 * and directory fsync of each state file (or its removal), so the event
 * loop never waits on the disk. The loop serialises the VM (the struct is
 * the loop's) and hands the text over; each finished write comes back to
 * the loop through a pipe, where the caller learns its outcome.
 */
#ifndef VMSUP_STATEWRITER_H
#define VMSUP_STATEWRITER_H

#include <stdint.h>

#include <event2/event.h>

struct statewriter;

/* On the loop, once the file of VM name is as new as write seq (err: NULL,
 * or why it is not on disk; a later write of the same name may follow). */
typedef void (*statewriter_done_fn)(const char *name, uint64_t seq, const char *err, void *arg);

struct statewriter *statewriter_new(struct event_base *base, const char *dir,
				    statewriter_done_fn done, void *arg, char **err);
/* Queue dir/name.json to hold data (taken over; NULL: remove the file).
 * A write of the same name still queued is replaced, not repeated.
 * Returns its sequence number (> 0), or 0 out of memory. */
uint64_t statewriter_put(struct statewriter *sw, const char *name, char *data);
/* The newest queued or running write of name, 0 when none: its file on disk is current. */
uint64_t statewriter_pending(struct statewriter *sw, const char *name);
/* Block until every queued write is done (start-up, before serving);
 * their reports still come through the loop. */
void statewriter_drain(struct statewriter *sw);
/* Drain the queue (daemon exit), report what is left, stop the thread. */
void statewriter_free(struct statewriter *sw);

#endif
