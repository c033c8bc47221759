/* Scripted fake QMP / QGA server; see qmp-server.h. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tests/fakes/qmp-server.h"

#define FQ_IO_TIMEOUT_MS 20000
#define FQ_MAX_CMDS	 256

struct fake_qmp {
	char path[108];
	struct fq_step *script;
	int lfd;
	int cfd;
	int stop[2]; /* a byte on stop[1] wakes the thread up to quit */
	pthread_t thr;
	int started;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	int finished;
	int ok;
	char why[256];

	struct json_tokener *tok;
	char rbuf[65536];
	size_t have, pos;
	struct json_object *cmds[FQ_MAX_CMDS];
	size_t ncmds;
	int64_t sync_id;
};

static void fail(struct fake_qmp *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct fake_qmp *f, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->mu);
	if (!f->why[0]) {
		va_start(ap, fmt);
		vsnprintf(f->why, sizeof(f->why), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&f->mu);
}

/* Wait for fd to be readable; 0 ready, -1 stopped or timed out. */
static int wait_in(struct fake_qmp *f, int fd, int timeout_ms)
{
	struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = f->stop[0], .events = POLLIN}};
	int rc;

	do
		rc = poll(p, 2, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0 || p[1].revents)
		return -1;
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int64_t cmd_id(struct json_object *c)
{
	struct json_object *id;

	return c && json_object_object_get_ex(c, "id", &id) ? json_object_get_int64(id) : -1;
}

/* At t, an @LAST@ or @ID<n>@: its length in *len (else 0) and the command
 * it names (NULL if none was received yet). */
static struct json_object *placeholder_cmd(struct fake_qmp *f, const char *t, size_t *len)
{
	const char *end;
	unsigned idx;

	*len = 0;
	if (!strncmp(t, "@LAST@", 6)) {
		*len = 6;
		return f->ncmds ? f->cmds[f->ncmds - 1] : NULL;
	}
	if (sscanf(t, "@ID%u@", &idx) == 1 && (end = strchr(t + 1, '@'))) {
		*len = (size_t)(end + 1 - t);
		return idx < f->ncmds ? f->cmds[idx] : NULL;
	}
	return NULL;
}

/* At t, the member ', "id": PLACEHOLDER' naming a command sent without an
 * id: its length, to leave it out; else 0. */
static size_t absent_id_member(struct fake_qmp *f, const char *t)
{
	static const char member[] = ", \"id\": ";
	const size_t ml = sizeof(member) - 1;
	struct json_object *c;
	size_t pl = 0;

	if (strncmp(t, member, ml) || !(c = placeholder_cmd(f, t + ml, &pl)) ||
	    json_object_object_get_ex(c, "id", NULL))
		return 0;
	return ml + pl;
}

/* Expand placeholders into a malloc'ed buffer. */
static char *expand(struct fake_qmp *f, const char *t, size_t *outlen)
{
	size_t cap = strlen(t) + 256, n = 0;
	char *out = malloc(cap);

	while (out && *t) {
		char num[32] = "";
		struct json_object *c;
		size_t skip;

		/* QEMU leaves "id" out of the answer to a command without one */
		if ((skip = absent_id_member(f, t))) {
			t += skip;
			continue;
		}
		if (*t == '@' && (c = placeholder_cmd(f, t, &skip), skip)) {
			snprintf(num, sizeof(num), "%" PRId64, cmd_id(c));
			t += skip;
		} else if (*t == '@' && !strncmp(t, "@SYNC@", 6)) {
			snprintf(num, sizeof(num), "%" PRId64, f->sync_id);
			t += 6;
		} else {
			num[0] = *t++;
			num[1] = 0;
		}
		size_t l = strlen(num);
		if (n + l + 1 > cap) {
			char *o = realloc(out, cap *= 2);
			if (!o) {
				free(out);
				return NULL;
			}
			out = o;
		}
		memcpy(out + n, num, l);
		n += l;
	}
	if (out)
		out[n] = 0;
	*outlen = n;
	return out;
}

static int do_send(struct fake_qmp *f, const struct fq_step *st)
{
	size_t len;
	char *buf;
	int rc = 0;

	if (st->len) {
		len = st->len;
		buf = malloc(len);
		if (buf)
			memcpy(buf, st->text, len);
	} else {
		buf = expand(f, st->text, &len);
	}
	if (!buf)
		return -1;
	unsigned pause = st->ms ? st->ms : 2;
	if (st->first_split && st->first_split < len) {
		rc = write_all(f->cfd, buf, st->first_split);
		sleep_ms(pause);
		if (!rc)
			rc = write_all(f->cfd, buf + st->first_split, len - st->first_split);
	} else if (st->split) {
		for (size_t off = 0; off < len && !rc; off += st->split) {
			size_t n = len - off < st->split ? len - off : st->split;
			rc = write_all(f->cfd, buf + off, n);
			sleep_ms(pause);
		}
	} else {
		rc = write_all(f->cfd, buf, len);
	}
	free(buf);
	if (rc)
		fail(f, "send failed: %s", strerror(errno));
	return rc;
}

