/*
 * A scripted fake QMP / guest-agent server for fault injection: it listens
 * on a unix socket, accepts one client and plays a script of sends, expected
 * commands, pauses and closes in a thread of its own. Use real QEMU where it
 * can do the job; this is for what QEMU will not do on demand (split
 * writes, garbage, a peer that hangs or dies mid-message).
 */
#ifndef TESTS_FAKES_QMP_SERVER_H
#define TESTS_FAKES_QMP_SERVER_H

#include <stddef.h>
#include <json-c/json.h>

/* QEMU 7.2's greeting, byte for byte as it writes it (CRLF included). */
#define FQ_GREETING                                                                                \
	"{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "         \
	"\"package\": \"Debian 1:7.2+dfsg-7+deb12u16\"}, \"capabilities\": [\"oob\"]}}\r\n"

enum fq_op {
	FQ_END = 0, /* end of script: keep the connection until the client closes */
	FQ_SEND,    /* write text (placeholders expanded), optionally in pieces */
	FQ_EXPECT,  /* read one command; text (if set) is the expected "execute" */
	FQ_SLEEP,   /* pause ms milliseconds */
	FQ_CLOSE,   /* close the connection and stop */
	FQ_QUIET,   /* fail if the client sends anything within ms milliseconds */
	FQ_ANSWER,  /* for ms milliseconds, answer each command {"return": {}} as qemu
		     * would a query or an action (a client's start-up chatter); with
		     * text, stop early at that command, left unanswered (a FQ_SEND
		     * with @LAST@ answers it); not seeing it in time fails */
};

/*
 * FQ_SEND text may hold placeholders, replaced before sending:
 *   @ID<n>@  the "id" of the n-th command received (0-based)
 *   @LAST@   the "id" of the latest command received
 *   @SYNC@   arguments.id of the latest guest-sync-delimited received
 * len: bytes of text to send when it holds NUL bytes (0 = strlen; no
 * expansion then). split: write in pieces of this many bytes, ms apart
 * (ms 0 = 2 ms), so that the client sees separate reads.
 * first_split: if nonzero, write the first first_split bytes, pause, then
 * the rest (one split at an exact byte boundary).
 */
struct fq_step {
	enum fq_op op;
	const char *text;
	size_t len;
	size_t split;
	size_t first_split;
	unsigned ms;
};

struct fake_qmp;

/* Listen on path (its directory must exist) and run a copy of script (up
 * to FQ_END, which every script must end with) in a thread. NULL on failure. */
struct fake_qmp *fake_qmp_start(const char *path, const struct fq_step *script);
/*
 * Wait (at most timeout_ms) for the script to have run; 0 if every step
 * ran as written, else -1 with the reason in why.
 */
int fake_qmp_wait(struct fake_qmp *f, unsigned timeout_ms, char *why, size_t whylen);
/* Commands received so far (borrowed; valid until fake_qmp_free). */
size_t fake_qmp_ncommands(struct fake_qmp *f);
struct json_object *fake_qmp_command(struct fake_qmp *f, size_t i);
/* Stop the thread, close the sockets, remove the socket file. */
void fake_qmp_free(struct fake_qmp *f);

#endif
