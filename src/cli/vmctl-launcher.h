/* vmctl: rendering scripts/vm-launcher.sh.in for one task. */
#ifndef VMCTL_LAUNCHER_H
#define VMCTL_LAUNCHER_H

#include <stddef.h>

struct vmctl_share {
	const char *tag;  /* 9p mount tag */
	const char *path; /* same path in host and guest */
	int readonly;
};

struct vmctl_launch {
	const char *task_id;
	const char *workdir; /* NULL: the login directory */
	char *const *env;    /* "K=V"; K a shell variable name */
	size_t nenv;
	const struct vmctl_share *shares;
	size_t nshares;
	char *const *argv;
	size_t argc;
};

/* The template built into vmctl (generated from scripts/vm-launcher.sh.in). */
extern const char vmctl_launcher_template[];

/* The rendered script (malloc'd), or NULL with *err (malloc'd) for an
 * invalid value (bad env name, empty command). */
char *vmctl_launcher_render(const char *tmpl, const struct vmctl_launch *l, char **err);

#endif
