#include "src/core/statewriter.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/core/statefile.h"
#include "src/util/err.h"

struct job {
	char *name;
	char *data; /* NULL: remove */
	uint64_t seq;
	char *err;
	struct job *next;
};

struct statewriter {
	char *dir;
	statewriter_done_fn done;
	void *arg;
	int pipe[2];
	struct event *ev;
	pthread_t thread;
	bool started;
	uint64_t seq; /* the last one given out (the loop's only) */
	/* under lock: */
	pthread_mutex_t lock;
	pthread_cond_t work;	/* a job queued, or stop */
	pthread_cond_t settled; /* a job done (statewriter_drain) */
	struct job *queue, **queue_tail;
	struct job *running;
	struct job *finished, **finished_tail;
	bool stop;
};

static void job_free(struct job *j)
{
	free(j->name);
	free(j->data);
	free(j->err);
	free(j);
}

static void *writer_main(void *arg)
{
	struct statewriter *sw = arg;
	struct job *j;

	pthread_mutex_lock(&sw->lock);
	for (;;) {
		while (!sw->queue && !sw->stop)
			pthread_cond_wait(&sw->work, &sw->lock);
		if (!(j = sw->queue))
			break;
		if (!(sw->queue = j->next))
			sw->queue_tail = &sw->queue;
		j->next = NULL;
		sw->running = j;
		pthread_mutex_unlock(&sw->lock);
		vm_statefile_store(sw->dir, j->name, j->data, &j->err);
		pthread_mutex_lock(&sw->lock);
		sw->running = NULL;
		*sw->finished_tail = j;
		sw->finished_tail = &j->next;
		pthread_cond_broadcast(&sw->settled);
		/* one byte wakes the loop, which takes every finished job; a
		 * full pipe already has one waiting */
		(void)!write(sw->pipe[1], "", 1);
	}
	pthread_mutex_unlock(&sw->lock);
	return NULL;
}

/* Report the finished jobs, in the order they were done. */
static void deliver(struct statewriter *sw)
{
	struct job *list;

	pthread_mutex_lock(&sw->lock);
	list = sw->finished;
	sw->finished = NULL;
	sw->finished_tail = &sw->finished;
	pthread_mutex_unlock(&sw->lock);
	while (list) {
		struct job *j = list;
		list = j->next;
		sw->done(j->name, j->seq, j->err, sw->arg);
		job_free(j);
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	char buf[256];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	deliver(arg);
}

struct statewriter *statewriter_new(struct event_base *base, const char *dir,
				    statewriter_done_fn done, void *arg, char **err)
{
	struct statewriter *sw = calloc(1, sizeof(*sw));
	sigset_t all, old;
	int rc;

	if (!sw || !(sw->dir = strdup(dir))) {
		free(sw);
		vmsup_err(err, "out of memory");
		return NULL;
	}
	sw->done = done;
	sw->arg = arg;
	sw->queue_tail = &sw->queue;
	sw->finished_tail = &sw->finished;
	pthread_mutex_init(&sw->lock, NULL);
	pthread_cond_init(&sw->work, NULL);
	pthread_cond_init(&sw->settled, NULL);
	sw->pipe[0] = sw->pipe[1] = -1;
	if (pipe2(sw->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		vmsup_err(err, "state file writer: pipe: %s", strerror(errno));
		goto fail;
	}
	sw->ev = event_new(base, sw->pipe[0], EV_READ | EV_PERSIST, on_wake, sw);
	if (!sw->ev || event_add(sw->ev, NULL) < 0) {
		vmsup_err(err, "state file writer: cannot watch its pipe");
		goto fail;
	}
	/* signals stay the loop's (SIGCHLD, SIGTERM) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&sw->thread, NULL, writer_main, sw);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		vmsup_err(err, "state file writer: thread: %s", strerror(rc));
		goto fail;
	}
	sw->started = true;
	return sw;
fail:
	statewriter_free(sw);
	return NULL;
}

uint64_t statewriter_put(struct statewriter *sw, const char *name, char *data)
{
	struct job *j;
	uint64_t seq = ++sw->seq;

	pthread_mutex_lock(&sw->lock);
	for (j = sw->queue; j; j = j->next)
		if (!strcmp(j->name, name))
			break;
	if (j) {
		/* not started yet: the newest text is all that needs writing */
		free(j->data);
		j->data = data;
		j->seq = seq;
		pthread_mutex_unlock(&sw->lock);
		return seq;
	}
	pthread_mutex_unlock(&sw->lock);
	if (!(j = calloc(1, sizeof(*j))) || !(j->name = strdup(name))) {
		free(j);
		free(data);
		return 0;
	}
	j->data = data;
	j->seq = seq;
	pthread_mutex_lock(&sw->lock);
	*sw->queue_tail = j;
	sw->queue_tail = &j->next;
	pthread_cond_signal(&sw->work);
	pthread_mutex_unlock(&sw->lock);
	return seq;
}

/* under lock */
static uint64_t pending_locked(struct statewriter *sw, const char *name)
{
	uint64_t seq = 0;

	if (sw->running && !strcmp(sw->running->name, name))
		seq = sw->running->seq;
	for (struct job *j = sw->queue; j; j = j->next)
		if (!strcmp(j->name, name) && j->seq > seq)
			seq = j->seq;
	return seq;
}

uint64_t statewriter_pending(struct statewriter *sw, const char *name)
{
	uint64_t seq;

	pthread_mutex_lock(&sw->lock);
	seq = pending_locked(sw, name);
	pthread_mutex_unlock(&sw->lock);
	return seq;
}

void statewriter_drain(struct statewriter *sw)
{
	pthread_mutex_lock(&sw->lock);
	while (sw->queue || sw->running)
		pthread_cond_wait(&sw->settled, &sw->lock);
	pthread_mutex_unlock(&sw->lock);
}

void statewriter_free(struct statewriter *sw)
{
	if (!sw)
		return;
	if (sw->started) {
		pthread_mutex_lock(&sw->lock);
		sw->stop = true;
		pthread_cond_signal(&sw->work);
		pthread_mutex_unlock(&sw->lock);
		pthread_join(sw->thread, NULL);
		deliver(sw);
	}
	if (sw->ev)
		event_free(sw->ev);
	if (sw->pipe[0] >= 0)
		close(sw->pipe[0]);
	if (sw->pipe[1] >= 0)
		close(sw->pipe[1]);
	pthread_cond_destroy(&sw->settled);
	pthread_cond_destroy(&sw->work);
	pthread_mutex_destroy(&sw->lock);
	free(sw->dir);
	free(sw);
}
