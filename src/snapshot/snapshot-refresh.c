/* After a restore: set the guest clock and reseed the guest RNG (see snapshot.h). */
#include "src/snapshot/snapshot.h"
#include "src/snapshot/snapshot-internal.h"
#include "src/util/b64.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define SEED_MAX 4096

struct snap_refresh {
	struct event_base *base;
	struct agent *a;
	snap_refresh_fn done;
	void *arg;
	unsigned char seed[SEED_MAX];
	size_t seed_len;
	int pending, finished, step;
	int by_date;	  /* try a relative `date -s` before guest-set-time */
	int64_t t_ask_ns; /* host clock when guest-get-time was sent */
	int64_t handle;	  /* guest-file-open's, of /dev/urandom */
	struct snap_refresh_result r;
	struct timespec t0;
	double t_mark;		       /* since t0, when the last step ended */
	char hostname[64];	       /* "" = no identity step */
	char mac_from[18], mac_to[18]; /* "" = the NIC keeps its MAC */
};

/*
 * Runs in the guest as root through guest-exec, after the reseed (so the
 * ids and keys come from fresh entropy). POSIX sh for busybox and bash.
 * machine-id: written in place (on systemd it may be a bind mount from
 * /run); processes that cached the old one (journald) keep it until they
 * restart. dropbear (test guest, -R): a listener started without keys (as
 * at boot) makes them in each connection's process from the files, or
 * anew when they are gone; so removing them is enough. openssh:
 * ssh-keygen -A, then SIGHUP re-execs the listener.
 * The MAC ($2 -> $3, a clone on a bridge): virtio-net lets the guest set
 * it (qemu's device takes it over for its receive filter). The template's
 * address goes with its MAC (it is the template's lease). The DHCP client
 * read the old one (and made its client id of it) when it started, so it
 * is started again with its own command line: busybox udhcpc or dhclient
 * (its stdio away from the agent's pipes, which guest-exec waits on);
 * systemd-networkd is restarted (its client id comes from the machine-id
 * just renewed).
 */
static const char identity_script[] =
    "set -e\n"
    "n=$1\n"
    "id=$(tr -d '-' </proc/sys/kernel/random/uuid)\n"
    "printf '%s\\n' \"$id\" >/etc/machine-id\n"
    "hostname \"$n\"\n"
    "printf '%s\\n' \"$n\" >/etc/hostname\n"
    "if [ -d /etc/dropbear ]; then\n"
    "  rm -f /etc/dropbear/dropbear_*_host_key\n"
    "fi\n"
    "if ls /etc/ssh/ssh_host_*_key >/dev/null 2>&1; then\n"
    "  rm -f /etc/ssh/ssh_host_*_key /etc/ssh/ssh_host_*_key.pub\n"
    "  ssh-keygen -A >/dev/null\n"
    "  p=$(cat /run/sshd.pid 2>/dev/null || true)\n"
    "  [ -z \"$p\" ] || kill -HUP \"$p\" 2>/dev/null || true\n"
    "fi\n"
    "[ -n \"${2:-}\" ] || exit 0\n"
    "for d in /sys/class/net/*; do\n"
    "  [ \"$(cat \"$d/address\" 2>/dev/null)\" = \"$2\" ] || continue\n"
    "  i=${d##*/}\n"
    "  ip -4 addr flush dev \"$i\"\n"
    "  ip link set dev \"$i\" address \"$3\"\n"
    "  for p in /proc/[0-9]*; do\n"
    "    read -r c <\"$p/comm\" 2>/dev/null || continue\n"
    "    case $c in udhcpc | dhclient) ;; *) continue ;; esac\n"
    "    a=$(tr '\\0' ' ' <\"$p/cmdline\") || continue\n"
    "    case \" $a \" in *\" $i \"*) ;; *) continue ;; esac\n"
    "    kill \"${p#/proc/}\" || continue\n"
    "    k=0\n"
    "    while [ -d \"$p\" ] && [ $k -lt 50 ]; do sleep 0.1; k=$((k + 1)); done\n"
    "    $a </dev/null >/dev/null 2>&1 &\n"
    "  done\n"
    "  if [ -d /run/systemd/netif ]; then systemctl restart systemd-networkd; fi\n"
    "done\n";

const char *snap_identity_script(void)
{
	return identity_script;
}

