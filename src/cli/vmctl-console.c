/*
 * vmctl console NAME: the VM's serial console, like virsh console. The
 * terminal is put in raw mode (every key goes to the guest, Ctrl-C too)
 * and restored on every way out; Ctrl-] detaches and leaves the VM
 * running. Without a terminal, stdin goes to the guest and vmctl ends once
 * stdin has ended and the console has been quiet for a second.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "src/cli/vmctl.h"
#include "src/client/console.h"
#include "src/util/fdio.h"

#define ESCAPE_CHAR 0x1d /* Ctrl-] */
#define QUIET_MS    1000 /* stdin ended: the guest's last answer comes within this */

enum end { END_DETACH, END_CLOSED, END_INPUT, END_SIGNAL, END_ERROR };

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

/* Keys to the guest up to an escape character: END_DETACH when it came,
 * END_INPUT at stdin's end, -1 to go on. */
static int from_stdin(int sock, int *in_open)
{
	char buf[4096], *esc;
	ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return -1;
	if (n <= 0) {
		*in_open = 0;
		return -1;
	}
	esc = memchr(buf, ESCAPE_CHAR, (size_t)n);
	if (vmsup_write_all(sock, buf, esc ? (size_t)(esc - buf) : (size_t)n))
		return END_CLOSED;
	return esc ? END_DETACH : -1;
}

static enum end relay(int sock)
{
	int in_open = 1;

	for (;;) {
		struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
				      {.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN}};
		char buf[8192];
		int r = poll(p, 2, in_open ? -1 : QUIET_MS);

		if (got_signal)
			return END_SIGNAL;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return END_ERROR;
		if (r == 0)
			return END_INPUT;
		if (p[0].revents) {
			ssize_t n = read(sock, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return END_CLOSED;
			if (vmsup_write_all(STDOUT_FILENO, buf, (size_t)n))
				return END_ERROR;
		}
		if (p[1].revents) {
			int e = from_stdin(sock, &in_open);
			if (e >= 0)
				return (enum end)e;
		}
	}
}

int vmctl_cmd_console(const struct vmctl *g, int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, NULL, 'h'}, {0}};
	struct sigaction sa = {.sa_handler = on_signal}, old[3];
	const int sigs[3] = {SIGTERM, SIGHUP, SIGINT};
	struct termios saved, raw;
	struct vmctl_args a;
	int rc = vmctl_parse_name("console", argc, argv, "h", lo, NULL, NULL, 1, 0, &a), sock, tty;
	long status;
	char *err = NULL;
	const char *nl;
	enum end end;

	if (rc)
		return rc < 0 ? 0 : rc;
	if (vmsup_console_open(g->sock, a.pos[0], &sock, &status, &err)) {
		rc = vmctl_fail(a.pos[0], "%s", err ? err : "out of memory");
		free(err);
		return rc;
	}
	tty = isatty(STDIN_FILENO) && !tcgetattr(STDIN_FILENO, &saved);
	if (tty) {
		raw = saved;
		cfmakeraw(&raw);
		/* raw before the banner, and nothing flushed: what is typed once
		 * it shows goes to the guest (TCSAFLUSH dropped such a line) */
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	nl = tty && isatty(STDERR_FILENO) ? "\r\n" : "\n";
	fprintf(stderr, "Connected to VM '%s'%sEscape character is ^] (Ctrl + ])%s", a.pos[0], nl,
		nl);
	/* no SA_RESTART: the signal ends poll, and the terminal is restored */
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &sa, &old[i]);
	end = relay(sock);
	if (tty)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	for (int i = 0; i < 3; i++)
		sigaction(sigs[i], &old[i], NULL);
	close(sock);
	switch (end) {
	case END_DETACH:
		fputs("\n", stderr);
		return 0;
	case END_INPUT:
		return 0;
	case END_CLOSED:
		return vmctl_fail(a.pos[0], "the console closed (the VM stopped?)");
	case END_SIGNAL:
		return vmctl_fail(a.pos[0], "detached by signal %d", (int)got_signal);
	default:
		return vmctl_fail(a.pos[0], "console: %s", strerror(errno));
	}
}
