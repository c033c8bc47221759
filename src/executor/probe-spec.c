#include "src/executor/probe-spec.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/executor/shquote.h"
#include "src/util/err.h"

struct json_object *probe_spec_member(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

int probe_spec_seconds(struct json_object *o, const char *field, const char *key, double def,
		       double *out, char **err)
{
	struct json_object *v = probe_spec_member(o, key);

	*out = def;
	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int)) {
		vmsup_err(err, "%s.%s is not a number", field, key);
		return -1;
	}
	*out = json_object_get_double(v);
	if (!isfinite(*out) || *out < 0 || *out > 86400.0 * 365) {
		vmsup_err(err, "%s.%s must be a non-negative number of seconds", field, key);
		return -1;
	}
	return 0;
}

/* o.port: 1..65535, else -1 with *err naming field.port. */
static int port_of(struct json_object *o, const char *field, char **err)
{
	struct json_object *v = o ? probe_spec_member(o, "port") : NULL;
	int64_t p;

	if (!v || !json_object_is_type(v, json_type_int)) {
		vmsup_err(err, "%s.port is required (an integer)", field);
		return -1;
	}
	p = json_object_get_int64(v);
	if (p < 1 || p > 65535) {
		vmsup_err(err, "%s.port %lld is not a port", field, (long long)p);
		return -1;
	}
	return (int)p;
}

/* COMMAND: the CommandInfo's environment, then the command (shell or exec);
 * field names cmd in errors. */
static int command_script(FILE *f, struct json_object *cmd, const char *field, char **err)
{
	struct json_object *v = probe_spec_member(cmd, "value"),
			   *shell = probe_spec_member(cmd, "shell"), *envo, *vars;
	bool sh = true;

	if (!v || !json_object_is_type(v, json_type_string) || !*json_object_get_string(v)) {
		vmsup_err(err, "%s.value is required", field);
		return -1;
	}
	if (shell) {
		if (!json_object_is_type(shell, json_type_boolean)) {
			vmsup_err(err, "%s.shell is not a boolean", field);
			return -1;
		}
		sh = json_object_get_boolean(shell);
	}
	if ((envo = probe_spec_member(cmd, "environment")) &&
	    (vars = probe_spec_member(envo, "variables"))) {
		if (!json_object_is_type(vars, json_type_array)) {
			vmsup_err(err, "%s.environment.variables is not an array", field);
			return -1;
		}
		for (size_t i = 0; i < json_object_array_length(vars); i++) {
			struct json_object *e = json_object_array_get_idx(vars, i),
					   *n = probe_spec_member(e, "name"),
					   *val = probe_spec_member(e, "value");
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
					  "%s.environment.variables[%zu] has no "
					  "valid name and value",
					  field, i);
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
		struct json_object *args = probe_spec_member(cmd, "arguments");
		fputs("exec ", f);
		sh_quote(f, json_object_get_string(v));
		if (args && !json_object_is_type(args, json_type_array)) {
			vmsup_err(err, "%s.arguments is not an array", field);
			return -1;
		}
		/* arguments[0] is argv[0], which sh cannot set. */
		for (size_t i = 1; args && i < json_object_array_length(args); i++) {
			struct json_object *a = json_object_array_get_idx(args, i);
			if (!json_object_is_type(a, json_type_string)) {
				vmsup_err(err, "%s.arguments[%zu] is not a string", field, i);
				return -1;
			}
			fputc(' ', f);
			sh_quote(f, json_object_get_string(a));
		}
	}
	fputc('\n', f);
	return 0;
}

/* HTTP, as Mesos's curl call (redirects followed). A health check is
 * healthy for a status in [200, 400); busybox wget (the test guest has no
 * curl) fails on >= 400 itself. A check prints the status code and fails
 * only when there is none (no answer); busybox wget says it with -S. */
static int http_script(FILE *f, struct json_object *http, const char *field, enum probe_kind kind,
		       char **err)
{
	struct json_object *v;
	const char *scheme = "http", *path = "";
	char *url = NULL;
	int port = port_of(http, field, err);

	if (port < 0)
		return -1;
	/* CheckInfo.Http has no scheme: always http. */
	if (kind == PROBE_HEALTH && (v = probe_spec_member(http, "scheme"))) {
		scheme = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
			vmsup_err(err, "%s.scheme must be http or https", field);
			return -1;
		}
	}
	if ((v = probe_spec_member(http, "path"))) {
		path = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
		if (path[0] != '/') {
			vmsup_err(err, "%s.path must start with '/'", field);
			return -1;
		}
	}
	if (asprintf(&url, "%s://127.0.0.1:%d%s", scheme, port, path) < 0) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	fputs("url=", f);
	sh_quote(f, url);
	free(url);
	fputs("\nif command -v curl >/dev/null 2>&1; then\n"
	      "\tcode=$(curl -s -S -L -k -w '%{http_code}' -o /dev/null \"$url\") || exit 1\n",
	      f);
	if (kind == PROBE_HEALTH)
		fputs("\t[ \"$code\" -ge 200 ] && [ \"$code\" -lt 400 ]\n"
		      "else\n\twget -q -O /dev/null \"$url\"\nfi\n",
		      f);
	else
		fputs("else\n\tcode=$(wget -S -O /dev/null \"$url\" 2>&1 |\n"
		      "\t\tsed -n 's|^  HTTP/[0-9.]* \\([1-5][0-9][0-9]\\).*|\\1|p' | tail -n 1)\n"
		      "fi\n"
		      "case \"$code\" in [1-5][0-9][0-9]) echo \"$code\" ;; *) exit 1 ;; esac\n",
		      f);
	return 0;
}

