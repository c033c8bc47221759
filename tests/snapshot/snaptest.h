/*
 * What the snapshot tests and bench/restore all do around src/snapshot/snapshot.h:
 * a state directory and event loop, a template saved from a harness VM, a
 * VM restored from a state file. VMs are tests/lib/agent-harness.h guests.
 */
#ifndef TESTS_SNAPSHOT_SNAPTEST_H
#define TESTS_SNAPSHOT_SNAPTEST_H

#include <stdbool.h>
#include <event2/event.h>

#include "src/snapshot/snapshot.h"
#include "tests/lib/agent-harness.h"

/* A state directory (templates/ below it) and the loop everything runs on. */
struct st_env {
	char sdir[64];
	struct event_base *base;
	bool ignore_shared; /* saves and restores with x-ignore-shared (RAM in a shared file) */
};

/* 1 if qemu and the test guest ($VMSUP_GUEST_DIR) are there. */
int st_have_guest(void);
/* Make /tmp/vmsnap-WHAT-XXXXXX (0700) and the loop: 0, or -1 (message). */
int st_env_init(struct st_env *e, const char *what);
/* Remove the directory tree, free the loop. 0, or -1 if something stayed. */
int st_env_fini(struct st_env *e);

/* What a save or restore reported (snap_done_fn st_on_done, arg a st_res). */
struct st_res {
	int done;
	char err[1024];
	struct snap_stats st;
};
void st_on_done(const struct snap_stats *st, const char *err, void *arg);

/* What a refresh reported (snap_refresh_fn st_on_refresh, arg a st_refres). */
struct st_refres {
	int done;
	struct snap_refresh_result r;
};
void st_on_refresh(const struct snap_refresh_result *r, void *arg);

/*
 * Wait (up to 120 tries) until the guest's crng is initialised. Why: a
 * template saved before that makes every restored VM gather its own
 * entropy (slow, getrandom blocks), and the vmgenid reseed only happens
 * (and is only logged) on a ready crng. Nothing in the idle test guest asks
 * for randomness, so under TCG the crng only initialises minutes after
 * boot: a blocking read of /dev/random makes the kernel generate jitter
 * entropy at once (try_to_generate_entropy). 0, or -1 with *err.
 */
int st_wait_crng(struct th_guest *g, char **err);

/*
 * Save g as template NAME of e->sdir with snap_save (timeout_ms), its
 * devconfig made from g->vm.argv: *save gets the stats. 0, or -1 with
 * *err (malloc'd) and nothing left in the store.
 */
int st_save_template(struct st_env *e, struct th_guest *g, const char *name, unsigned timeout_ms,
		     struct st_res *save, char **err);

/*
 * A guest's options for a restore: base (may be NULL) with -incoming defer
 * and, if mac, the template's MAC; with fd >= 0 passed to qemu as 3.
 */
struct th_opts st_restore_opts(const struct th_opts *base, const char *mac, int fd);

/*
 * Start a guest prepared with st_restore_opts and snap_restore
 * state_path into it (through fd:3 if it was given one), resuming it once
 * loaded; *r reports the end. 0, or -1 with *err (malloc'd).
 */
int st_restore_begin(struct st_env *e, struct th_guest *g, const char *state_path,
		     unsigned timeout_ms, struct st_res *r, char **err);

#endif
