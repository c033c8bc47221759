/*
 * A stand-in for qemu-system-x86_64 that vmsupd spawns (config key qemu)
 * to reach run states real qemu enters only on a broken host or guest:
 * it answers -version, writes -pidfile and serves the supervisor's QMP
 * socket (-chardev ...,id=qmp,path=P) with the fake QMP server, playing
 * the script the VM's name picks, with the events and replies QEMU 7.2
 * sends (qapi/run-state.json):
 *   ierr*   STOP, then query-status says internal-error (KVM emulation failure)
 *   panicp* GUEST_PANICKED action pause, then STOP (pvpanic, -action panic=pause)
 *   pshut*  GUEST_PANICKED action poweroff, SHUTDOWN reason guest-panic, exit 0
 * Any other name: a VM that just runs. It stays until killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/fakes/qmp-server.h"

#define TS   "\"timestamp\": {\"seconds\": 1764147600, \"microseconds\": 1}"
#define CAPS "{\"return\": {}, \"id\": @LAST@}\r\n"
#define STOP "{" TS ", \"event\": \"STOP\"}\r\n"

#define SEND(t)                                                                                    \
	{                                                                                          \
		.op = FQ_SEND, .text = (t)                                                         \
	}
#define EXPECT(t)                                                                                  \
	{                                                                                          \
		.op = FQ_EXPECT, .text = (t)                                                       \
	}
#define ANSWER(t, n)                                                                               \
	{                                                                                          \
		.op = FQ_ANSWER, .text = (t), .ms = (n)                                            \
	}
#define SLEEP(n)                                                                                   \
	{                                                                                          \
		.op = FQ_SLEEP, .ms = (n)                                                          \
	}
#define CLOSE                                                                                      \
	{                                                                                          \
		.op = FQ_CLOSE                                                                     \
	}
#define END                                                                                        \
	{                                                                                          \
		.op = FQ_END                                                                       \
	}
#define HELLO SEND(FQ_GREETING), EXPECT("qmp_capabilities"), SEND(CAPS)

static const struct fq_step runs[] = {HELLO, ANSWER(NULL, 600000), END};

static const struct fq_step ierr[] = {
    HELLO,
    ANSWER(NULL, 1500),
    SEND(STOP),
    ANSWER("query-status", 20000),
    SEND("{\"return\": {\"status\": \"internal-error\", \"singlestep\": false, "
	 "\"running\": false}, \"id\": @LAST@}\r\n"),
    END};

static const struct fq_step panicp[] = {
    HELLO, ANSWER(NULL, 1500),
    SEND("{" TS ", \"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"pause\"}}\r\n"),
    SEND(STOP), END};

static const struct fq_step pshut[] = {
    HELLO,
    ANSWER(NULL, 1500),
    SEND("{" TS ", \"event\": \"GUEST_PANICKED\", \"data\": {\"action\": \"poweroff\"}}\r\n"),
    SEND("{" TS ", \"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, "
	 "\"reason\": \"guest-panic\"}}\r\n"),
    SLEEP(100),
    CLOSE,
    END};

int main(int argc, char **argv)
{
	const char *name = "", *qmp = NULL, *pidfile = NULL, *p;
	const struct fq_step *script = runs;
	struct fake_qmp *f;
	char why[256], path[108];
	FILE *pf;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-version")) {
			printf("QEMU emulator version 7.2.22 (fake-qemu)\n");
			return 0;
		}
		if (i + 1 >= argc)
			continue;
		if (!strcmp(argv[i], "-name") && !strncmp(argv[i + 1], "guest=", 6))
			name = argv[i + 1] + 6;
		else if (!strcmp(argv[i], "-pidfile"))
			pidfile = argv[i + 1];
		else if (!strcmp(argv[i], "-chardev") && strstr(argv[i + 1], "id=qmp,") &&
			 (p = strstr(argv[i + 1], "path=")))
			qmp = p + 5;
	}
	if (!qmp) {
		fprintf(stderr, "fake-qemu: no -chardev ...,id=qmp,path=\n");
		return 1;
	}
	snprintf(path, sizeof(path), "%.*s", (int)strcspn(qmp, ","), qmp);
	if (pidfile && (pf = fopen(pidfile, "w"))) {
		fprintf(pf, "%d\n", (int)getpid());
		fclose(pf);
	}
	if (!strncmp(name, "ierr", 4))
		script = ierr;
	else if (!strncmp(name, "panicp", 6))
		script = panicp;
	else if (!strncmp(name, "pshut", 5))
		script = pshut;
	if (!(f = fake_qmp_start(path, script))) {
		fprintf(stderr, "fake-qemu: cannot listen on %s\n", path);
		return 1;
	}
	if (fake_qmp_wait(f, 600000, why, sizeof(why)))
		fprintf(stderr, "fake-qemu: %s\n", why);
	if (script == pshut) {
		/* qemu quits after a SHUTDOWN with the panic action poweroff */
		fake_qmp_free(f);
		return 0;
	}
	for (;;)
		pause();
}
