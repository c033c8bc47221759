#include "src/daemon/daemon.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "src/daemon/api.h"
#include "src/daemon/autostart.h"
#include "src/daemon/notify.h"
#include "src/util/dirlock.h"
#include "src/util/err.h"
#include "src/util/log.h"
#include "src/pool/pool.h"
#include "src/core/reattach.h"
#include "src/core/supervisor.h"
#include "src/console/vm-console.h"
#include "src/disk/vm-disk.h"
#include "src/files/vm-files.h"
#include "src/guest/vm-agent.h"
#include "src/limits/vm-limits.h"
#include "src/net/vm-bridge.h"
#include "src/metrics/vm-stats.h"
#include "src/snapshot/vm-template.h"

struct daemon {
	struct event_base *base;
	struct vm_console *console;
	struct vmsup *sup;
	struct vmsup_api *api;
	struct vm_limits *limits;
	struct vm_files_ctx *files;
	struct vmsup_stats stats;
	struct vm_pool *pool;
	int stopping;
	int lock_fd[2]; /* state_dir's and run_dir's vmsupd.lock */
	const struct vmsup_config *cfg;
};

/* ---- libevent's own messages (accept() failing, say) ---- */

/*
 * Through the daemon's logger, so they carry its prefix and stay JSON under
 * log_format = json; a budget per severity, since some repeat on every
 * turn of the loop (accept() with no descriptor left: EMFILE).
 */
#define LIBEVENT_LINES_PER_S 10

static struct vmsup_log_limit libevent_limit[4] = {
    {.what = "libevent", .per_s = LIBEVENT_LINES_PER_S},
    {.what = "libevent", .per_s = LIBEVENT_LINES_PER_S},
    {.what = "libevent", .per_s = LIBEVENT_LINES_PER_S},
    {.what = "libevent", .per_s = LIBEVENT_LINES_PER_S},
};

static enum vmsup_log_level libevent_level(int severity)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		return VMSUP_LOG_DEBUG;
	case EVENT_LOG_MSG:
		return VMSUP_LOG_INFO;
	case EVENT_LOG_WARN:
		return VMSUP_LOG_WARN;
	default:
		return VMSUP_LOG_ERROR;
	}
}

/* Called by libevent, which must not be called back from here. */
static void on_libevent_log(int severity, const char *msg)
{
	enum vmsup_log_level l = libevent_level(severity);

	vmsup_log_limited(&libevent_limit[l], l, msg);
}

/* Once a second: the count of a flood that has stopped goes out. */
static void on_log_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	for (int l = 0; l < 4; l++)
		vmsup_log_limit_flush(&libevent_limit[l], (enum vmsup_log_level)l);
}

/* ---- the pool's view of the other features ---- */

static void pool_balloon(struct vmsup *sup, struct vm *vm, long long mib, vm_pool_step_fn done,
			 void *arg)
{
	vm_limits_balloon(vm_limits_of(sup), vm, mib, done, arg);
}

static void pool_quota(struct vmsup *sup, struct vm *vm, int pct, vm_pool_step_fn done, void *arg)
{
	struct vm_cpu_change c = {.set_quota = true, .quota_pct = pct};

	vm_limits_cpu(vm_limits_of(sup), vm, &c, done, arg);
}

static const struct vm_pool_ops pool_ops = {
    .refreshed = vm_template_refreshed,
    .agent_of = vm_agent_of,
    .clock_by_date = vm_template_clock_by_date,
    .clock_learnt = vm_template_clock_learnt,
    .balloon = pool_balloon,
    .quota = pool_quota,
};

static const struct vm_module pool_module = {.name = VM_POOL_MODULE};

/*
 * The features, in the order the core calls them forward (teardown goes
 * in reverse): counters first, then limits (a cgroup before anything
 * runs), the agent, and templates last (a restore's refresh needs the
 * agent, and must be stopped before it on an exit).
 */
static int register_modules(struct daemon *d, char **err)
{
	if (vmsup_register(d->sup, &vm_stats_module, &d->stats) ||
	    vmsup_register(d->sup, &vm_limits_module, d->limits) ||
	    vmsup_register(d->sup, &vm_disk_module, NULL) ||
	    vmsup_register(d->sup, &vm_files_module, d->files) ||
	    vmsup_register(d->sup, &vm_bridge_module, NULL) ||
	    vmsup_register(d->sup, &vm_agent_module, NULL) ||
	    vmsup_register(d->sup, &vm_template_module, NULL))
		return vmsup_err(err, "too many modules");
	return 0;
}

static void on_all_stopped(void *arg)
{
	struct daemon *d = arg;

	LOG_I(NULL, "every VM stopped (on_exit = stop)");
	event_base_loopexit(d->base, NULL);
}

/* Time for the replies that fail the pending requests to go out. */
#define EXIT_FLUSH_MS 100

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	const struct timeval flush = {0, EXIT_FLUSH_MS * 1000};

	if (d->stopping++) {
		LOG_W(NULL, "signal %d again: %s", (int)sig,
		      d->cfg->on_exit_stop ? "still stopping VMs" : "already exiting");
		return;
	}
	vmsup_api_stop_accepting(d->api);
	vm_pool_stop(d->pool);
	if (d->cfg->on_exit_stop) {
		LOG_I(NULL, "signal %d: stopping every VM, then exiting (on_exit = stop)",
		      (int)sig);
		daemon_notify("STOPPING=1\nSTATUS=stopping %zu VMs (on_exit = stop)",
			      vmsup_count(d->sup));
		vmsup_shutdown(d->sup, on_all_stopped, d);
		return;
	}
	/* on_exit = keep: the VMs (pool members too) run on; the next daemon
	 * reattaches them, as after a kill -9, and replaces the pool's */
	LOG_I(NULL, "signal %d: exiting, VMs keep running (on_exit = keep)", (int)sig);
	daemon_notify("STOPPING=1\nSTATUS=exiting, %zu VMs keep running (on_exit = keep)",
		      vmsup_count(d->sup));
	vmsup_detach(d->sup);
	event_base_loopexit(d->base, &flush);
}

