#include "src/executor/launch-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/executor/shquote.h"

int launch_path_is_plain(const char *p)
{
	for (; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= '0' && *p <= '9') || strchr("/_.-:=+,@", *p)))
			return 0;
	return 1;
}

char *launch_started_marker(const struct launcher *l, const struct task *t)
{
	char *p = NULL;
	if (asprintf(&p, "%s/.vm-started-%s", l->env->directory, t->spec.task_id) < 0)
		return NULL;
	return p;
}

/*
 * The launcher script lives in the sandbox, which the guest sees at the same
 * path, so the command never crosses ssh as a quoted string.
 */
char *launch_write_launcher(struct launcher *l, struct task *t, char **err)
{
	const char *dir = l->env->directory;
	char *path = NULL, *tmp = NULL;
	FILE *f = NULL;
	int fd = -1;

	if (asprintf(&path, "%s/.vm-launcher-%s.sh", dir, t->spec.task_id) < 0 ||
	    asprintf(&tmp, "%s.tmp", path) < 0) {
		*err = strdup("out of memory");
		goto bad;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (asprintf(err, "cannot write %s: %s", tmp, strerror(errno)) < 0)
			*err = NULL;
		if (fd >= 0)
			close(fd);
		goto bad;
	}
	fputs("#!/bin/sh\n# written by mesos-vm-executor; runs inside the task's VM\n", f);
	if (t->spec.user && strcmp(t->spec.user, "root") != 0) {
		/* ssh lands as root; drop to the task's user, then run this again. */
		fputs("if [ -z \"$VMEXEC_AS_USER\" ]; then exec su -s /bin/sh ", f);
		sh_quote(f, t->spec.user);
		fputs(" -c \"VMEXEC_AS_USER=1 exec /bin/sh '$0'\"; fi\n", f);
	}
	fputs("cd ", f);
	sh_quote(f, dir);
	fputs(" || exit 127\nexport MESOS_SANDBOX=", f);
	sh_quote(f, dir);
	fputs(" MESOS_DIRECTORY=", f);
	sh_quote(f, dir);
	fputs(" MESOS_TASK_ID=", f);
	sh_quote(f, t->spec.task_id);
	fputc('\n', f);
	for (size_t i = 0; i < t->spec.nenv; i++) {
		fprintf(f, "export %s=", t->spec.env[i].name);
		sh_quote(f, t->spec.env[i].value);
		fputc('\n', f);
	}
	/* The sandbox is the host's directory: this file appearing there is how
	 * the executor learns the command is about to start (TASK_RUNNING). */
	char *marker = launch_started_marker(l, t);
	if (!marker) {
		*err = strdup("out of memory");
		fclose(f);
		goto bad;
	}
	unlink(marker); /* a previous run's marker must not count */
	/* $$ is the command's pid too (exec keeps it): KILL signals it. */
	fputs("echo $$ > ", f);
	sh_quote(f, marker);
	fputs(" || exit 127\n", f);
	free(marker);
	if (t->spec.shell) {
		fputs("exec /bin/sh -c ", f);
		sh_quote(f, t->spec.value);
	} else {
		/* sh cannot set argv[0]: the program gets arguments[1..]. */
		fputs("exec ", f);
		sh_quote(f, t->spec.value);
		for (size_t i = 1; i < t->spec.argc; i++) {
			fputc(' ', f);
			sh_quote(f, t->spec.argv[i]);
		}
	}
	fputc('\n', f);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		f = NULL;
		if (asprintf(err, "cannot write %s: %s", path, strerror(errno)) < 0)
			*err = NULL;
		goto bad;
	}
	free(tmp);
	return path;
bad:
	if (tmp)
		unlink(tmp);
	free(tmp);
	free(path);
	return NULL;
}
