/* The pool's private state, shared by pool.c (members, filling) and
 * pool-take.c (handing a VM out). */
#ifndef VMSUP_POOL_INTERNAL_H
#define VMSUP_POOL_INTERNAL_H

#include <stdbool.h>

#include <event2/event.h>

#include "src/pool/pool.h"

#define READY_POLL_MS	 20
#define CONT_TIMEOUT_MS	 10000 /* a take's cont: qemu answers at once */
#define FILL_TIMEOUT_MS	 180000.0
#define RETRY_MISSING_MS 2000
#define RETRY_FAILED_MS	 10000
#define POOL_NAME_PREFIX "pool-"
#define REFILL_DELAY_MS	 500 /* after a take: the task starts before a restore competes */

enum m_state { M_CREATING, M_REFRESHING, M_PAUSING, M_READY };
static const char *const m_state_names[] = {"creating", "refreshing", "pausing", "ready"};

struct member {
	struct vm_pool *p;
	char name[32];
	enum m_state st;
	bool dead; /* left the pool: freed by reap() */
	double t0, ready_ms;
	struct event *poll; /* waiting for the post-restore refresh */
	struct member *next;
};

struct vm_pool_take {
	struct vm_pool *p;
	vmsup_done_fn done; /* NULL once replied or detached */
	void *arg;
	bool detached, finished;
	char name[32];
	uid_t owner;
	bool owned;	     /* owner set and its save queued (take_own) */
	struct waiter *held; /* the reply, waiting for the owner on disk */
	bool hit;
	int step;
	long long mem_mib; /* 0 = as is */
	int quota_pct;	   /* 0 = as is */
	char *share;	   /* host dir bound into the VM at the same path, or NULL */
	int share_fd;	   /* ... as the caller's check opened it (-1: none) */
	bool share_ro;
	struct event *wait; /* a just restored VM: its agent and refresh */
	double t0;
	struct snap_refresh *clock;
	bool clock_set, clock_by_date, clock_date_failed;
	double skew_ms;
	char clock_error[400];
	struct vm_pool_take *next;
};

struct vm_pool {
	struct vmsup *sup;
	const struct vm_pool_ops *ops;
	int sub; /* bus: templates saved */
	struct event_base *base;
	char *tmpl;
	unsigned size;
	struct member *members;
	struct vm_pool_take *takes;
	struct event *retry, *reaper;
	char *mark_dir; /* STATE_DIR/pool: a file per member, for a later daemon */
	bool stopped, waiting_template;
	/* the template's files are not what was saved (TemplateDamaged): no
	 * refill until it is saved or verified again */
	bool damaged;
	bool template_ok; /* a restore from it has passed the checks */
	char last_error[512];
	unsigned long filled, hits, misses, failures;
};

double pool_now_ms(void);
void pool_take_free(struct vm_pool_take *t);
/* Destroy a VM of the pool's making (no reply wanted). */
void pool_destroy_vm(struct vm_pool *p, const char *name);
/* Free dead members and finished takes, then refill, on the next turn. */
void pool_reap_soon(struct vm_pool *p);
/* The VM is no longer a member (its mark in STATE_DIR/pool goes). */
void pool_unmark(const struct vm_pool *p, const char *name);
int pool_random_name(struct vm_pool *p, char *buf, size_t len);
/* Restore a VM from the template as name; done when it runs. */
void pool_create_from_template(struct vm_pool *p, const char *name, vmsup_done_fn done, void *arg);

#endif