/* One daemon per state dir and per run dir (both, so that neither is
 * shared by two daemons; once if they are the same directory). */
static int lock_dirs(struct daemon *d, const struct vmsup_config *cfg, char **err)
{
	if ((d->lock_fd[0] = vmsup_dir_lock(cfg->state_dir, 0700, err)) < 0)
		return -1;
	if (!strcmp(cfg->state_dir, cfg->run_dir))
		return 0;
	if ((d->lock_fd[1] = vmsup_dir_lock(cfg->run_dir, 0755, err)) < 0)
		return -1;
	return 0;
}

int vmsup_serve(const struct vmsup_config *cfg, int ready_fd, char **err)
{
	struct daemon d = {.lock_fd = {-1, -1}, .cfg = cfg};
	struct event *sigterm = NULL, *sigint = NULL, *log_tick = NULL;
	const struct timeval one_s = {1, 0};
	struct sigaction ign = {.sa_handler = SIG_IGN};
	int ret = -1;

	vmsup_log_setup(cfg->log_level, cfg->log_format);
	/* before anything that acts on VMs (reattach, cgroups, the pool):
	 * a second daemon on these directories stops here, having done
	 * nothing */
	if (lock_dirs(&d, cfg, err))
		goto out;
	event_set_log_callback(on_libevent_log);
	/* a client that hangs up mid-reply must not kill the daemon */
	sigaction(SIGPIPE, &ign, NULL);
	d.base = event_base_new();
	if (!d.base) {
		vmsup_err(err, "event_base_new failed");
		goto out;
	}
	sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
	sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) || evsignal_add(sigint, NULL)) {
		vmsup_err(err, "cannot watch SIGTERM/SIGINT");
		goto out;
	}
	log_tick = event_new(d.base, -1, EV_PERSIST, on_log_tick, NULL);
	if (!log_tick || event_add(log_tick, &one_s)) {
		vmsup_err(err, "cannot add the log timer");
		goto out;
	}
	if (!(d.sup = vmsup_new(d.base, cfg, err)))
		goto out;
	{
		char *warn = NULL;
		if (vm_limits_new(&d.limits, cfg, &warn, err))
			goto out;
		if (warn)
			LOG_W(NULL, "%s", warn);
		free(warn);
	}
	if (!(d.files = vm_files_new(cfg, err)))
		goto out;
	vmsup_stats_init(&d.stats);
	vm_template_setup(vm_agent_of);
	if (register_modules(&d, err))
		goto out;
	/* after vmsup_new: the state dir, where the key may be generated, exists */
	vm_agent_setup(d.base, cfg);
	/* VMs of a previous run (even one ended by SIGKILL) carry on; after
	 * the limits and agent modules, whose hooks they go through */
	daemon_notify("STATUS=reattaching the VMs of the state dir");
	if (vm_reattach_all(d.sup, err))
		goto out;
	vm_reattach_settle(d.sup, 2000);
	vmsup_save_all_now(d.sup);
	/* after the reattach: it watches the logs of the VMs running now */
	if (!(d.console = vm_console_new(d.base, d.sup, err)))
		goto out;
	/* after the reattach: the pool's VMs of an earlier run are among its VMs */
	{
		char *perr = NULL;
		if (!(d.pool = vm_pool_new(d.sup, &pool_ops, &perr)) && perr) {
			*err = perr;
			goto out;
		}
	}
	if (d.pool && vmsup_register(d.sup, &pool_module, d.pool)) {
		vmsup_err(err, "too many modules");
		goto out;
	}
	vm_pool_start(d.pool);
	/* after the reattach: a VM that still runs is not started again */
	vm_autostart_all(d.sup);
	if (!(d.api = vmsup_api_new(d.base, d.sup, cfg->socket, cfg->api_group, err)))
		goto out;
	/* the API listens and every VM of an earlier run is back */
	daemon_notify("READY=1\nSTATUS=serving %zu VMs on %s", vmsup_count(d.sup), cfg->socket);
	if (ready_fd >= 0) {
		char c = 1;
		if (write(ready_fd, &c, 1) < 0) {
			/* the parent went away; serving on is still right */
		}
		close(ready_fd);
		ready_fd = -1;
	}
	event_base_dispatch(d.base);
	ret = 0;
	LOG_I(NULL, "exiting");
out:
	vmsup_api_free(d.api);
	vm_console_free(d.console);
	vm_pool_stop(d.pool);
	vmsup_free(d.sup);
	vm_pool_free(d.pool);	  /* after the VMs: their waiters call into it */
	vm_limits_free(d.limits); /* after the VMs: their QMP replies count into it */
	vm_files_free(d.files);	  /* after the VMs: their module context */
	vm_agent_teardown();
	if (sigterm)
		event_free(sigterm);
	if (sigint)
		event_free(sigint);
	if (log_tick)
		event_free(log_tick);
	on_log_tick(-1, 0, NULL);
	if (d.base)
		event_base_free(d.base);
	if (ready_fd >= 0)
		close(ready_fd);
	for (int i = 0; i < 2; i++)
		if (d.lock_fd[i] >= 0)
			close(d.lock_fd[i]);
	return ret;
}
