#include "src/executor/health-spec.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/executor/shquote.h"
#include "src/util/err.h"

static struct json_object *member(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* hc.key as non-negative seconds, def when absent. -1 with *err. */
static int seconds(struct json_object *hc, const char *key, double def, double *out, char **err)
{
	struct json_object *v = member(hc, key);

	*out = def;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
		vmsup_err(err, "health_check.%s is not a number", key);
		return -1;
	}
	*out = json_object_get_double(v);
	if (!isfinite(*out) || *out < 0 || *out > 86400.0 * 365) {
		vmsup_err(err, "health_check.%s must be a non-negative number of seconds", key);
		return -1;
	}
	return 0;
}

/* obj.port: 1..65535, else -1 with *err. */
static int port_of(struct json_object *o, const char *what, char **err)
{
	struct json_object *v = o ? member(o, "port") : NULL;
	int64_t p;

	if (!v || !json_object_is_type(v, json_type_int)) {
		vmsup_err(err, "health_check.%s.port is required (an integer)", what);
		return -1;
	}
	p = json_object_get_int64(v);
	if (p < 1 || p > 65535) {
		vmsup_err(err, "health_check.%s.port %lld is not a port", what, (long long)p);
		return -1;
	}
	return (int)p;
}

/* COMMAND: the CommandInfo's environment, then the command (shell or exec). */
static int command_script(FILE *f, struct json_object *cmd, char **err)
{
	struct json_object *v = member(cmd, "value"), *shell = member(cmd, "shell"), *envo, *vars;
	bool sh = true;

	if (!v || !json_object_is_type(v, json_type_string) || !*json_object_get_string(v)) {
		vmsup_err(err, "health_check.command.value is required");
		return -1;
	}
	if (shell) {
		if (!json_object_is_type(shell, json_type_boolean)) {
			vmsup_err(err, "health_check.command.shell is not a boolean");
			return -1;
		}
		sh = json_object_get_boolean(shell);
	}
	if ((envo = member(cmd, "environment")) && (vars = member(envo, "variables"))) {
		if (!json_object_is_type(vars, json_type_array)) {
			vmsup_err(err,
				  "health_check.command.environment.variables is not an array");
			return -1;
		}
		for (size_t i = 0; i < json_object_array_length(vars); i++) {
			struct json_object *e = json_object_array_get_idx(vars, i),
					   *n = member(e, "name"), *val = member(e, "value");
			const char *name = n && json_object_is_type(n, json_type_string)
					       ? json_object_get_string(n)
					       : "";
			bool ok = *name && (*name < '0' || *name > '9') && val &&
				  json_object_is_type(val, json_type_string);
			for (const char *c = name; ok && *c; c++)
				ok = *c == '_' || (*c >= 'A' && *c <= 'Z') ||
				     (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9');
			if (!ok) {
				vmsup_err(err,
					  "health_check.command.environment.variables[%zu] has no "
					  "valid name and value",
					  i);
				return -1;
			}
			fprintf(f, "export %s=", name);
			sh_quote(f, json_object_get_string(val));
			fputc('\n', f);
		}
	}
	if (sh) {
		fputs("exec /bin/sh -c ", f);
		sh_quote(f, json_object_get_string(v));
	} else {
		struct json_object *args = member(cmd, "arguments");
		fputs("exec ", f);
		sh_quote(f, json_object_get_string(v));
		if (args && !json_object_is_type(args, json_type_array)) {
			vmsup_err(err, "health_check.command.arguments is not an array");
			return -1;
		}
		/* arguments[0] is argv[0], which sh cannot set. */
		for (size_t i = 1; args && i < json_object_array_length(args); i++) {
			struct json_object *a = json_object_array_get_idx(args, i);
			if (!json_object_is_type(a, json_type_string)) {
				vmsup_err(err,
					  "health_check.command.arguments[%zu] is not a string", i);
				return -1;
			}
			fputc(' ', f);
			sh_quote(f, json_object_get_string(a));
		}
	}
	fputc('\n', f);
	return 0;
}

/* HTTP: healthy for a status in [200, 400) after redirects, as Mesos's curl
 * call; busybox wget (the test guest has no curl) fails on >= 400 itself. */
static int http_script(FILE *f, struct json_object *http, char **err)
{
	struct json_object *v;
	const char *scheme = "http", *path = "";
	int port = port_of(http, "http", err);

	if (port < 0)
		return -1;
	if ((v = member(http, "scheme"))) {
		scheme = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
			vmsup_err(err, "health_check.http.scheme must be http or https");
			return -1;
		}
	}
	if ((v = member(http, "path"))) {
		path = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		if (path[0] != '/') {
			vmsup_err(err, "health_check.http.path must start with '/'");
			return -1;
		}
	}
	fputs("url=", f);
	{
		char *url = NULL;
		if (asprintf(&url, "%s://127.0.0.1:%d%s", scheme, port, path) < 0) {
			vmsup_err(err, "out of memory");
			return -1;
		}
		sh_quote(f, url);
		free(url);
	}
	fputs("\nif command -v curl >/dev/null 2>&1; then\n"
	      "\tcode=$(curl -s -S -L -k -w '%{http_code}' -o /dev/null \"$url\") || exit 1\n"
	      "\t[ \"$code\" -ge 200 ] && [ \"$code\" -lt 400 ]\n"
	      "else\n\twget -q -O /dev/null \"$url\"\nfi\n",
	      f);
	return 0;
}

