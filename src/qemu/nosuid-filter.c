/* The setuid/setgid filter for qemu (see nosuid-filter.h). */
#include "src/qemu/nosuid-filter.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define NOSUID_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define NOSUID_ARCH AUDIT_ARCH_AARCH64
#endif

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6, one number on every architecture */
#endif
#ifndef __O_TMPFILE
#define __O_TMPFILE 020000000 /* O_TMPFILE without O_DIRECTORY */
#endif

#ifdef NOSUID_ARCH

/* the low 32 bits of argument n (little-endian: both architectures above) */
#define ARG(n)	 (offsetof(struct seccomp_data, args) + 8 * (n))
#define LD(off)	 BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v)	 BPF_STMT(BPF_RET | BPF_K, (v))
#define DENY	 RET(SECCOMP_RET_ERRNO | EPERM)
#define SUIDBITS (S_ISUID | S_ISGID)

/* syscall nr: deny if argument m has a set-id bit (4 instructions) */
#define MODE_AT(nr, m)                                                                             \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 3), LD(ARG(m)),                               \
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SUIDBITS, 0, 1), DENY
/* the same for an open: only when flags (argument f) create a file (6) */
#define OPEN_AT(nr, f, m)                                                                          \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 5), LD(ARG(f)),                               \
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, O_CREAT | __O_TMPFILE, 0, 3), LD(ARG(m)),         \
	    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, SUIDBITS, 0, 1), DENY
/* after a MODE_AT/OPEN_AT that did not deny, A holds an argument: reload nr */
#define NR LD(offsetof(struct seccomp_data, nr))

int vm_nosuid_filter(void)
{
	struct sock_filter f[] = {
	    LD(offsetof(struct seccomp_data, arch)),
	    /* a foreign ABI (i386 on x86_64) has other numbers: qemu uses none */
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NOSUID_ARCH, 1, 0),
	    DENY,
	    NR,
#ifdef __x86_64__
	    /* x32 numbers are the x86_64 ones with this bit */
	    BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1),
	    DENY,
	    MODE_AT(SYS_chmod, 1),
	    NR,
	    MODE_AT(SYS_mkdir, 1),
	    NR,
	    MODE_AT(SYS_mknod, 1),
	    NR,
	    MODE_AT(SYS_creat, 1),
	    NR,
	    OPEN_AT(SYS_open, 1, 2),
	    NR,
#endif
	    MODE_AT(SYS_fchmod, 1),
	    NR,
	    MODE_AT(SYS_fchmodat, 2),
	    NR,
	    MODE_AT(SYS_fchmodat2, 2),
	    NR,
	    MODE_AT(SYS_mkdirat, 2),
	    NR,
	    MODE_AT(SYS_mknodat, 2),
	    NR,
	    OPEN_AT(SYS_openat, 2, 3),
	    NR,
	    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
	    RET(SECCOMP_RET_ERRNO | ENOSYS),
	    RET(SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {(unsigned short)(sizeof(f) / sizeof(f[0])), f};

	/* without CAP_SYS_ADMIN the kernel takes a filter only under
	 * no_new_privs; root's qemu keeps its exec semantics */
	if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

#else

int vm_nosuid_filter(void)
{
	return 0;
}

#endif
