#include "tests/executor/fake-agent-run.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *dir_of(const char *var)
{
	const char *v = getenv(var);
	return v && *v ? v : ".";
}

char *fa_sandbox(void)
{
	char *d = strdup("/tmp/vmexec-sandbox-XXXXXX");
	cr_assert_not_null(mkdtemp(d), "mkdtemp: %s", strerror(errno));
	return d;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

void fa_rmrf(const char *dir)
{
	if (dir)
		nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *fa_slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0, cap = 0;
	int c;
	if (!f)
		return NULL;
	while ((c = fgetc(f)) != EOF) {
		if (n + 2 > cap) {
			cap = cap ? cap * 2 : 4096;
			buf = realloc(buf, cap);
		}
		buf[n++] = (char)c;
	}
	fclose(f);
	if (!buf)
		buf = calloc(1, 1);
	else
		buf[n] = '\0';
	return buf;
}

struct json_object *fa_run(const char *sandbox, const char *const *args)
{
	char agent[4096], exe[4096], outpath[4200];
	const char *argv[64];
	int n = 0, status, fd;
	pid_t pid;
	posix_spawn_file_actions_t fa;

	snprintf(agent, sizeof(agent), "%s/tests/fakes/fake-mesos-agent.py", dir_of("top_srcdir"));
	snprintf(exe, sizeof(exe), "%s/src/executor/mesos-vm-executor", dir_of("top_builddir"));
	snprintf(outpath, sizeof(outpath), "%s.report.json", sandbox);
	argv[n++] = "python3";
	argv[n++] = agent;
	argv[n++] = "--executor";
	argv[n++] = exe;
	argv[n++] = "--sandbox";
	argv[n++] = sandbox;
	for (size_t i = 0; args && args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, fd, 1);
	cr_assert_eq(posix_spawnp(&pid, "python3", &fa, NULL, (char *const *)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(fd);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	char *out = fa_slurp(outpath);
	unlink(outpath);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		free(out);
		cr_skip_test(
		    "the fake Mesos agent needs protoc and python3-protobuf (Debian: "
		    "protobuf-compiler python3-protobuf) to check calls against the schema");
	}
	struct json_object *r = out ? json_tokener_parse(out) : NULL;
	if (!r || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char errpath[4200];
		snprintf(errpath, sizeof(errpath), "%s/stderr", sandbox);
		char *e = fa_slurp(errpath);
		cr_log_error("fake agent status %d, output:\n%s\nexecutor stderr:\n%s", status,
			     out ? out : "", e ? e : "");
		free(e);
	}
	free(out);
	cr_assert_not_null(r, "fake agent gave no report");
	return r;
}

char *fa_states(struct json_object *report, const char *task_id)
{
	struct json_object *ups;
	char *s = calloc(1, 1024);
	json_object_object_get_ex(report, "updates", &ups);
	for (size_t i = 0; i < json_object_array_length(ups); i++) {
		struct json_object *u = json_object_array_get_idx(ups, i);
		if (strcmp(fa_str(u, "task_id"), task_id) != 0)
			continue;
		if (*s)
			strncat(s, ",", 1023 - strlen(s));
		strncat(s, fa_str(u, "state"), 1023 - strlen(s));
	}
	return s;
}

struct json_object *fa_update(struct json_object *report, const char *task_id, const char *state)
{
	struct json_object *ups;
	json_object_object_get_ex(report, "updates", &ups);
	for (size_t i = 0; i < json_object_array_length(ups); i++) {
		struct json_object *u = json_object_array_get_idx(ups, i);
		if (strcmp(fa_str(u, "task_id"), task_id) == 0 &&
		    strcmp(fa_str(u, "state"), state) == 0)
			return u;
	}
	return NULL;
}

int fa_int(struct json_object *o, const char *key)
{
	struct json_object *v;
	cr_assert(json_object_object_get_ex(o, key, &v), "report has no %s", key);
	return json_object_get_int(v);
}

double fa_double(struct json_object *o, const char *key)
{
	struct json_object *v;
	cr_assert(json_object_object_get_ex(o, key, &v), "report has no %s", key);
	return json_object_get_double(v);
}

const char *fa_str(struct json_object *o, const char *key)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

int fa_violations(struct json_object *report)
{
	struct json_object *v;
	json_object_object_get_ex(report, "violations", &v);
	for (size_t i = 0; i < json_object_array_length(v); i++)
		cr_log_error("protocol violation: %s",
			     json_object_get_string(json_object_array_get_idx(v, i)));
	return (int)json_object_array_length(v);
}