int health_spec_parse(struct json_object *info, const char *sandbox, struct health_spec *h,
		      char **err)
{
	struct json_object *hc = info ? member(info, "health_check") : NULL, *v;
	const char *type;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = -1;

	memset(h, 0, sizeof(*h));
	if (!hc)
		return 0;
	if (!json_object_is_type(hc, json_type_object)) {
		vmsup_err(err, "health_check is not an object");
		return -1;
	}
	v = member(hc, "type");
	type = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	if (strcmp(type, "COMMAND") == 0)
		h->type = "COMMAND";
	else if (strcmp(type, "HTTP") == 0)
		h->type = "HTTP";
	else if (strcmp(type, "TCP") == 0)
		h->type = "TCP";
	else {
		vmsup_err(err, "health_check.type must be COMMAND, HTTP or TCP");
		return -1;
	}
	if (seconds(hc, "delay_seconds", HEALTH_DEFAULT_DELAY_S, &h->delay_s, err) < 0 ||
	    seconds(hc, "interval_seconds", HEALTH_DEFAULT_INTERVAL_S, &h->interval_s, err) < 0 ||
	    seconds(hc, "timeout_seconds", HEALTH_DEFAULT_TIMEOUT_S, &h->timeout_s, err) < 0 ||
	    seconds(hc, "grace_period_seconds", HEALTH_DEFAULT_GRACE_S, &h->grace_s, err) < 0)
		return -1;
	h->consecutive_failures = HEALTH_DEFAULT_FAILURES;
	if ((v = member(hc, "consecutive_failures"))) {
		int64_t n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
		if (n < 0 || n > 1000000) {
			vmsup_err(err, "health_check.consecutive_failures is not a count");
			return -1;
		}
		h->consecutive_failures = (unsigned)n;
	}
	if (!(f = open_memstream(&buf, &len))) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	fputs("#!/bin/sh\n# written by mesos-vm-executor: one health check, in the task's VM\ncd ",
	      f);
	sh_quote(f, sandbox);
	fputs(" || exit 127\nexport MESOS_SANDBOX=", f);
	sh_quote(f, sandbox);
	fputc('\n', f);
	if (h->type[0] == 'C') {
		struct json_object *cmd = member(hc, "command");
		if (!cmd || !json_object_is_type(cmd, json_type_object))
			vmsup_err(err, "health_check.command is required for type COMMAND");
		else
			rc = command_script(f, cmd, err);
	} else if (h->type[0] == 'H') {
		rc = http_script(f, member(hc, "http"), err);
	} else {
		int port = port_of(member(hc, "tcp"), "tcp", err);
		/* mesos-tcp-connect's job: does a connection to the port open?
		 * busybox nc has no -z: it runs `true` once connected. */
		if (port > 0) {
			fprintf(f,
				"if nc --help 2>&1 | grep -q -- '-e PROG'; then\n"
				"\texec nc -w 5 127.0.0.1 %d -e true </dev/null\nfi\n"
				"exec nc -z -w 5 127.0.0.1 %d </dev/null\n",
				port, port);
			rc = 0;
		}
	}
	if (fclose(f) != 0 && rc == 0) {
		vmsup_err(err, "out of memory");
		rc = -1;
	}
	if (rc < 0) {
		free(buf);
		return -1;
	}
	h->script = buf;
	return 1;
}

void health_spec_clear(struct health_spec *h)
{
	free(h->script);
	h->script = NULL;
}
