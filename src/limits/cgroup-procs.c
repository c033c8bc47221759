/*
 * libvmcg: a VM's processes (cgroup.procs): count, kill, and removing its
 * cgroups, including the stale ones a previous run left behind.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "src/limits/cgroup-internal.h"

#define CG_RMDIR_WAIT_MS 2000

/* pids listed in one cgroup.procs; *n = count; list malloc'd (may be NULL when empty). */
static int read_procs(const char *path, pid_t **list, int *n, char **err)
{
	char *s, *line, *save = NULL;
	pid_t *v = NULL, *nv;
	int cnt = 0, cap = 0;

	*list = NULL;
	*n = 0;
	if (cg_read(path, &s, err) < 0)
		return -1;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int64_t pid;

		if (cg_parse_i64(line, &pid) < 0 || pid <= 0 || pid > INT_MAX) {
			vmsup_err(err, "%s: bad pid line \"%.20s\"", path, line);
			free(v);
			free(s);
			return -1;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, sizeof(*v) * cap);
			if (!nv) {
				vmsup_err(err, "out of memory");
				free(v);
				free(s);
				return -1;
			}
			v = nv;
		}
		v[cnt++] = (pid_t)pid;
	}
	free(s);
	*list = v;
	*n = cnt;
	return 0;
}

int cg_vm_nprocs(struct cg *cg, const char *vm, int *n, char **err)
{
	char *f;
	pid_t *list;
	int r;

	if (cg_name_valid(vm, err) < 0)
		return -1;
	f = cg_file(cg, cg->hier[0], vm, "cgroup.procs");
	if (!f) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	r = read_procs(f, &list, n, err);
	free(f);
	if (r == 0)
		free(list);
	return r;
}

int cg_vm_kill(struct cg *cg, const char *vm, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	if (cg->mode == CG_MODE_V2) {
		char *f = cg_file(cg, cg->hier[0], vm, "cgroup.kill");
		int r = 1;

		if (!f) {
			vmsup_err(err, "out of memory");
			return -1;
		}
		/* cgroup.kill (5.14+) also catches processes forked while we kill. */
		if (cg_exists(f))
			r = cg_write(f, "1", err);
		free(f);
		if (r <= 0)
			return r;
	}
	for (int i = 0; i < cg->nhier; i++) {
		char *f = cg_file(cg, cg->hier[i], vm, "cgroup.procs");
		pid_t *list;
		int n, r;

		if (!f) {
			vmsup_err(err, "out of memory");
			return -1;
		}
		if (!cg_exists(f)) {
			free(f);
			continue;
		}
		r = read_procs(f, &list, &n, err);
		free(f);
		if (r < 0)
			return -1;
		for (int j = 0; j < n; j++)
			if (kill(list[j], SIGKILL) < 0 && errno != ESRCH) {
				vmsup_err(err, "kill %d: %s", (int)list[j], strerror(errno));
				free(list);
				return -1;
			}
		free(list);
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int rmdir_wait(const char *dir, char **err)
{
	for (int waited = 0;; waited += 20) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		/* EBUSY: tasks are still being released (zombies, exiting threads). */
		if (errno != EBUSY || waited >= CG_RMDIR_WAIT_MS)
			break;
		sleep_ms(20);
	}
	if (errno == EBUSY) {
		char *procs = cg_asprintf("%s/cgroup.procs", dir), *s = NULL;

		if (procs && cg_read(procs, &s, NULL) == 0) {
			for (char *c = s; *c; c++)
				if (*c == '\n')
					*c = ' ';
		}
		vmsup_err(err, "cannot remove cgroup %s: still in use by process(es) %s", dir,
			  s && *s ? s : "(none listed; exiting)");
		free(s);
		free(procs);
		return -1;
	}
	vmsup_err(err, "cannot remove cgroup %s: %s", dir, strerror(errno));
	return -1;
}

int cg_vm_destroy(struct cg *cg, const char *vm, char **err)
{
	int r = 0;

	if (cg_name_valid(vm, err) < 0)
		return -1;
	/* Try every hierarchy even after a failure, so as little as possible is left. */
	for (int i = 0; i < cg->nhier; i++) {
		char *dir = cg_dir(cg, cg->hier[i], vm);

		if (!dir) {
			vmsup_err(err, "out of memory");
			return -1;
		}
		if (rmdir_wait(dir, r < 0 ? NULL : err) < 0)
			r = -1;
		free(dir);
	}
	return r;
}

int cg_cleanup_stale(struct cg *cg, int (*is_live)(const char *vm, void *arg), void *arg,
		     int *removed, char **err)
{
	int count = 0, r = 0;

	for (int i = 0; i < cg->nhier; i++) {
		char *dir = cg_dir(cg, cg->hier[i], NULL);
		struct dirent *de;
		DIR *d;

		if (!dir) {
			vmsup_err(err, "out of memory");
			return -1;
		}
		d = opendir(dir);
		if (!d) {
			vmsup_err(err, "%s: %s", dir, strerror(errno));
			free(dir);
			return -1;
		}
		while ((de = readdir(d))) {
			const char *vm = de->d_name + strlen(CG_VM_PREFIX);

			if (strncmp(de->d_name, CG_VM_PREFIX, strlen(CG_VM_PREFIX)) != 0 ||
			    de->d_type != DT_DIR || cg_name_valid(vm, NULL) < 0)
				continue;
			if (is_live && is_live(vm, arg))
				continue;
			/* Nobody owns it any more: what runs inside is an orphan of a crash. */
			if (cg_vm_kill(cg, vm, r < 0 ? NULL : err) < 0 ||
			    cg_vm_destroy(cg, vm, r < 0 ? NULL : err) < 0)
				r = -1;
			else
				count++;
		}
		closedir(d);
		free(dir);
	}
	if (removed)
		*removed = count;
	return r;
}
