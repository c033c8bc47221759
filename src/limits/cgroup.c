/*
 * libvmcg: layout detection, the operations that are the same on v1 and v2
 * (directories, cgroup.procs), and the shared file helpers. The per-version
 * control files live in cgroup-v1.c and cgroup-v2.c.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "src/limits/cgroup-internal.h"

#define CG_READ_MAX	 (1024 * 1024) /* cgroup.procs of a VM is far smaller */
#define CG_RMDIR_WAIT_MS 2000

void cg_err(char **err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (!err)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	free(*err);
	*err = s ? s : strdup("out of memory");
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	return s;
}

char *cg_dir(const struct cg *cg, const char *hier, const char *vm)
{
	if (vm)
		return xasprintf("%s/%s/" CG_VM_PREFIX "%s", hier, cg->parent, vm);
	return xasprintf("%s/%s", hier, cg->parent);
}

int cg_mkdir_parents(const struct cg *cg, const char *hier,
		     int (*each)(const char *dir, char **err), char **err)
{
	char *dir = cg_dir(cg, hier, NULL);
	int r = -1;

	if (!dir) {
		cg_err(err, "out of memory");
		return -1;
	}
	for (char *p = dir + strlen(hier) + 1;; p++) {
		char c = *p;

		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			cg_err(err,
			       "cannot create cgroup %s: %s (cgroupfs must be writable: run as "
			       "root, or give a delegated, writable root)",
			       dir, strerror(errno));
			goto out;
		}
		if (each && each(dir, err) < 0)
			goto out;
		*p = c;
		if (c == '\0')
			break;
	}
	r = 0;
out:
	free(dir);
	return r;
}

char *cg_file(const struct cg *cg, const char *hier, const char *vm, const char *file)
{
	return xasprintf("%s/%s/" CG_VM_PREFIX "%s/%s", hier, cg->parent, vm, file);
}

int cg_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int cg_write(const char *path, const char *s, char **err)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd, e;

	/* O_TRUNC is what a shell's ">" does; cgroupfs ignores it, a plain file needs it. */
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		cg_err(err, "%s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	n = write(fd, s, len);
	e = errno;
	if (close(fd) < 0 && n >= 0) {
		n = -1;
		e = errno;
	}
	if (n < 0) {
		cg_err(err, "writing \"%s\" to %s: %s", s, path, strerror(e));
		/* Callers explain some errnos (EBUSY, ESRCH) further. */
		errno = e;
		return -1;
	}
	if ((size_t)n != len) {
		cg_err(err, "writing \"%s\" to %s: short write (%zd of %zu bytes)", s, path, n,
		       len);
		return -1;
	}
	return 0;
}

int cg_writef(const char *path, char **err, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (r < 0) {
		cg_err(err, "out of memory");
		return -1;
	}
	r = cg_write(path, s, err);
	free(s);
	return r;
}

