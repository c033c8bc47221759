/* The setuid/setgid filter for qemu (see nosuid-filter.h). */
#include "src/qemu/nosuid-filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "src/util/err.h"

#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000 /* O_TMPFILE without O_DIRECTORY */
#endif

/* fchmodat2 (Linux 6.6) by name where libseccomp knows it, else by the
 * number it has on every architecture */
#define FCHMODAT2_NR 452

static struct sock_fprog prog; /* built once, read by every spawn child */
static char build_err[256];
static int build_errno; /* of the last failed build */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* Deny nr with EPERM when argument m has a set-id bit (and, for an open,
 * argument f creates a file: f < 0 for none). 0, or a -errno. */
static int deny_setid(scmp_filter_ctx c, int nr, int f, unsigned m)
{
	static const unsigned bits[] = {S_ISUID, S_ISGID};
	static const unsigned creates[] = {O_CREAT, __O_TMPFILE};
	int rc = 0;

	for (size_t b = 0; b < 2 && !rc; b++) {
		struct scmp_arg_cmp mode = SCMP_CMP(m, SCMP_CMP_MASKED_EQ, bits[b], bits[b]);
		if (f < 0) {
			rc = seccomp_rule_add(c, SCMP_ACT_ERRNO(EPERM), nr, 1, mode);
			continue;
		}
		for (size_t k = 0; k < 2 && !rc; k++)
			rc = seccomp_rule_add(
			    c, SCMP_ACT_ERRNO(EPERM), nr, 2, mode,
			    SCMP_CMP((unsigned)f, SCMP_CMP_MASKED_EQ, creates[k], creates[k]));
	}
	return rc;
}

/* The rules (a syscall this architecture lacks, such as chmod on aarch64, is skipped). */
static int add_rules(scmp_filter_ctx c)
{
	static const struct {
		const char *name;
		int f;
		unsigned m;
	} r[] = {
	    {"chmod", -1, 1},	{"fchmod", -1, 1}, {"fchmodat", -1, 2}, {"mkdir", -1, 1},
	    {"mkdirat", -1, 2}, {"mknod", -1, 1},  {"mknodat", -1, 2},	{"creat", -1, 1},
	    {"open", 1, 2},	{"openat", 2, 3},
	};
	int nr, rc = 0;

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]) && !rc; i++)
		if ((nr = seccomp_syscall_resolve_name(r[i].name)) >= 0)
			rc = deny_setid(c, nr, r[i].f, r[i].m);
	nr = seccomp_syscall_resolve_name("fchmodat2");
	if (!rc)
		rc = deny_setid(c, nr >= 0 ? nr : FCHMODAT2_NR, -1, 2);
	/* openat2's mode is in a struct the filter cannot read: callers
	 * (glibc, qemu) fall back to openat on ENOSYS */
	if (!rc && (nr = seccomp_syscall_resolve_name("openat2")) >= 0)
		rc = seccomp_rule_add(c, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
	return rc;
}

/* The filter as BPF, into prog (through a memfd: libseccomp 2.5 exports to an fd). */
static int export(scmp_filter_ctx c)
{
	int fd = memfd_create("vmsup-nosuid", MFD_CLOEXEC), rc;
	off_t n;

	if (fd < 0)
		return -errno;
	if ((rc = seccomp_export_bpf(c, fd)) < 0)
		goto out;
	if ((n = lseek(fd, 0, SEEK_CUR)) <= 0 || n % sizeof(struct sock_filter) ||
	    n / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		rc = -EINVAL;
		goto out;
	}
	prog.filter = malloc((size_t)n);
	if (!prog.filter) {
		rc = -ENOMEM;
		goto out;
	}
	if (pread(fd, prog.filter, (size_t)n, 0) != n) {
		rc = errno ? -errno : -EIO;
		free(prog.filter);
		prog.filter = NULL;
		goto out;
	}
	prog.len = (unsigned short)(n / sizeof(struct sock_filter));
out:
	close(fd);
	return rc;
}

static void build(void)
{
	scmp_filter_ctx c = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (!c) {
		build_errno = ENOMEM;
		snprintf(build_err, sizeof(build_err), "seccomp_init failed");
		return;
	}
	/* a foreign ABI (i386 or x32 on x86_64) has other numbers: qemu uses none */
	rc = seccomp_attr_set(c, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO(EPERM));
	/* no_new_privs is the spawn child's business (root's qemu keeps exec) */
	if (!rc)
		rc = seccomp_attr_set(c, SCMP_FLTATR_CTL_NNP, 0);
	if (!rc)
		rc = add_rules(c);
	if (!rc)
		rc = export(c);
	if (rc) {
		build_errno = -rc;
		snprintf(build_err, sizeof(build_err), "building it: %s", strerror(-rc));
	}
	seccomp_release(c);
}

int vm_nosuid_filter_prepare(char **err)
{
	/* built once; a failure (out of descriptors for the memfd, say) is
	 * tried again at the next spawn */
	pthread_mutex_lock(&lock);
	if (!prog.filter)
		build();
	pthread_mutex_unlock(&lock);
	if (prog.filter)
		return 0;
	vmsup_err(err, "the setuid/setgid seccomp filter: %s", build_err);
	errno = build_errno;
	return -1;
}

int vm_nosuid_filter(void)
{
	if (!prog.filter) {
		errno = EINVAL;
		return -1;
	}
	/* without CAP_SYS_ADMIN the kernel takes a filter only under
	 * no_new_privs; root's qemu keeps its exec semantics */
	if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}