/* Read until one whole command has arrived; 0xFF and whitespace between
 * commands are skipped as QEMU's own parser does. */
static struct json_object *read_cmd(struct fake_qmp *f)
{
	for (;;) {
		while (f->pos < f->have) {
			unsigned char c = (unsigned char)f->rbuf[f->pos];
			if (c == 0xff || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
				if (c == 0xff)
					json_tokener_reset(f->tok);
				f->pos++;
				continue;
			}
			struct json_object *v = json_tokener_parse_ex(f->tok, f->rbuf + f->pos,
								      (int)(f->have - f->pos));
			enum json_tokener_error e = json_tokener_get_error(f->tok);
			if (v) {
				f->pos += json_tokener_get_parse_end(f->tok);
				json_tokener_reset(f->tok);
				return v;
			}
			if (e != json_tokener_continue) {
				fail(f, "client sent bad JSON: %s", json_tokener_error_desc(e));
				json_tokener_reset(f->tok);
				return NULL;
			}
			f->pos = f->have;
		}
		f->pos = f->have = 0;
		if (wait_in(f, f->cfd, FQ_IO_TIMEOUT_MS) < 0)
			return NULL;
		ssize_t n = recv(f->cfd, f->rbuf, sizeof(f->rbuf), 0);
		if (n <= 0)
			return NULL;
		f->have = (size_t)n;
	}
}

static void record(struct fake_qmp *f, struct json_object *c)
{
	pthread_mutex_lock(&f->mu);
	if (f->ncmds < FQ_MAX_CMDS)
		f->cmds[f->ncmds++] = c;
	else
		json_object_put(c);
	pthread_mutex_unlock(&f->mu);
}

