/* vmctl: launcher rendering. Values become quoted shell words only. */
#include "config.h"

#include "src/cli/vmctl-launcher.h"
#include "src/cli/vmctl-shell.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sb {
	char *s;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sb *b, const char *p, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		char *s;

		while (cap < b->len + n + 1)
			cap *= 2;
		s = realloc(b->s, cap);
		if (!s) {
			b->oom = 1;
			return;
		}
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

/* Appends s as one quoted word (an owned copy is freed here). */
static void sb_word(struct sb *b, const char *s)
{
	char *q = vmctl_shell_quote(s);

	if (!q) {
		b->oom = 1;
		return;
	}
	sb_str(b, q);
	free(q);
}

/* A name `export` takes literally: [A-Za-z_][A-Za-z0-9_]*. */
static int valid_env_name(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_'))
			return 0;
	}
	return 1;
}

static int fill(struct sb *b, const char *key, size_t klen, const struct vmctl_launch *l,
		char **err)
{
	size_t i;

#define IS(k) (klen == strlen(k) && memcmp(key, k, klen) == 0)
	if (IS("TASK_ID")) {
		sb_word(b, l->task_id ? l->task_id : "");
	} else if (IS("WORKDIR")) {
		sb_word(b, l->workdir ? l->workdir : "");
	} else if (IS("MOUNTS")) {
		for (i = 0; i < l->nshares; i++) {
			sb_str(b, "share ");
			sb_word(b, l->shares[i].tag);
			sb_str(b, " ");
			sb_word(b, l->shares[i].path);
			sb_str(b, l->shares[i].readonly ? " ro\n" : " rw\n");
		}
	} else if (IS("ENV")) {
		for (i = 0; i < l->nenv; i++) {
			const char *eq = strchr(l->env[i], '=');

			if (!eq || !valid_env_name(l->env[i], eq - l->env[i])) {
				if (asprintf(err,
					     "invalid environment entry '%s' (want NAME=VALUE)",
					     l->env[i]) < 0)
					*err = NULL;
				return -1;
			}
			sb_str(b, "export ");
			sb_add(b, l->env[i], eq - l->env[i] + 1);
			sb_word(b, eq + 1);
			sb_str(b, "\n");
		}
	} else if (IS("COMMAND")) {
		char *cmd = vmctl_shell_join(l->argv, l->argc);

		if (!cmd) {
			b->oom = 1;
			return -1;
		}
		sb_str(b, cmd);
		free(cmd);
	} else {
		/* Not one of ours: keep the text as it is. */
		sb_add(b, key - 1, klen + 2);
	}
#undef IS
	return 0;
}

char *vmctl_launcher_render(const char *tmpl, const struct vmctl_launch *l, char **err)
{
	struct sb b = {0};
	const char *p = tmpl, *at, *end;

	*err = NULL;
	if (l->argc == 0 || !l->argv) {
		*err = strdup("no command to run");
		return NULL;
	}
	while ((at = strchr(p, '@'))) {
		sb_add(&b, p, at - p);
		end = at + 1 + strspn(at + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_");
		if (*end != '@' || end == at + 1) {
			sb_add(&b, at, 1);
			p = at + 1;
			continue;
		}
		if (fill(&b, at + 1, end - at - 1, l, err) < 0)
			goto fail;
		p = end + 1;
	}
	sb_str(&b, p);
	if (b.oom)
		goto fail;
	return b.s;
fail:
	if (!*err)
		*err = strdup("out of memory");
	free(b.s);
	return NULL;
}
