/*
 * HTTP client for the vmsupd API (libcurl on a unix socket). No CLI
 * concerns here: vmctl, the Mesos executor, tests and benchmarks share it.
 */
#include "config.h"

#include "src/client/client.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
/* The daemon's default (src/qemu/config.c), so the two agree whatever the
 * configure prefix. */
#define DEFAULT_SOCKET RUNSTATEDIR "/vmsupd/api.sock"
/* Replies above this are refused: the API never sends anything near it. */
#define MAX_REPLY (64L * 1024 * 1024)

static volatile sig_atomic_t *abort_flag;

void vmsup_client_set_abort_flag(volatile sig_atomic_t *flag)
{
	abort_flag = flag;
}

/* Reads `socket` from the installed vmsupd.conf with the daemon's syntax
 * (vmsup_config_load in src/qemu/config.c: the last line wins; a value in
 * double quotes is kept as it is, '#' included; else '#' starts a comment),
 * so that the two agree on the path. Anything odd is skipped here because
 * the daemon, not the client, validates its config. */
static const char *socket_from_config(void)
{
	static char path[4096];
	char line[4352];
	const char *conf = getenv("VMSUP_CONFIG");
	FILE *f = fopen(conf && *conf ? conf : SYSCONFDIR "/vmsupd.conf", "re");
	const char *found = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t"), *eq = strchr(p, '='), *end;

		if (*p == '#' || !eq)
			continue;
		for (end = eq; end > p && (end[-1] == ' ' || end[-1] == '\t');)
			end--;
		if (end - p != 6 || strncmp(p, "socket", 6) != 0)
			continue;
		p = eq + 1 + strspn(eq + 1, " \t");
		end = p + strcspn(p, "\n");
		if (*p != '"')
			end = p + strcspn(p, "#\n");
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		if (*p == '"') {
			if (end - p < 2 || end[-1] != '"')
				continue;
			p++;
			end--;
		}
		if (end == p || (size_t)(end - p) >= sizeof(path))
			continue;
		memcpy(path, p, end - p);
		path[end - p] = '\0';
		found = path;
	}
	fclose(f);
	return found;
}

const char *vmsup_client_socket(const char *explicit_path)
{
	const char *env = getenv("VMSUP_SOCKET");
	const char *conf;

	if (explicit_path && *explicit_path)
		return explicit_path;
	if (env && *env)
		return env;
	conf = socket_from_config();
	return conf ? conf : DEFAULT_SOCKET;
}

struct buf {
	char *data;
	size_t len, cap;
};

static int buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -1;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;

	if (b->len + n > MAX_REPLY || buf_add(b, p, n) < 0)
		return 0;
	return n;
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	return abort_flag && *abort_flag ? 1 : 0;
}

/* Common handle setup; url is the caller's buffer, kept alive by it. */
static CURL *make_handle(const char *sock, const char *path, char *url, size_t urlsz, char **err)
{
	CURL *c;

	if (!path || path[0] != '/') {
		*err = strdup("request path must start with '/'");
		return NULL;
	}
	if ((size_t)snprintf(url, urlsz, "http://localhost%s", path) >= urlsz) {
		*err = strdup("request path too long");
		return NULL;
	}
	c = curl_easy_init();
	if (!c) {
		*err = strdup("cannot initialise libcurl");
		return NULL;
	}
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_URL, url);
	/* The daemon's paths are literal: "..", if a caller ever passed one,
	 * must reach the daemon (and be refused) rather than be folded away. */
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	return c;
}

static char *transport_error(CURLcode rc, const char *sock, const char *detail)
{
	char *s = NULL;
	int n;

	if (rc == CURLE_ABORTED_BY_CALLBACK)
		return strdup("interrupted");
	if (rc == CURLE_COULDNT_CONNECT)
		n = asprintf(&s, "cannot connect to vmsupd at %s (is it running?)", sock);
	else
		n = asprintf(&s, "vmsupd request failed: %s",
			     *detail ? detail : curl_easy_strerror(rc));
	return n < 0 ? NULL : s;
}

