#include "src/executor/check.h"

#include "src/executor/check-spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "src/executor/launch-internal.h"
#include "src/executor/probe.h"
#include "src/util/err.h"

struct check {
	struct probe p;
	struct probe_spec spec;
	bool known; /* the last result has a value: Mesos's non-empty one */
	int value;  /* exit_code, status_code, or succeeded (0/1) */
};

static void on_done(struct probe *p, int status);

int check_prepare(struct launcher *l, struct task *t, char **err)
{
	struct probe_spec spec;
	struct check *c;
	int rc = check_spec_parse(t->spec.info, l->env->directory, &spec, err);

	t->check = NULL;
	if (rc <= 0)
		return rc;
	if (!(c = calloc(1, sizeof(*c)))) {
		probe_spec_clear(&spec);
		vmsup_err(err, "out of memory");
		return -1;
	}
	c->spec = spec;
	t->check = c;
	/* HTTP's status code comes on the probe's stdout. */
	return probe_init(&c->p, t, PROBE_CHECK, l, &c->spec, "check", c->spec.type[0] == 'H',
			  on_done, c, err);
}

/* As Mesos's checker: COMMAND's exit code when the command exited (killed or
 * timed out: no result), HTTP's status code when one came, TCP's verdict
 * when the probe could tell (exit 0 or 1). */
static void on_done(struct probe *p, int status)
{
	struct check *c = p->arg;
	bool known = false;
	int value = 0, code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	char *out, msg[128];

	if (!p->timed_out && code >= 0) {
		if (c->spec.type[0] == 'C') {
			known = true;
			value = code;
		} else if (c->spec.type[0] == 'T' && code <= 1) {
			known = true;
			value = code == 0;
		} else if (c->spec.type[0] == 'H' && code == 0 && (out = probe_output(p))) {
			value = atoi(out);
			known = value >= 100 && value <= 599;
			free(out);
		}
	}
	if (known != c->known || value != c->value) {
		c->known = known;
		c->value = value;
		if (!known)
			snprintf(msg, sizeof(msg), "%s check: no result (%s)", c->spec.type,
				 p->timed_out ? "timed out" : "failed");
		else if (c->spec.type[0] == 'T')
			snprintf(msg, sizeof(msg), "TCP check: %s",
				 value ? "connected" : "could not connect");
		else
			snprintf(msg, sizeof(msg), "%s check: %s %d", c->spec.type,
				 c->spec.type[0] == 'C' ? "exit code" : "status code", value);
		fprintf(stderr, "mesos-vm-executor: task %s: %s\n", p->t->spec.task_id, msg);
		p->l->ops->running(p->l->ctx, p->t, -1, false, CHECK_REASON, msg);
	}
	probe_next(p);
}

void check_free(struct task *t)
{
	struct check *c = t->check;

	if (!c)
		return;
	probe_clear(&c->p);
	probe_spec_clear(&c->spec);
	free(c);
	t->check = NULL;
}

void check_status_attach(const struct task *t, struct json_object *st, const char *reason)
{
	const struct check *c = t->check;
	struct json_object *cs, *r;
	bool last = reason && strstr(reason, "_STATUS_UPDATED");

	if (!st || !c)
		return;
	cs = json_object_new_object();
	r = json_object_new_object();
	json_object_object_add(cs, "type", json_object_new_string(c->spec.type));
	if (last && c->known) {
		if (c->spec.type[0] == 'C')
			json_object_object_add(r, "exit_code", json_object_new_int(c->value));
		else if (c->spec.type[0] == 'H')
			json_object_object_add(r, "status_code", json_object_new_int(c->value));
		else
			json_object_object_add(r, "succeeded", json_object_new_boolean(c->value));
	}
	json_object_object_add(cs,
			       c->spec.type[0] == 'C'	? "command"
			       : c->spec.type[0] == 'H' ? "http"
							: "tcp",
			       r);
	json_object_object_add(st, "check_status", cs);
}