/* TCP: mesos-tcp-connect's job, does a connection to the port open? busybox
 * nc has no -z: it runs `true` once connected. Exit 0 yes, 1 no. */
static int tcp_script(FILE *f, struct json_object *tcp, const char *field, char **err)
{
	int port = port_of(tcp, field, err);

	if (port < 0)
		return -1;
	fprintf(f,
		"if nc --help 2>&1 | grep -q -- '-e PROG'; then\n"
		"\tnc -w 5 127.0.0.1 %d -e true </dev/null && exit 0\nelse\n"
		"\tnc -z -w 5 127.0.0.1 %d </dev/null && exit 0\nfi\nexit 1\n",
		port, port);
	return 0;
}

/* field "." sub, for error messages. */
static char *sub_field(const char *field, const char *sub)
{
	char *s = NULL;
	return asprintf(&s, "%s.%s", field, sub) < 0 ? NULL : s;
}

static int type_script(FILE *f, struct json_object *o, const char *field, enum probe_kind kind,
		       const char *type, char **err)
{
	const char *key = type[0] == 'C' ? "command" : type[0] == 'H' ? "http" : "tcp";
	struct json_object *v = probe_spec_member(o, key);
	char *name = sub_field(field, key), *inner = NULL;
	int rc = -1;

	if (!name) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	if (type[0] == 'C') {
		/* CheckInfo.Command wraps the CommandInfo in a `command` of its own. */
		if (kind == PROBE_CHECK && v && json_object_is_type(v, json_type_object)) {
			v = probe_spec_member(v, "command");
			inner = sub_field(name, "command");
		}
		if (!v || !json_object_is_type(v, json_type_object))
			vmsup_err(err, "%s is required for type COMMAND", inner ? inner : name);
		else
			rc = command_script(f, v, inner ? inner : name, err);
	} else if (type[0] == 'H') {
		rc = http_script(f, v, name, kind, err);
	} else {
		rc = tcp_script(f, v, name, err);
	}
	free(inner);
	free(name);
	return rc;
}

int probe_spec_parse(struct json_object *o, const char *field, enum probe_kind kind,
		     const char *sandbox, struct probe_spec *s, char **err)
{
	struct json_object *v;
	const char *type;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	memset(s, 0, sizeof(*s));
	if (!json_object_is_type(o, json_type_object)) {
		vmsup_err(err, "%s is not an object", field);
		return -1;
	}
	v = probe_spec_member(o, "type");
	type = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
	if (strcmp(type, "COMMAND") == 0)
		s->type = "COMMAND";
	else if (strcmp(type, "HTTP") == 0)
		s->type = "HTTP";
	else if (strcmp(type, "TCP") == 0)
		s->type = "TCP";
	else {
		vmsup_err(err, "%s.type must be COMMAND, HTTP or TCP", field);
		return -1;
	}
	if (probe_spec_seconds(o, field, "delay_seconds", PROBE_DEFAULT_DELAY_S, &s->delay_s, err) <
		0 ||
	    probe_spec_seconds(o, field, "interval_seconds", PROBE_DEFAULT_INTERVAL_S,
			       &s->interval_s, err) < 0 ||
	    probe_spec_seconds(o, field, "timeout_seconds", PROBE_DEFAULT_TIMEOUT_S, &s->timeout_s,
			       err) < 0)
		return -1;
	if (!(f = open_memstream(&buf, &len))) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	fprintf(f, "#!/bin/sh\n# written by mesos-vm-executor: one %s, in the task's VM\ncd ",
		kind == PROBE_HEALTH ? "health check" : "check");
	sh_quote(f, sandbox);
	fputs(" || exit 127\nexport MESOS_SANDBOX=", f);
	sh_quote(f, sandbox);
	fputc('\n', f);
	rc = type_script(f, o, field, kind, s->type, err);
	if (fclose(f) != 0 && rc == 0) {
		vmsup_err(err, "out of memory");
		rc = -1;
	}
	if (rc < 0) {
		free(buf);
		return -1;
	}
	s->script = buf;
	return 0;
}

void probe_spec_clear(struct probe_spec *s)
{
	free(s->script);
	s->script = NULL;
}
