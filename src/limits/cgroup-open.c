/*
 * libvmcg: names, layout detection (v1 hierarchies or the v2 unified tree),
 * opening and closing a handle, and the public path getters.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/limits/cgroup-internal.h"

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
		vmsup_err(err, "empty VM name");
		return -1;
	}
	len = strlen(vm);
	if (len > CG_NAME_MAX || !isalnum((unsigned char)vm[0]) || !valid_component(vm, len)) {
		vmsup_err(err, "invalid VM name \"%.80s\": want [A-Za-z0-9][A-Za-z0-9_.-]{0,%d}",
			  vm, CG_NAME_MAX - 1);
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
		probe_path = cg_asprintf("%s/%s/%s", root, de->d_name, probe);
		if (probe_path && cg_exists(probe_path)) {
			char *dir = cg_asprintf("%s/%s", root, de->d_name);

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
		vmsup_err(err, "cgroup root %s: %s", cg->root, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		vmsup_err(err, "cgroup root %s: not a directory", cg->root);
		return -1;
	}
	p = cg_asprintf("%s/cgroup.controllers", cg->root);
	if (!p) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	v2 = cg_exists(p);
	free(p);
	if (v2) {
		cg->mode = CG_MODE_V2;
		cg->ops = &cg_v2_ops;
		cg->hier[0] = strdup(cg->root);
		if (!cg->hier[0]) {
			vmsup_err(err, "out of memory");
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
			vmsup_err(
			    err,
			    "no cgroup filesystem under %s: neither cgroup v2 (cgroup.controllers) "
			    "nor v1 cpu, cpuacct, memory hierarchies",
			    cg->root);
		else
			vmsup_err(err, "cgroup v1 under %s lacks controller(s):%s%s%s", cg->root,
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
	p = cg_asprintf("%s/unified/cgroup.controllers", cg->root);
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
		vmsup_err(err,
			  "invalid cgroup parent \"%.80s\": want components of [A-Za-z0-9_.-] "
			  "separated by '/'",
			  parent ? parent : "(null)");
		return -1;
	}
	if (root && (!*root || root[0] != '/')) {
		vmsup_err(err, "cgroup root \"%.80s\" must be an absolute path", root);
		return -1;
	}
	cg = calloc(1, sizeof(*cg));
	if (!cg) {
		vmsup_err(err, "out of memory");
		return -1;
	}
	cg->root = strdup(root ? root : CG_DEFAULT_ROOT);
	cg->parent = strdup(parent);
	if (!cg->root || !cg->parent) {
		vmsup_err(err, "out of memory");
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