int cg_read(const char *path, char **out, char **err)
{
	size_t cap = 4096, len = 0;
	char *buf = NULL, *nb;
	ssize_t n;
	int fd, r = -1;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cg_err(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	buf = malloc(cap);
	if (!buf) {
		cg_err(err, "out of memory");
		goto out;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= CG_READ_MAX) {
				cg_err(err, "%s: larger than %d bytes", path, CG_READ_MAX);
				goto out;
			}
			nb = realloc(buf, cap * 2);
			if (!nb) {
				cg_err(err, "out of memory");
				goto out;
			}
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cg_err(err, "reading %s: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int cg_parse_i64(const char *s, int64_t *v)
{
	char *end;
	long long x;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!(*s == '-' || isdigit((unsigned char)*s)))
		return -1;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	while (*end && isspace((unsigned char)*end))
		end++;
	if (*end)
		return -1;
	*v = x;
	return 0;
}

int cg_read_i64(const char *path, int64_t *v, char **err)
{
	char *s;
	int r;

	if (cg_read(path, &s, err) < 0)
		return -1;
	r = cg_parse_i64(s, v);
	if (r < 0)
		cg_err(err, "%s: expected a number, got \"%.40s\"", path, s);
	free(s);
	return r;
}

int cg_read_key_i64(const char *path, const char *key, int64_t *v, char **err)
{
	size_t klen = strlen(key);
	char *s, *line, *save = NULL;
	int r = -1;

	if (cg_read(path, &s, err) < 0)
		return -1;
	for (line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (!strncmp(line, key, klen) && line[klen] == ' ') {
			r = cg_parse_i64(line + klen + 1, v);
			break;
		}
	if (r < 0)
		cg_err(err, "%s: no number for \"%s\"", path, key);
	free(s);
	return r;
}

static int valid_component(const char *s, size_t len)
{
	if (len == 0 || len > 255)
		return 0;
	if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return 0;
	return 1;
}

int cg_name_valid(const char *vm, char **err)
{
	size_t len;

	if (!vm || !*vm) {
		cg_err(err, "empty VM name");
		return -1;
	}
	len = strlen(vm);
	if (len > CG_NAME_MAX || !isalnum((unsigned char)vm[0]) || !valid_component(vm, len)) {
		cg_err(err, "invalid VM name \"%.80s\": want [A-Za-z0-9][A-Za-z0-9_.-]{0,%d}", vm,
		       CG_NAME_MAX - 1);
		return -1;
	}
	return 0;
}

static int valid_parent(const char *p)
{
	const char *s = p, *slash;

	if (!p || !*p || strlen(p) > 1024)
		return 0;
	for (;;) {
		slash = strchr(s, '/');
		if (!valid_component(s, slash ? (size_t)(slash - s) : strlen(s)))
			return 0;
		if (!slash)
			return 1;
		s = slash + 1;
	}
}

/*
 * A v1 hierarchy is a directory under root whose comma-separated name lists
 * the controller ("cpu", "cpu,cpuacct", "cpuacct,cpu", or a symlink to one)
 * and which really holds the controller's file — a bare directory on the
 * tmpfs is not a mount. realpath() makes co-mounted controllers compare equal.
 */
static char *find_v1(const char *root, const char *ctrl, const char *probe)
{
	DIR *d = opendir(root);
	struct dirent *de;
	char *found = NULL;

	if (!d)
		return NULL;
	while (!found && (de = readdir(d))) {
		char *name, *tok, *save = NULL, *probe_path;
		int match = 0;

		if (de->d_name[0] == '.')
			continue;
		name = strdup(de->d_name);
		if (!name)
			break;
		for (tok = strtok_r(name, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			if (strcmp(tok, ctrl) == 0)
				match = 1;
		free(name);
		if (!match)
			continue;
		probe_path = xasprintf("%s/%s/%s", root, de->d_name, probe);
		if (probe_path && cg_exists(probe_path)) {
			char *dir = xasprintf("%s/%s", root, de->d_name);

			found = dir ? realpath(dir, NULL) : NULL;
			free(dir);
		}
		free(probe_path);
	}
	closedir(d);
	return found;
}

static const char *add_hier(struct cg *cg, char *dir)
{
	for (int i = 0; i < cg->nhier; i++) {
		if (strcmp(cg->hier[i], dir) == 0) {
			free(dir);
			return cg->hier[i];
		}
	}
	cg->hier[cg->nhier] = dir;
	return cg->hier[cg->nhier++];
}

static int detect(struct cg *cg, char **err)
{
	struct stat st;
	char *p, *cpu, *acct, *mem;
	int v2;

	if (stat(cg->root, &st) < 0) {
		cg_err(err, "cgroup root %s: %s", cg->root, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		cg_err(err, "cgroup root %s: not a directory", cg->root);
		return -1;
	}
	p = xasprintf("%s/cgroup.controllers", cg->root);
	if (!p) {
		cg_err(err, "out of memory");
		return -1;
	}
	v2 = cg_exists(p);
	free(p);
	if (v2) {
		cg->mode = CG_MODE_V2;
		cg->ops = &cg_v2_ops;
		cg->hier[0] = strdup(cg->root);
		if (!cg->hier[0]) {
			cg_err(err, "out of memory");
			return -1;
		}
		cg->nhier = 1;
		return 0;
	}

	cpu = find_v1(cg->root, "cpu", "cpu.cfs_quota_us");
	acct = find_v1(cg->root, "cpuacct", "cpuacct.usage");
	mem = find_v1(cg->root, "memory", "memory.limit_in_bytes");
	if (!cpu || !acct || !mem) {
		if (!cpu && !acct && !mem)
			cg_err(
			    err,
			    "no cgroup filesystem under %s: neither cgroup v2 (cgroup.controllers) "
			    "nor v1 cpu, cpuacct, memory hierarchies",
			    cg->root);
		else
			cg_err(err, "cgroup v1 under %s lacks controller(s):%s%s%s", cg->root,
			       cpu ? "" : " cpu (with CFS bandwidth, cpu.cfs_quota_us)",
			       acct ? "" : " cpuacct", mem ? "" : " memory");
		free(cpu);
		free(acct);
		free(mem);
		return -1;
	}
	cg->cpu_dir = add_hier(cg, cpu);
	cg->acct_dir = add_hier(cg, acct);
	cg->mem_dir = add_hier(cg, mem);
	cg->ops = &cg_v1_ops;
	cg->mode = CG_MODE_V1;
	p = xasprintf("%s/unified/cgroup.controllers", cg->root);
	if (p && cg_exists(p))
		cg->mode = CG_MODE_HYBRID;
	free(p);
	return 0;
}

int cg_open(struct cg **out, const char *root, const char *parent, char **err)
{
	struct cg *cg;

	*out = NULL;
	if (!valid_parent(parent)) {
		cg_err(err,
		       "invalid cgroup parent \"%.80s\": want components of [A-Za-z0-9_.-] "
		       "separated by '/'",
		       parent ? parent : "(null)");
		return -1;
	}
	if (root && (!*root || root[0] != '/')) {
		cg_err(err, "cgroup root \"%.80s\" must be an absolute path", root);
		return -1;
	}
	cg = calloc(1, sizeof(*cg));
	if (!cg) {
		cg_err(err, "out of memory");
		return -1;
	}
	cg->root = strdup(root ? root : CG_DEFAULT_ROOT);
	cg->parent = strdup(parent);
	if (!cg->root || !cg->parent) {
		cg_err(err, "out of memory");
		goto fail;
	}
	/* A trailing slash would double up in every path we build. */
	for (size_t n = strlen(cg->root); n > 1 && cg->root[n - 1] == '/'; n--)
		cg->root[n - 1] = '\0';
	if (detect(cg, err) < 0 || cg->ops->open(cg, err) < 0)
		goto fail;
	*out = cg;
	return 0;
fail:
	for (int i = 0; i < cg->nhier; i++)
		free(cg->hier[i]);
	free(cg->root);
	free(cg->parent);
	free(cg);
	return -1;
}

void cg_close(struct cg *cg)
{
	if (!cg)
		return;
	for (int i = 0; i < cg->nhier; i++) {
		char *dir = cg_dir(cg, cg->hier[i], NULL);

		/* Deepest first; stops at the first non-empty (or foreign) level. */
		while (dir) {
			char *slash = strrchr(dir, '/');

			if (rmdir(dir) < 0 || !slash ||
			    (size_t)(slash - dir) <= strlen(cg->hier[i]))
				break;
			*slash = '\0';
		}
		free(dir);
		free(cg->hier[i]);
	}
	free(cg->root);
	free(cg->parent);
	free(cg);
}

enum cg_mode cg_mode(const struct cg *cg)
{
	return cg->mode;
}

const char *cg_mode_name(const struct cg *cg)
{
	switch (cg->mode) {
	case CG_MODE_V1:
		return "v1";
	case CG_MODE_HYBRID:
		return "v1 (hybrid)";
	case CG_MODE_V2:
		return "v2";
	}
	return "?";
}

char *cg_vm_path(const struct cg *cg, const char *vm, const char *controller)
{
	const char *h = cg->hier[0];

	if (cg_name_valid(vm, NULL) < 0)
		return NULL;
	if (cg->mode != CG_MODE_V2) {
		if (!controller)
			return NULL;
		if (strcmp(controller, "cpu") == 0)
			h = cg->cpu_dir;
		else if (strcmp(controller, "cpuacct") == 0)
			h = cg->acct_dir;
		else if (strcmp(controller, "memory") == 0)
			h = cg->mem_dir;
		else
			return NULL;
	}
	return cg_dir(cg, h, vm);
}

char *cg_parent_path(const struct cg *cg, const char *controller)
{
	char *p = cg_vm_path(cg, "x", controller), *slash;

	/* Same controller mapping as cg_vm_path; drop the "/vm-x". */
	if (p && (slash = strrchr(p, '/')))
		*slash = '\0';
	return p;
}

int cg_vm_create(struct cg *cg, const char *vm, char **err)
{
	int made[CG_MAX_HIER] = {0};
	int r = -1, i;

	if (cg_name_valid(vm, err) < 0)
		return -1;
	for (i = 0; i < cg->nhier; i++) {
		char *dir = cg_dir(cg, cg->hier[i], vm);

		if (!dir) {
			cg_err(err, "out of memory");
			goto out;
		}
		if (mkdir(dir, 0755) == 0) {
			made[i] = 1;
		} else if (errno != EEXIST) {
			cg_err(err, "cannot create cgroup %s: %s", dir, strerror(errno));
			free(dir);
			goto out;
		}
		free(dir);
	}
	r = 0;
out:
	/* All hierarchies or none: a VM half in a memory cgroup is worse than an error. */
	while (r < 0 && --i >= 0) {
		char *dir = made[i] ? cg_dir(cg, cg->hier[i], vm) : NULL;

		if (dir)
			rmdir(dir);
		free(dir);
	}
	return r;
}

int cg_vm_attach(struct cg *cg, const char *vm, pid_t pid, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	if (pid <= 0) {
		cg_err(err, "invalid pid %d", (int)pid);
		return -1;
	}
	for (int i = 0; i < cg->nhier; i++) {
		char *f = cg_file(cg, cg->hier[i], vm, "cgroup.procs");
		int r;

		if (!f) {
			cg_err(err, "out of memory");
			return -1;
		}
		r = cg_writef(f, err, "%d", (int)pid);
		free(f);
		if (r < 0)
			return -1;
	}
	return 0;
}

int cg_vm_set_cpu(struct cg *cg, const char *vm, int quota_pct, unsigned period_us, char **err)
{
	int64_t quota_us = -1;

	if (cg_name_valid(vm, err) < 0)
		return -1;
	if (period_us == 0)
		period_us = CG_DEFAULT_PERIOD;
	if (period_us < CG_MIN_PERIOD || period_us > CG_MAX_PERIOD) {
		cg_err(err, "CPU period %u µs out of range %u..%u", period_us, CG_MIN_PERIOD,
		       CG_MAX_PERIOD);
		return -1;
	}
	if (quota_pct != CG_CPU_UNLIMITED) {
		if (quota_pct <= 0 || quota_pct > CG_MAX_QUOTA_PCT) {
			cg_err(err, "CPU quota %d%% out of range 1..%d (or %d for unlimited)",
			       quota_pct, CG_MAX_QUOTA_PCT, CG_CPU_UNLIMITED);
			return -1;
		}
		quota_us = (int64_t)quota_pct * period_us / 100;
		if (quota_us < CG_MIN_PERIOD) {
			cg_err(err,
			       "CPU quota %d%% of a %u µs period is %lld µs, below the kernel's "
			       "%u µs minimum (use a longer period)",
			       quota_pct, period_us, (long long)quota_us, CG_MIN_PERIOD);
			return -1;
		}
	}
	return cg->ops->set_cpu(cg, vm, quota_us, period_us, err);
}

int cg_vm_set_weight(struct cg *cg, const char *vm, double cpus, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	if (!isfinite(cpus) || cpus <= 0 || cpus > CG_MAX_CPUS) {
		cg_err(err, "cpus %g out of range (0, %g]", cpus, CG_MAX_CPUS);
		return -1;
	}
	return cg->ops->set_weight(cg, vm, cpus, err);
}

int cg_vm_set_memory_max(struct cg *cg, const char *vm, uint64_t bytes, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	/* Both versions parse a signed 64-bit value. */
	if (bytes > (uint64_t)INT64_MAX / 2) {
		cg_err(err, "memory limit %llu bytes is too large", (unsigned long long)bytes);
		return -1;
	}
	return cg->ops->set_memory_max(cg, vm, bytes, err);
}

int cg_vm_read_memory_max(struct cg *cg, const char *vm, uint64_t *bytes, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	return cg->ops->read_memory_max(cg, vm, bytes, err);
}

int cg_vm_oom_kills(struct cg *cg, const char *vm, uint64_t *n, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	return cg->ops->oom_kills(cg, vm, n, err);
}

int cg_vm_read_cpu(struct cg *cg, const char *vm, struct cg_cpu *out, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	if (cg->ops->read_cpu(cg, vm, out, err) < 0)
		return -1;
	if (out->quota_us < 0 || out->period_us == 0)
		out->quota_pct = CG_CPU_UNLIMITED;
	else
		out->quota_pct = (int)((out->quota_us * 100 + out->period_us / 2) / out->period_us);
	return 0;
}

int cg_vm_cpu_usage_ns(struct cg *cg, const char *vm, uint64_t *ns, char **err)
{
	if (cg_name_valid(vm, err) < 0)
		return -1;
	return cg->ops->cpu_usage_ns(cg, vm, ns, err);
}

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
			cg_err(err, "%s: bad pid line \"%.20s\"", path, line);
			free(v);
			free(s);
			return -1;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, sizeof(*v) * cap);
			if (!nv) {
				cg_err(err, "out of memory");
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
		cg_err(err, "out of memory");
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
			cg_err(err, "out of memory");
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
			cg_err(err, "out of memory");
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
				cg_err(err, "kill %d: %s", (int)list[j], strerror(errno));
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
		char *procs = xasprintf("%s/cgroup.procs", dir), *s = NULL;

		if (procs && cg_read(procs, &s, NULL) == 0) {
			for (char *c = s; *c; c++)
				if (*c == '\n')
					*c = ' ';
		}
		cg_err(err, "cannot remove cgroup %s: still in use by process(es) %s", dir,
		       s && *s ? s : "(none listed; exiting)");
		free(s);
		free(procs);
		return -1;
	}
	cg_err(err, "cannot remove cgroup %s: %s", dir, strerror(errno));
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
			cg_err(err, "out of memory");
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
			cg_err(err, "out of memory");
			return -1;
		}
		d = opendir(dir);
		if (!d) {
			cg_err(err, "%s: %s", dir, strerror(errno));
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
