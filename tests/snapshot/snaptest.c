#include "tests/snapshot/snaptest.h"

#include <errno.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/snapshot/template.h"

int st_have_guest(void)
{
	return th_guest_dir() && th_have_qemu();
}

int st_env_init(struct st_env *e, const char *what)
{
	memset(e, 0, sizeof(*e));
	if (snprintf(e->sdir, sizeof(e->sdir), "/tmp/vmsnap-%s-XXXXXX", what) >=
	    (int)sizeof(e->sdir)) {
		fprintf(stderr, "snaptest: name '%s' too long\n", what);
		e->sdir[0] = '\0';
		return -1;
	}
	if (!mkdtemp(e->sdir)) {
		fprintf(stderr, "snaptest: mkdtemp %s: %s\n", e->sdir, strerror(errno));
		e->sdir[0] = '\0';
		return -1;
	}
	e->base = event_base_new();
	if (!e->base) {
		fprintf(stderr, "snaptest: event_base_new failed\n");
		st_env_fini(e);
		return -1;
	}
	return 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	if (remove(path) < 0) {
		fprintf(stderr, "snaptest: remove %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

int st_env_fini(struct st_env *e)
{
	int rc = 0;

	if (e->sdir[0] && nftw(e->sdir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		rc = -1;
	e->sdir[0] = '\0';
	if (e->base)
		event_base_free(e->base);
	e->base = NULL;
	return rc;
}

void st_on_done(const struct snap_stats *st, const char *err, void *arg)
{
	struct st_res *r = arg;

	r->done = 1;
	r->st = *st;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
}

void st_on_refresh(const struct snap_refresh_result *r, void *arg)
{
	struct st_refres *f = arg;

	f->r = *r;
	f->done = 1;
}

static int fail(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **err, const char *fmt, ...)
{
	va_list ap;

	free(*err);
	va_start(ap, fmt);
	if (vasprintf(err, fmt, ap) < 0)
		*err = NULL;
	va_end(ap);
	return -1;
}

int st_wait_crng(struct th_guest *g, char **err)
{
	char *out = NULL;
	int st, n = 0;

	for (int i = 0; i < 120; i++) {
		if (th_guest_sh(g,
				"head -c1 /dev/random >/dev/null; dmesg | grep -c 'crng init done'",
				&out, &st, 120000) < 0)
			return fail(err, "guest-exec in the guest failed");
		n = atoi(out);
		free(out);
		out = NULL;
		if (n > 0)
			return 0;
		sleep(1);
	}
	return fail(err, "guest crng never initialised");
}

int st_save_template(struct st_env *e, struct th_guest *g, const char *name, unsigned timeout_ms,
		     struct st_res *save, char **err)
{
	struct tmpl_new tn = {0};
	struct snap_save_opts so = {
	    .timeout_ms = timeout_ms, .ignore_shared = e->ignore_shared, .state_fd = -1};
	struct json_object *dc = NULL, *meta = NULL;
	int rc = -1;

	if (tmpl_begin(e->sdir, name, &tn, err) < 0)
		return -1;
	so.state_path = tn.state_path;
	memset(save, 0, sizeof(*save));
	if (!snap_save(e->base, g->qmp, &so, st_on_done, save, err))
		goto out;
	/* snap_save's own timeout ends it first; this bounds a lost callback */
	th_run_until(e->base, &save->done, timeout_ms + 10000);
	if (!save->done || save->err[0]) {
		fail(err, "save: %s", save->done ? save->err : "never finished");
		goto out;
	}
	dc = snap_devconfig((const char *const *)g->vm.argv, err);
	if (!dc)
		goto out;
	meta = tmpl_meta_new(name, qmp_version(g->qmp), NULL, dc, NULL, &save->st);
	if (!meta) {
		fail(err, "out of memory");
		goto out;
	}
	rc = tmpl_commit(&tn, meta, err);
out:
	if (rc < 0)
		tmpl_abort(&tn);
	json_object_put(meta);
	json_object_put(dc);
	return rc;
}

struct th_opts st_restore_opts(const struct th_opts *base, const char *mac, int fd)
{
	struct th_opts o = {0};

	if (base)
		o = *base;
	o.incoming = snap_restore_argv();
	if (mac)
		o.mac = mac; /* the guest's NIC state carries the template's MAC */
	o.pass_fd = fd >= 0;
	o.state_fd = fd;
	return o;
}

int st_restore_begin(struct st_env *e, struct th_guest *g, const char *state_path,
		     unsigned timeout_ms, struct st_res *r, char **err)
{
	struct snap_restore_opts ro = {.ignore_shared = e->ignore_shared,
				       .state_path = state_path,
				       .state_fd = g->vm.opts.pass_fd ? 3 : -1,
				       .timeout_ms = timeout_ms,
				       .resume = 1};

	memset(r, 0, sizeof(*r));
	if (!g->vm.opts.incoming)
		return fail(err, "not prepared for a restore (st_restore_opts)");
	if (th_guest_start(g, e->base, NULL) < 0)
		return fail(err, "qemu did not start");
	return snap_restore(e->base, g->qmp, &ro, st_on_done, r, err) ? 0 : -1;
}