int vmsup_request(const char *sock, const char *method, const char *path, struct json_object *body,
		  long timeout_ms, long *status, struct json_object **reply, char **err)
{
	char url[4200], detail[CURL_ERROR_SIZE] = "";
	struct buf in = {0};
	struct curl_slist *hdrs = NULL;
	CURL *c;
	CURLcode rc;
	int ret = -1;

	*reply = NULL;
	*err = NULL;
	*status = 0;
	c = make_handle(sock, path, url, sizeof(url), err);
	if (!c)
		return -1;
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &in);
	if (timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	hdrs = curl_slist_append(hdrs, "Accept: application/json");
	if (body) {
		const char *s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);

		hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
		/* No "Expect: 100-continue" round trip on a local socket. */
		hdrs = curl_slist_append(hdrs, "Expect:");
		/* COPYPOSTFIELDS: the string belongs to body, which the caller
		 * may release while curl still refers to it otherwise. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(s));
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, s);
	} else if (strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, "");
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		*err = transport_error(rc, sock, detail);
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (in.len) {
		enum json_tokener_error jerr;
		struct json_object *v = json_tokener_parse_verbose(in.data, &jerr);

		if (!v) {
			if (asprintf(err, "reply (HTTP %ld) is not JSON: %s", *status,
				     json_tokener_error_desc(jerr)) < 0)
				*err = NULL;
			goto out;
		}
		*reply = v;
	}
	ret = 0;
out:
	if (ret < 0 && !*err)
		*err = strdup("out of memory");
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	free(in.data);
	return ret;
}

const char *vmsup_error_desc(struct json_object *reply, long status)
{
	struct json_object *e, *d;
	static char fallback[64];

	if (reply && json_object_object_get_ex(reply, "error", &e) &&
	    json_object_object_get_ex(e, "desc", &d) && json_object_is_type(d, json_type_string))
		return json_object_get_string(d);
	snprintf(fallback, sizeof(fallback), "vmsupd answered HTTP %ld", status);
	return fallback;
}

struct stream {
	CURL *c;
	struct buf line;
	vmsup_line_fn fn;
	void *arg;
	long status;
	int stopped;
};

static size_t on_stream(char *p, size_t size, size_t n, void *arg)
{
	struct stream *s = arg;
	size_t i, start = 0;

	if (!s->status)
		curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &s->status);
	if (s->status != 200)
		/* An error body is one JSON object, kept whole for the message. */
		return s->line.len + n > MAX_REPLY || buf_add(&s->line, p, n) < 0 ? 0 : n;
	for (i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		if (buf_add(&s->line, p + start, i - start) < 0)
			return 0;
		start = i + 1;
		if (s->line.len && s->fn(s->line.data, s->arg) != 0) {
			s->stopped = 1;
			return 0;
		}
		s->line.len = 0;
	}
	if (s->line.len + (n - start) > MAX_REPLY || buf_add(&s->line, p + start, n - start) < 0)
		return 0;
	return n;
}

int vmsup_stream(const char *sock, const char *path, vmsup_line_fn fn, void *arg, char **err)
{
	char url[4200], detail[CURL_ERROR_SIZE] = "";
	struct stream s = {.fn = fn, .arg = arg};
	CURLcode rc;
	int ret = -1;

	*err = NULL;
	s.c = make_handle(sock, path, url, sizeof(url), err);
	if (!s.c)
		return -1;
	curl_easy_setopt(s.c, CURLOPT_ERRORBUFFER, detail);
	curl_easy_setopt(s.c, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(s.c, CURLOPT_WRITEDATA, &s);
	rc = curl_easy_perform(s.c);
	if (s.stopped) {
		ret = 0;
		goto out;
	}
	if (rc != CURLE_OK) {
		*err = transport_error(rc, sock, detail);
		goto out;
	}
	if (s.status != 200) {
		struct json_object *v = s.line.len ? json_tokener_parse(s.line.data) : NULL;

		*err = strdup(vmsup_error_desc(v, s.status));
		json_object_put(v);
		goto out;
	}
	/* A last line without its newline still counts. */
	if (s.line.len)
		fn(s.line.data, arg);
	ret = 0;
out:
	if (ret < 0 && !*err)
		*err = strdup("out of memory");
	curl_easy_cleanup(s.c);
	free(s.line.data);
	return ret;
}
