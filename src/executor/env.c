#include "src/executor/env.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC_NS 1000000000LL

/* Defaults are the Mesos agent's own defaults for these flags. */
#define DEFAULT_SHUTDOWN_GRACE_NS   (5 * SEC_NS)
#define DEFAULT_RECOVERY_TIMEOUT_NS (15 * 60 * SEC_NS)
#define DEFAULT_BACKOFF_MAX_NS	    (2 * SEC_NS)

int env_parse_duration(const char *s, int64_t *ns, char **err)
{
	static const struct {
		const char *unit;
		double ns;
	} units[] = {
	    {"ns", 1},	    {"us", 1e3},     {"ms", 1e6},	{"secs", 1e9},
	    {"mins", 60e9}, {"hrs", 3600e9}, {"days", 86400e9}, {"weeks", 604800e9},
	};
	char *end;
	double v;

	if (!s || !*s || !(*s >= '0' && *s <= '9')) {
		if (asprintf(err, "duration '%s' must start with a number", s ? s : "") < 0)
			*err = NULL;
		return -1;
	}
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].unit) == 0) {
			double r = v * units[i].ns;
			if (r > (double)INT64_MAX)
				goto bad;
			*ns = (int64_t)r;
			return 0;
		}
	}
bad:
	if (asprintf(err, "bad duration '%s' (number + ns|us|ms|secs|mins|hrs|days|weeks)", s) < 0)
		*err = NULL;
	return -1;
}

static int need(const char *name, char **out, char **err)
{
	const char *v = getenv(name);
	if (!v || !*v) {
		if (asprintf(err, "%s is not set (run me from a Mesos agent)", name) < 0)
			*err = NULL;
		return -1;
	}
	*out = strdup(v);
	return *out ? 0 : -1;
}

static int duration_var(const char *name, int64_t def, int64_t *out, char **err)
{
	const char *v = getenv(name);
	char *e = NULL;
	*out = def;
	if (!v || !*v)
		return 0;
	if (env_parse_duration(v, out, &e) < 0) {
		if (asprintf(err, "%s: %s", name, e ? e : "bad duration") < 0)
			*err = NULL;
		free(e);
		return -1;
	}
	return 0;
}

int env_split_endpoint(const char *ep, char **host, uint16_t *port, char **err)
{
	const char *colon = ep ? strrchr(ep, ':') : NULL;
	char *end;
	long p;

	if (!colon || colon == ep)
		goto bad;
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p < 1 || p > 65535)
		goto bad;
	*host = strndup(ep, (size_t)(colon - ep));
	*port = (uint16_t)p;
	return *host ? 0 : -1;
bad:
	if (asprintf(err, "MESOS_AGENT_ENDPOINT '%s' is not ip:port", ep ? ep : "") < 0)
		*err = NULL;
	return -1;
}

int env_load(struct exec_env *e, char **err)
{
	char *ep = NULL;
	const char *v;
	int rc = -1;

	memset(e, 0, sizeof(*e));
	if (need("MESOS_AGENT_ENDPOINT", &ep, err) < 0 ||
	    env_split_endpoint(ep, &e->agent_host, &e->agent_port, err) < 0 ||
	    need("MESOS_FRAMEWORK_ID", &e->framework_id, err) < 0 ||
	    need("MESOS_EXECUTOR_ID", &e->executor_id, err) < 0 ||
	    need("MESOS_DIRECTORY", &e->directory, err) < 0)
		goto out;
	v = getenv("MESOS_SANDBOX");
	e->sandbox = strdup(v && *v ? v : e->directory);
	if (!e->sandbox)
		goto out;
	if (e->directory[0] != '/' || e->sandbox[0] != '/') {
		if (asprintf(err, "MESOS_DIRECTORY/MESOS_SANDBOX must be absolute paths") < 0)
			*err = NULL;
		goto out;
	}
	v = getenv("MESOS_CHECKPOINT");
	e->checkpoint = v && (strcmp(v, "1") == 0 || strcmp(v, "true") == 0);
	if (duration_var("MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD", DEFAULT_SHUTDOWN_GRACE_NS,
			 &e->shutdown_grace_ns, err) < 0 ||
	    duration_var("MESOS_RECOVERY_TIMEOUT", DEFAULT_RECOVERY_TIMEOUT_NS,
			 &e->recovery_timeout_ns, err) < 0 ||
	    duration_var("MESOS_SUBSCRIPTION_BACKOFF_MAX", DEFAULT_BACKOFF_MAX_NS,
			 &e->backoff_max_ns, err) < 0)
		goto out;
	v = getenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN");
	if (v && *v) {
		/* It goes into an HTTP header: a CR or LF would split it. */
		for (const char *c = v; *c; c++) {
			if ((unsigned char)*c < 0x20 || *c == 0x7f) {
				if (asprintf(err, "MESOS_EXECUTOR_AUTHENTICATION_TOKEN has a "
						  "control character") < 0)
					*err = NULL;
				goto out;
			}
		}
		if (!(e->auth_token = strdup(v)))
			goto out;
		/* The vmctl children (and so the guests) have no use for it. */
		unsetenv("MESOS_EXECUTOR_AUTHENTICATION_TOKEN");
	}
	v = getenv("VMSUP_SOCKET");
	if (v && *v && !(e->vmsup_socket = strdup(v)))
		goto out;
	e->ip_wait_s = 120;
	v = getenv("VMEXEC_IP_WAIT");
	if (v && *v) {
		char *end;
		long w = strtol(v, &end, 10);
		if (*end || w < 1 || w > 3600) {
			if (asprintf(err, "VMEXEC_IP_WAIT '%s' is not 1..3600 seconds", v) < 0)
				*err = NULL;
			goto out;
		}
		e->ip_wait_s = (int)w;
	}
	v = getenv("VMEXEC_POOL");
	if (v && *v && strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "false") &&
	    strcmp(v, "true")) {
		if (asprintf(err, "VMEXEC_POOL '%s' is not 0, 1, false or true", v) < 0)
			*err = NULL;
		goto out;
	}
	e->pool = v && (!strcmp(v, "1") || !strcmp(v, "true"));
	v = getenv("VMEXEC_VMCTL");
	if (!(e->vmctl = strdup(v && *v ? v : "vmctl")))
		goto out;
	rc = 0;
out:
	free(ep);
	if (rc < 0 && err && !*err && asprintf(err, "out of memory") < 0)
		*err = NULL;
	return rc;
}

void env_free(struct exec_env *e)
{
	free(e->agent_host);
	free(e->framework_id);
	free(e->executor_id);
	free(e->directory);
	free(e->sandbox);
	free(e->auth_token);
	free(e->vmsup_socket);
	free(e->vmctl);
	memset(e, 0, sizeof(*e));
}