static int do_expect(struct fake_qmp *f, const struct fq_step *st)
{
	struct json_object *c = read_cmd(f), *x, *args;
	const char *name;

	if (!c) {
		fail(f, "expected command %s, got nothing", st->text ? st->text : "(any)");
		return -1;
	}
	name = json_object_object_get_ex(c, "execute", &x) ? json_object_get_string(x) : "";
	if (!strcmp(name, "guest-sync-delimited") &&
	    json_object_object_get_ex(c, "arguments", &args) &&
	    json_object_object_get_ex(args, "id", &x))
		f->sync_id = json_object_get_int64(x);
	if (st->text && strcmp(name, st->text)) {
		fail(f, "expected command %s, got %s", st->text, name);
		record(f, c);
		return -1;
	}
	record(f, c);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int do_answer(struct fake_qmp *f, const struct fq_step *st)
{
	double end = now_ms() + st->ms;

	for (;;) {
		int left = (int)(end - now_ms());
		struct json_object *c, *x;
		const char *name;
		char reply[128];

		if (f->pos >= f->have && (left <= 0 || wait_in(f, f->cfd, left) < 0))
			break;
		if (!(c = read_cmd(f)))
			break;
		name = json_object_object_get_ex(c, "execute", &x) ? json_object_get_string(x) : "";
		if (json_object_object_get_ex(c, "id", NULL))
			snprintf(reply, sizeof(reply), "{\"return\": {}, \"id\": %" PRId64 "}\r\n",
				 cmd_id(c));
		else
			snprintf(reply, sizeof(reply), "{\"return\": {}}\r\n");
		if (st->text && !strcmp(name, st->text)) {
			record(f, c);
			return 0;
		}
		record(f, c);
		if (write_all(f->cfd, reply, strlen(reply)) < 0) {
			fail(f, "answer: %s", strerror(errno));
			return -1;
		}
	}
	if (st->text) {
		fail(f, "no %s within %u ms", st->text, st->ms);
		return -1;
	}
	return 0;
}

static void *run(void *arg)
{
	struct fake_qmp *f = arg;
	int ok = 0;

	if (wait_in(f, f->lfd, FQ_IO_TIMEOUT_MS) < 0) {
		fail(f, "no client connected");
		goto out;
	}
	f->cfd = accept(f->lfd, NULL, NULL);
	if (f->cfd < 0) {
		fail(f, "accept: %s", strerror(errno));
		goto out;
	}
	for (const struct fq_step *st = f->script; st->op != FQ_END; st++) {
		switch (st->op) {
		case FQ_SEND:
			if (do_send(f, st) < 0)
				goto out;
			break;
		case FQ_EXPECT:
			if (do_expect(f, st) < 0)
				goto out;
			break;
		case FQ_ANSWER:
			if (do_answer(f, st) < 0)
				goto out;
			break;
		case FQ_SLEEP:
			sleep_ms(st->ms);
			break;
		case FQ_QUIET:
			if (f->pos < f->have || wait_in(f, f->cfd, (int)st->ms) == 0) {
				fail(f, "client sent data while it should have waited");
				goto out;
			}
			break;
		case FQ_CLOSE:
			close(f->cfd);
			f->cfd = -1;
			ok = 1;
			goto out;
		case FQ_END:
			break;
		}
	}
	ok = 1;
	pthread_mutex_lock(&f->mu);
	f->ok = ok;
	f->finished = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	/* Hold the connection (reading and recording) until the client goes. */
	for (;;) {
		struct json_object *c = read_cmd(f);
		if (!c)
			break;
		record(f, c);
	}
	return NULL;
out:
	pthread_mutex_lock(&f->mu);
	f->ok = ok;
	f->finished = 1;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

static void free_script(struct fq_step *sc)
{
	for (struct fq_step *st = sc; st && st->op != FQ_END; st++)
		free((char *)st->text);
	free(sc);
}

static struct fq_step *copy_script(const struct fq_step *script)
{
	size_t n = 0;
	struct fq_step *sc;

	while (script[n].op != FQ_END)
		n++;
	sc = calloc(n + 1, sizeof(*sc));
	if (!sc)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		sc[i] = script[i];
		sc[i].text = NULL;
		if (!script[i].text)
			continue;
		size_t len = script[i].len ? script[i].len : strlen(script[i].text) + 1;
		char *t = malloc(len);
		if (!t) {
			free_script(sc);
			return NULL;
		}
		memcpy(t, script[i].text, len);
		sc[i].text = t;
	}
	return sc;
}

struct fake_qmp *fake_qmp_start(const char *path, const struct fq_step *script)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct fake_qmp *f;

	if (strlen(path) >= sizeof(sa.sun_path))
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	f->cfd = f->lfd = f->stop[0] = f->stop[1] = -1;
	/* The thread may outlive the caller's stack frame: keep a copy. */
	f->script = copy_script(script);
	if (!f->script) {
		free(f);
		return NULL;
	}
	snprintf(f->path, sizeof(f->path), "%s", path);
	strcpy(sa.sun_path, path);
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->tok = json_tokener_new();
	if (!f->tok || pipe(f->stop) < 0)
		goto fail;
	unlink(path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (f->lfd < 0 || bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(f->lfd, 1) < 0)
		goto fail;
	if (pthread_create(&f->thr, NULL, run, f) != 0)
		goto fail;
	f->started = 1;
	return f;
fail:
	fake_qmp_free(f);
	return NULL;
}

int fake_qmp_wait(struct fake_qmp *f, unsigned timeout_ms, char *why, size_t whylen)
{
	struct timespec dl;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&f->mu);
	while (!f->finished && rc == 0)
		rc = pthread_cond_timedwait(&f->cv, &f->mu, &dl);
	int ok = f->finished && f->ok;
	if (why && whylen)
		snprintf(why, whylen, "%s", !f->finished ? "script still running" : f->why);
	pthread_mutex_unlock(&f->mu);
	return ok ? 0 : -1;
}

size_t fake_qmp_ncommands(struct fake_qmp *f)
{
	pthread_mutex_lock(&f->mu);
	size_t n = f->ncmds;
	pthread_mutex_unlock(&f->mu);
	return n;
}

struct json_object *fake_qmp_command(struct fake_qmp *f, size_t i)
{
	pthread_mutex_lock(&f->mu);
	struct json_object *c = i < f->ncmds ? f->cmds[i] : NULL;
	pthread_mutex_unlock(&f->mu);
	return c;
}

void fake_qmp_free(struct fake_qmp *f)
{
	if (!f)
		return;
	if (f->started) {
		if (write(f->stop[1], "x", 1) < 0)
			perror("fake_qmp_free");
		pthread_join(f->thr, NULL);
	}
	if (f->cfd >= 0)
		close(f->cfd);
	if (f->lfd >= 0) {
		close(f->lfd);
		unlink(f->path);
	}
	if (f->stop[0] >= 0)
		close(f->stop[0]);
	if (f->stop[1] >= 0)
		close(f->stop[1]);
	for (size_t i = 0; i < f->ncmds; i++)
		json_object_put(f->cmds[i]);
	if (f->tok)
		json_tokener_free(f->tok);
	free_script(f->script);
	pthread_mutex_destroy(&f->mu);
	pthread_cond_destroy(&f->cv);
	free(f);
}
