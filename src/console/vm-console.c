#include "src/console/vm-console.h"

#include <errno.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "src/console/console-log.h"
#include "src/core/supervisor.h"
#include "src/util/err.h"
#include "src/util/log.h"

/* One VM whose qemu runs and writes its console log. */
struct clog {
	char *name; /* the VM's */
	char *path; /* its console.log */
	char *dir;  /* the directory watched: where qemu writes it */
	int wd;	    /* the watch, while armed */
	bool armed; /* a write in dir has not been seen since it was armed */
	bool dirty; /* written to: look at its size at the next check */
	struct clog *next;
};

struct vm_console {
	struct vmsup *sup;
	int ifd; /* inotify */
	struct event *ev, *check;
	int sub;
	off_t threshold;
	struct clog *logs;
};

/* One-shot: a log's first write wakes the loop once; the check re-arms it. */
static void arm(struct vm_console *c, struct clog *l)
{
	l->wd = c->ifd >= 0 ? inotify_add_watch(c->ifd, l->dir, IN_MODIFY | IN_ONESHOT) : -1;
	l->armed = l->wd >= 0;
	if (!l->armed) {
		/* not made yet (a VM starting): tried again at the next check;
		 * without inotify, every check looks at every log */
		if (c->ifd >= 0 && errno != ENOENT)
			LOG_W(l->name, "console log %s not watched: %s", l->path, strerror(errno));
		l->dirty = true;
	}
}

static void clog_free(struct vm_console *c, struct clog *l)
{
	if (l->armed)
		inotify_rm_watch(c->ifd, l->wd);
	free(l->name);
	free(l->path);
	free(l->dir);
	free(l);
}

static void schedule_check(struct vm_console *c);

static void on_check(evutil_socket_t fd, short what, void *arg)
{
	struct vm_console *c = arg;

	bool again = false;

	(void)fd;
	(void)what;
	for (struct clog *l = c->logs; l; l = l->next) {
		char *err = NULL;

		if (!l->dirty)
			continue;
		l->dirty = false;
		/* armed again first: a write while the size is read wakes us */
		if (!l->armed)
			arm(c, l);
		again |= !l->armed;
		if (console_log_rotate(l->path, c->threshold, &err) < 0)
			LOG_W(l->name, "console log not rotated: %s", err);
		free(err);
	}
	if (again) /* a watch that could not be set: polled as before */
		schedule_check(c);
}

static void schedule_check(struct vm_console *c)
{
	const struct timeval tv = {0, VM_CONSOLE_CHECK_MS * 1000};

	if (!evtimer_pending(c->check, NULL))
		evtimer_add(c->check, &tv);
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct vm_console *c = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	(void)what;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const struct inotify_event *)p;

			/* IN_MODIFY (the one-shot fired) or IN_IGNORED (it is gone):
			 * either way the watch is spent */
			for (struct clog *l = c->logs; l; l = l->next)
				if (l->armed && l->wd == e->wd) {
					l->armed = false;
					l->dirty = true;
				}
			p += sizeof(*e) + e->len;
		}
		schedule_check(c);
	}
}

static struct clog *find(struct vm_console *c, const char *name, struct clog ***prev)
{
	struct clog **pp;

	for (pp = &c->logs; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name))
			break;
	if (prev)
		*prev = pp;
	return *pp;
}

/* Watched while its qemu runs; a log without a qemu writing it does not
 * grow: it is kept as it is for vmctl logs until the VM is destroyed. */
static void follow(struct vm_console *c, const char *name)
{
	struct vm *vm = vmsup_find(c->sup, name);
	struct clog **pp, *l = find(c, name, &pp);
	char *d;

	if (!vm || !vm->console_log || !vm_state_has_process(vm->state)) {
		if (l) {
			*pp = l->next;
			clog_free(c, l);
		}
		return;
	}
	if (l)
		return;
	if (!(l = calloc(1, sizeof(*l))) || !(l->name = strdup(name)) ||
	    !(l->path = strdup(vm->console_log)) || !(d = strdup(vm->console_log))) {
		if (l) {
			free(l->name);
			free(l->path);
		}
		free(l);
		LOG_W(name, "console log not watched: out of memory");
		return;
	}
	l->dir = strdup(dirname(d));
	free(d);
	if (!l->dir) {
		clog_free(c, l);
		return;
	}
	arm(c, l);
	l->dirty = true; /* what it wrote before the watch */
	l->next = c->logs;
	c->logs = l;
	schedule_check(c);
}

static void on_event(struct json_object *ev, void *arg)
{
	struct json_object *v;

	if (json_object_object_get_ex(ev, "type", &v) &&
	    !strcmp(json_object_get_string(v), "state") && json_object_object_get_ex(ev, "vm", &v))
		follow(arg, json_object_get_string(v));
}

struct vm_console *vm_console_new(struct event_base *base, struct vmsup *sup, char **err)
{
	struct vm_console *c = calloc(1, sizeof(*c));

	if (!c) {
		vmsup_err(err, "out of memory");
		return NULL;
	}
	c->sup = sup;
	c->sub = -1;
	/* rotate with a quarter of the cap to spare for the next check */
	c->threshold = (off_t)vmsup_config(sup)->console_log_max / 4 * 3;
	/* out of inotify instances (fs.inotify.max_user_instances): the logs
	 * are polled, as the timer did before inotify */
	if ((c->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC)) < 0)
		LOG_W(NULL, "inotify: %s: console logs looked at every %d ms", strerror(errno),
		      VM_CONSOLE_CHECK_MS);
	else if (!(c->ev = event_new(base, c->ifd, EV_READ | EV_PERSIST, on_inotify, c)) ||
		 event_add(c->ev, NULL)) {
		vmsup_err(err, "cannot watch the console logs");
		vm_console_free(c);
		return NULL;
	}
	c->check = evtimer_new(base, on_check, c);
	if (!c->check || (c->sub = vmsup_subscribe(sup, NULL, on_event, c)) < 0) {
		vmsup_err(err, "cannot watch the console logs");
		vm_console_free(c);
		return NULL;
	}
	for (struct vm *vm = vmsup_first(sup); vm; vm = vm->next)
		follow(c, vm->spec.name);
	return c;
}

void vm_console_free(struct vm_console *c)
{
	if (!c)
		return;
	if (c->sub >= 0)
		vmsup_unsubscribe(c->sup, c->sub);
	while (c->logs) {
		struct clog *l = c->logs;

		c->logs = l->next;
		clog_free(c, l);
	}
	if (c->ev)
		event_free(c->ev);
	if (c->check)
		event_free(c->check);
	if (c->ifd >= 0)
		close(c->ifd);
	free(c);
}