static int64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double since_ms(const struct timespec *t0)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec - t0->tv_sec) * 1e3 + (ts.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The step that just ended took since the last mark: add it to *slot. */
static void mark(struct snap_refresh *f, double *slot)
{
	double now = since_ms(&f->t0);

	*slot += now - f->t_mark;
	f->t_mark = now;
}

static void release(struct snap_refresh *f)
{
	if (f->finished && !f->pending) {
		explicit_bzero(f->seed, sizeof(f->seed));
		free(f);
	}
}

static void finish(struct snap_refresh *f)
{
	if (f->finished)
		return;
	f->finished = 1;
	f->r.wall_ms = since_ms(&f->t0);
	if (f->done)
		f->done(&f->r, f->arg);
	release(f);
}

/*
 * The steps, in order. The clock: qemu-ga's guest-set-time sets it and then
 * runs `hwclock -w`, which with util-linux waits for the RTC's next second
 * (0.3 to 2 s measured in the Debian guest under TCG): longer than all the
 * rest of a pool take. So where asked, the guest's offset is measured first
 * (guest-get-time, no process) and taken out by a relative `date -s` (GNU
 * date reads "now" itself, so the time spent starting it does not count);
 * a date that cannot (busybox) falls back to guest-set-time.
 * Right after a restore the clock step is slow for another reason: it
 * starts the guest's first process, and a new qemu translates every
 * guest code path afresh under TCG. Whichever process comes first pays
 * that (bench/clock-first, n=9: guest-set-time first 113-349 ms, after
 * one `exec true` 18-60 ms; `hwclock -w` costs ~14 ms more than `true`
 * once warm), so moving the clock step later would hand the cost to the
 * identity script or the user's first command, not remove it: it stays
 * first.
 * The reseed: the seed written to /dev/urandom by guest-file-open, -write
 * and -close, three agent round trips and no process in the guest; a
 * guest-exec of cat (fork, exec, and guest-exec-status polls until it
 * ends) took several times as long under TCG (bench/results.md). An agent
 * that refuses guest-file-open (disabled RPCs) gets the cat.
 */
enum {
	S_SKEW,
	S_DATE,
	S_SET_TIME,
	S_SEED,
	S_SEED_WRITE,
	S_SEED_CLOSE,
	S_SEED_EXEC, /* just before S_IDENTITY: on_exec steps on */
	S_IDENTITY,
	S_CHECK
};

static void next(struct snap_refresh *f);

static double ask_skew_ms(const struct snap_refresh *f, struct json_object *ret)
{
	int64_t mid = f->t_ask_ns + (realtime_ns() - f->t_ask_ns) / 2;
	return (double)(json_object_get_int64(ret) - mid) / 1e6;
}

static void on_reply(struct qmp_session *s, struct json_object *ret, const struct qmp_error *err,
		     void *arg)
{
	struct snap_refresh *f = arg;
	struct json_object *c;
	(void)s;

	f->pending--;
	if (f->finished) {
		release(f);
		return;
	}
	switch (f->step) {
	case S_SKEW: /* no reading: guest-set-time, which needs none */
		if (err || !ret)
			f->step = S_SET_TIME;
		else {
			f->r.skew_ms = ask_skew_ms(f, ret);
			f->step = S_DATE;
		}
		next(f);
		return;
	case S_SET_TIME:
		mark(f, &f->r.clock_ms);
		f->r.time_set = !err;
		f->r.time_error[0] = '\0';
		if (err)
			snprintf(f->r.time_error, sizeof(f->r.time_error), "%s: %s", err->cls,
				 err->desc);
		f->step = S_SEED;
		next(f);
		return;
	case S_SEED:
		if (err || !ret)
			f->step = S_SEED_EXEC;
		else {
			f->handle = json_object_get_int64(ret);
			f->step = S_SEED_WRITE;
		}
		next(f);
		return;
	case S_SEED_WRITE: /* close the handle whatever happened */
		if (err)
			snprintf(f->r.seed_error, sizeof(f->r.seed_error),
				 "guest-file-write: %s: %s", err->cls, err->desc);
		else if (!json_object_object_get_ex(ret, "count", &c) ||
			 json_object_get_int64(c) != (int64_t)f->seed_len)
			snprintf(f->r.seed_error, sizeof(f->r.seed_error),
				 "guest-file-write took %s of %zu bytes",
				 json_object_to_json_string(ret), f->seed_len);
		f->step = S_SEED_CLOSE;
		next(f);
		return;
	case S_SEED_CLOSE: /* the bytes are flushed by the close: only now in */
		mark(f, &f->r.seed_ms);
		if (err && !f->r.seed_error[0])
			snprintf(f->r.seed_error, sizeof(f->r.seed_error),
				 "guest-file-close: %s: %s", err->cls, err->desc);
		f->r.reseeded = !f->r.seed_error[0];
		f->r.seed_bytes = f->r.reseeded ? f->seed_len : 0;
		explicit_bzero(f->seed, sizeof(f->seed));
		f->step = S_IDENTITY;
		next(f);
		return;
	default: /* S_CHECK: guest minus host at the reply's midpoint */
		mark(f, &f->r.check_ms);
		if (err || !ret) {
			if (!f->r.time_error[0])
				snprintf(f->r.time_error, sizeof(f->r.time_error),
					 "guest-get-time: %s: %s", err ? err->cls : "",
					 err ? err->desc : "no value");
			f->r.time_set = 0;
		} else
			f->r.skew_ms = ask_skew_ms(f, ret);
		finish(f);
	}
}

/* The date (S_DATE), the reseed (S_SEED) or the identity script ended. */
static void on_exec(const struct gexec_result *res, const struct qmp_error *err, void *arg)
{
	struct snap_refresh *f = arg;
	int seed = f->step == S_SEED_EXEC;
	char *e = seed ? f->r.seed_error : f->r.identity_error;
	size_t elen = seed ? sizeof(f->r.seed_error) : sizeof(f->r.identity_error);

	f->pending--;
	if (f->finished) {
		release(f);
		return;
	}
	mark(f, f->step == S_DATE ? &f->r.clock_ms : seed ? &f->r.seed_ms : &f->r.identity_ms);
	if (f->step == S_DATE) {
		f->r.time_set = f->r.clock_by_date = !err && res->status == 0;
		f->r.date_failed = !f->r.time_set;
		f->step = f->r.time_set ? S_SEED : S_SET_TIME;
		next(f);
		return;
	}
	if (err)
		snprintf(e, elen, "%s: %s", err->cls, err->desc);
	else if (res->status != 0)
		snprintf(e, elen, "%s in the guest failed (status %d): %.*s",
			 seed ? "writing /dev/urandom" : "renewing the identity", res->status,
			 (int)(res->err_len > 160 ? 160 : res->err_len),
			 res->err ? (const char *)res->err : "");
	else if (seed)
		f->r.reseeded = 1;
	else
		f->r.identity = 1;
	if (seed) {
		f->r.seed_bytes = f->r.reseeded ? f->seed_len : 0;
		explicit_bzero(f->seed, sizeof(f->seed));
	}
	f->step++;
	next(f);
}

/* Queue an agent command for this step; 0, or -1 with its error noted. */
static int call(struct snap_refresh *f, const char *cmd, struct json_object *args)
{
	struct qmp_error err = {0};
	int seed = f->step >= S_SEED && f->step <= S_SEED_CLOSE;
	char *e = seed ? f->r.seed_error : f->r.time_error;
	size_t elen = seed ? sizeof(f->r.seed_error) : sizeof(f->r.time_error);

	if (f->step == S_SKEW || f->step == S_CHECK)
		f->t_ask_ns = realtime_ns();
	f->pending++;
	if (agent_call(f->a, cmd, args, 0, on_reply, f, &err) >= 0)
		return 0;
	f->pending--;
	snprintf(e, elen, "%s: %s: %s", cmd, err.cls, err.desc);
	return -1;
}

/* Start a guest-exec for this step; 0, or -1 with its error in e. */
static int spawn(struct snap_refresh *f, const char *const *argv, const void *in, size_t len,
		 unsigned timeout_ms, char *e, size_t elen)
{
	struct qmp_error err = {0};

	f->pending++;
	if (agent_exec(f->a, argv, in, len, timeout_ms, on_exec, f, &err))
		return 0;
	f->pending--;
	if (e)
		snprintf(e, elen, "%s: %s", err.cls, err.desc);
	return -1;
}

static void next(struct snap_refresh *f)
{
	/* cat, not dd: no block-size arithmetic, and every byte of stdin is written */
	static const char *const seed_argv[] = {"/bin/sh", "-c", "exec cat > /dev/urandom", NULL};
	const char *const id_argv[] = {
	    "/bin/sh",	      "-c",	   snap_identity_script(),
	    "vmsup-identity", f->hostname, f->mac_from[0] ? f->mac_from : NULL,
	    f->mac_to,	      NULL};
	char rel[64];
	const char *const date_argv[] = {"date", "-u", "-s", rel, NULL};
	struct json_object *a;
	char *b64;

	for (;;) {
		switch (f->step) {
		case S_SKEW:
			if (f->by_date && !call(f, "guest-get-time", NULL))
				return;
			f->step = S_SET_TIME;
			break;
		case S_DATE:
			snprintf(rel, sizeof(rel), "%+.9f seconds", -f->r.skew_ms / 1e3);
			if (!spawn(f, date_argv, NULL, 0, 30000, NULL, 0))
				return;
			f->step = S_SET_TIME;
			break;
		case S_SET_TIME:
			a = json_object_new_object();
			json_object_object_add(a, "time", json_object_new_int64(realtime_ns()));
			if (!call(f, "guest-set-time", a))
				return;
			f->step = S_SEED;
			break;
		case S_SEED:
			if (!f->seed_len) {
				f->step = S_IDENTITY;
				break;
			}
			a = json_object_new_object();
			json_object_object_add(a, "path", json_object_new_string("/dev/urandom"));
			json_object_object_add(a, "mode", json_object_new_string("w"));
			if (!call(f, "guest-file-open", a))
				return;
			f->r.seed_error[0] = '\0';
			f->step = S_SEED_EXEC;
			break;
		case S_SEED_WRITE:
			if (!(b64 = b64_encode(f->seed, f->seed_len))) {
				snprintf(f->r.seed_error, sizeof(f->r.seed_error), "out of memory");
				f->step = S_SEED_CLOSE;
				break;
			}
			a = json_object_new_object();
			json_object_object_add(a, "handle", json_object_new_int64(f->handle));
			json_object_object_add(a, "buf-b64", json_object_new_string(b64));
			explicit_bzero(b64, strlen(b64));
			free(b64);
			if (!call(f, "guest-file-write", a))
				return;
			f->step = S_SEED_CLOSE;
			break;
		case S_SEED_CLOSE:
			a = json_object_new_object();
			json_object_object_add(a, "handle", json_object_new_int64(f->handle));
			if (!call(f, "guest-file-close", a))
				return;
			f->r.reseeded = 0;
			explicit_bzero(f->seed, sizeof(f->seed));
			f->step = S_IDENTITY;
			break;
		case S_SEED_EXEC:
			f->r.seed_by_exec = 1;
			if (!spawn(f, seed_argv, f->seed, f->seed_len, 30000, f->r.seed_error,
				   sizeof(f->r.seed_error)))
				return;
			f->step = S_IDENTITY;
			break;
		case S_IDENTITY:
			if (f->hostname[0] &&
			    !spawn(f, id_argv, NULL, 0, 60000, f->r.identity_error,
				   sizeof(f->r.identity_error)))
				return;
			f->step = S_CHECK;
			break;
		default:
			if (call(f, "guest-get-time", NULL) < 0) {
				f->r.time_set = 0;
				finish(f);
			}
			return;
		}
	}
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
	struct snap_refresh *f = arg;
	(void)fd, (void)what;

	f->pending--;
	if (f->finished)
		release(f);
	else
		next(f);
}

struct snap_refresh *snap_refresh(struct event_base *base, struct agent *a, size_t seed_bytes,
				  const char *hostname, snap_refresh_fn done, void *arg, char **err)
{
	struct snap_refresh *f;
	struct timeval tv = {0, 0};
	size_t got = 0;

	if (agent_state(a) != AGENT_READY) {
		snap_seterr(err, "the guest agent is not ready");
		return NULL;
	}
	if (seed_bytes == SNAP_REFRESH_NO_SEED)
		seed_bytes = 0;
	else if (!seed_bytes)
		seed_bytes = 64;
	if (seed_bytes > SEED_MAX) {
		snap_seterr(err, "seed of %zu bytes is larger than %d", seed_bytes, SEED_MAX);
		return NULL;
	}
	if (!(f = calloc(1, sizeof(*f)))) {
		snap_seterr(err, "out of memory");
		return NULL;
	}
	f->base = base;
	f->a = a;
	f->done = done;
	f->arg = arg;
	f->seed_len = seed_bytes;
	if (hostname)
		snprintf(f->hostname, sizeof(f->hostname), "%s", hostname);
	clock_gettime(CLOCK_MONOTONIC, &f->t0);
	while (got < seed_bytes) {
		ssize_t n = getrandom(f->seed + got, seed_bytes - got, 0);
		if (n <= 0) {
			snap_seterr(err, "getrandom failed");
			free(f);
			return NULL;
		}
		got += (size_t)n;
	}
	f->pending++;
	if (event_base_once(base, -1, EV_TIMEOUT, on_start, f, &tv) < 0) {
		explicit_bzero(f->seed, sizeof(f->seed));
		free(f);
		snap_seterr(err, "out of memory");
		return NULL;
	}
	return f;
}

struct snap_refresh *snap_refresh_clock(struct event_base *base, struct agent *a, int by_date,
					snap_refresh_fn done, void *arg, char **err)
{
	struct snap_refresh *f = snap_refresh(base, a, SNAP_REFRESH_NO_SEED, NULL, done, arg, err);

	if (f)
		snap_refresh_set_by_date(f, by_date);
	return f;
}

void snap_refresh_set_by_date(struct snap_refresh *f, int by_date)
{
	/* its first step waits for the event loop: not begun yet */
	f->by_date = by_date;
}

void snap_refresh_set_mac(struct snap_refresh *f, const char *from, const char *to)
{
	snprintf(f->mac_from, sizeof(f->mac_from), "%s", from);
	snprintf(f->mac_to, sizeof(f->mac_to), "%s", to);
}

void snap_refresh_cancel(struct snap_refresh *f)
{
	if (!f || f->finished)
		return;
	f->finished = 1;
	release(f);
}
