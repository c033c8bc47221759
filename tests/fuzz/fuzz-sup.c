#include "tests/fuzz/fuzz-sup.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/util/log.h"

static struct fuzz_sup fs;

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path); /* what cannot go stays in /tmp: nothing to fail on */
	return 0;
}

static void cleanup(void)
{
	/* FTW_MOUNT: a fresh mkdtemp dir has no mounts, and must not cross one */
	nftw(fs.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void must(int ok, const char *what, const char *err)
{
	if (!ok) {
		fprintf(stderr, "fuzz-sup: %s: %s\n", what, err ? err : "failed");
		abort();
	}
}

/* key = prefix suffix */
static void set(struct vmsup_config *c, const char *key, const char *prefix, const char *suffix)
{
	char v[256], *err = NULL;

	snprintf(v, sizeof(v), "%s%s", prefix, suffix);
	must(vmsup_config_set(c, key, v, &err) == 0, key, err);
}

struct fuzz_sup *fuzz_sup_get(void)
{
	struct vmsup_config c;
	char qemu[96], *err = NULL;
	FILE *f;

	if (fs.sup)
		return &fs;
	/* in memory where there is a tmpfs: a state file write is an fsync,
	 * which on a disk would cost more than the rest of an input */
	snprintf(fs.dir, sizeof(fs.dir), "/dev/shm/vmsup-fuzz.XXXXXX");
	if (!mkdtemp(fs.dir)) {
		snprintf(fs.dir, sizeof(fs.dir), "/tmp/vmsup-fuzz.XXXXXX");
		must(mkdtemp(fs.dir) != NULL, "mkdtemp", NULL);
	}
	atexit(cleanup);
	snprintf(fs.sock, sizeof(fs.sock), "%s/api.sock", fs.dir);
	snprintf(qemu, sizeof(qemu), "%s/qemu", fs.dir);
	/* vmsup_new probes qemu -version: the stand-in answers that, and
	 * would run nothing if a spawn ever reached it */
	must((f = fopen(qemu, "w")) != NULL, qemu, NULL);
	fputs("#!/bin/sh\necho 'QEMU emulator version 8.2.2'\n", f);
	must(fclose(f) == 0 && chmod(qemu, 0755) == 0, qemu, NULL);
	must(vmsup_config_init(&c, &err) == 0, "config", err);
	set(&c, "qemu", qemu, "");
	set(&c, "run_dir", fs.dir, "/run");
	set(&c, "state_dir", fs.dir, "/state");
	set(&c, "socket", fs.sock, "");
	set(&c, "default_kernel", qemu, "");
	set(&c, "log_level", "error", "");
	must(vmsup_config_finish(&c, &err) == 0, "config", err);
	vmsup_log_setup(c.log_level, c.log_format);
	must((fs.base = event_base_new()) != NULL, "event_base_new", NULL);
	must((fs.sup = vmsup_new(fs.base, &c, &err)) != NULL, "vmsup_new", err);
	vmsup_config_release(&c);
	return &fs;
}
