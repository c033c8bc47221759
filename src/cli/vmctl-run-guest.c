/*
 * vmctl run: waiting on the guest. Its address through the agent, the sshd
 * banner on the forwarded port, a first login; each gives up at the deadline
 * or as soon as the VM is seen dead.
 */
#include "config.h"

#include "src/cli/vmctl-run-internal.h"

#include "src/client/client.h"
#include "src/cli/vmctl-exec.h"
#include "src/cli/vmctl-shell.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* the address is asked for this long at a time (see vmctl_run_wait_ip) */
#define IP_SLICE_S 2
/* the console's lines printed when the guest never answered */
#define CONSOLE_TAIL_LINES 20

/*
 * The VM died while we wait for its guest (qemu crashed, OOM-killed,
 * destroyed by someone else): say why, once, and stop waiting. Asked at
 * most every half second, so a dead VM is noticed within a second.
 */
static int vm_died(struct run *r, const char *name, double *next_check)
{
	char why[600];

	if (vmctl_run_now() < *next_check)
		return 0;
	*next_check = vmctl_run_now() + 0.5;
	if (!vmctl_vm_dead(&r->g, name, why, sizeof(why)))
		return 0;
	vmctl_fail(name, "%s", why);
	r->death_told = 1;
	return 1;
}

/* sshd answering on the forwarded port (vmctl_ssh_wait_banner). -1 when
 * it never came, -2 when the VM died; either reported. */
int vmctl_run_wait_ssh_banner(struct run *r, const char *name, const char *host, long port,
			      double deadline)
{
	char why[600];
	int rc = vmctl_ssh_wait_banner(&r->g, name, host, port, deadline - vmctl_run_now(), why,
				       sizeof(why));

	if (rc == -2) {
		vmctl_fail(name, "%s", why);
		r->death_told = 1;
	} else if (rc == -1) {
		vmctl_fail(name, "no ssh server answers in the guest: %s", why);
	}
	return rc;
}

int vmctl_run_ssh_status(struct run *r, const char *name, double deadline, struct json_object **vm)
{
	char path[160], ip[200], *err = NULL;
	struct json_object *reply = NULL;
	const char *host;
	struct in_addr a;
	double check = 0;
	long status;
	int rc;

	snprintf(path, sizeof(path), "/v1/vms/%s", name);
	snprintf(ip, sizeof(ip), "/v1/vms/%s/ip?wait=%d", name, IP_SLICE_S);
	for (;;) {
		rc = vmctl_call(&r->g, name, "GET", path, NULL, 30000, vm, NULL);
		if (rc || vmctl_signal)
			return rc;
		host = vmctl_ssh_host(*vm);
		if ((host && inet_pton(AF_INET, host, &a) == 1) || vmctl_run_now() >= deadline)
			return 0;
		json_object_put(*vm);
		*vm = NULL;
		if (vm_died(r, name, &check))
			return VMCTL_EXIT_ERR;
		/* The status has the address the agent last gave; only this
		 * asks the agent again (waiting up to the slice for one). */
		if (vmsup_request(r->g.sock, "GET", ip, NULL, (IP_SLICE_S + 30) * 1000, &status,
				  &reply, &err) < 0) {
			rc = vmctl_fail(name, "%s", err);
			free(err);
			return rc;
		}
		json_object_put(reply);
		reply = NULL;
		if (status != 200) /* no agent to wait on: not a busy loop */
			poll(NULL, 0, 250);
	}
}

/*
 * A session that logs in and runs `true` before the task's: an sshd that
 * answers its banner may still drop connections (a guest generating its
 * host key, the agent still pushing ours), and the task's own session
 * cannot be retried, as its command may have run. Retried until the
 * deadline; the last failure's message is reported.
 */
int vmctl_run_ssh_ready(struct run *r, const char *name, struct json_object *vm, const char *dir,
			const char *kh)
{
	char *errpath = NULL, line[512] = "", last[512] = "";
	int fd = -1, status = 255, rc = VMCTL_EXIT_ERR, tries = 0;
	double check = 0;
	FILE *f;

	if (asprintf(&errpath, "%s/ssh-probe.err", dir) < 0)
		return vmctl_fail(name, "out of memory");
	while (!vmctl_signal) {
		struct vmctl_ssh_opts so = {.key = r->key, .known_hosts = kh};

		fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0) {
			rc = vmctl_fail(name, "%s: %s", errpath, strerror(errno));
			goto out;
		}
		so.probe_err = fd;
		rc = vmctl_exec_ssh(name, vm, &so, "true", &status);
		close(fd);
		tries++;
		if (rc)
			goto out;
		if (status == 0)
			break;
		if (vm_died(r, name, &check)) {
			rc = VMCTL_EXIT_ERR;
			goto out;
		}
		if (vmctl_run_now() >= r->deadline) {
			if ((f = fopen(errpath, "re"))) {
				while (fgets(line, sizeof(line), f))
					if (line[strspn(line, " \t\r\n")])
						memcpy(last, line, sizeof(last));
				fclose(f);
			}
			last[strcspn(last, "\r\n")] = '\0';
			rc = vmctl_fail(name, "ssh into the guest failed %d times, last: %s", tries,
					*last ? last : "no message");
			goto out;
		}
		poll(NULL, 0, 500);
	}
	r->t.sshd = vmctl_run_now();
	if (tries > 1) {
		snprintf(line, sizeof(line), "after %d tries", tries);
		vmctl_run_progress(r, "ssh ready", line);
	} else {
		vmctl_run_progress(r, "ssh ready", "");
	}
	rc = 0;
out:
	free(errpath);
	return rc;
}

/* The console's last lines (GET .../logs) into buf; "" when unknown. */
static void console_tail(struct run *r, const char *name, char *buf, size_t size)
{
	struct json_object *o = NULL, *v;
	char path[160], *err = NULL;
	long status = 0;

	*buf = '\0';
	snprintf(path, sizeof(path), "/v1/vms/%s/logs?tail=%d", name, CONSOLE_TAIL_LINES);
	if (vmsup_request(r->g.sock, "GET", path, NULL, 5000, &status, &o, &err) < 0)
		free(err);
	else if (status == 200 && json_object_object_get_ex(o, "log", &v))
		snprintf(buf, size, "%s", json_object_get_string(v));
	json_object_put(o);
}

/* A guest that never answered: its console says why more often than not. */
static void tell_console(struct run *r, const char *name, const char *tail)
{
	char buf[8192];

	if (!tail) {
		console_tail(r, name, buf, sizeof(buf));
		tail = buf;
	}
	if (*tail)
		fprintf(stderr, "vmctl: %s: the console's last lines:\n%s%s", name, tail,
			tail[strlen(tail) - 1] == '\n' ? "" : "\n");
}

/*
 * The address, asked in slices of IP_SLICE_S so that between them a VM
 * whose qemu exited, or whose kernel panicked (it hangs on, running), ends
 * the wait at once instead of at the deadline; either way the console's
 * last lines and the reason are printed.
 */
int vmctl_run_wait_ip(struct run *r, const char *name, double deadline, struct json_object **ipr)
{
	char path[160], *err = NULL, b[64], tail[8192];
	long status = 0;
	double check = 0, t0 = vmctl_run_now();
	int rc;

	for (;;) {
		long left = (long)(deadline - vmctl_run_now()) + 1;
		long slice = left > IP_SLICE_S ? IP_SLICE_S : left > 1 ? left : 1;
		double t = vmctl_run_now();

		snprintf(path, sizeof(path), "/v1/vms/%s/ip?wait=%ld", name, slice);
		rc = vmsup_request(r->g.sock, "GET", path, NULL, (slice + 30) * 1000, &status, ipr,
				   &err);
		if (rc < 0) {
			rc = vmctl_fail(name, "%s", err);
			free(err);
			return rc;
		}
		if (status >= 200 && status <= 299) {
			r->t.ip = vmctl_run_now();
			vmctl_run_progress(r, "agent ready, address",
					   vmctl_field(*ipr, "ip", b, sizeof(b)));
			return 0;
		}
		/* answered at once: the VM has no agent to wait for */
		if (vmctl_run_now() - t < 1.0) {
			if (r->via == VMCTL_VIA_SSH && (status == 501 || status == 503) &&
			    left > 2) {
				vmctl_run_progress(r, "no guest agent, waiting for ssh:",
						   vmsup_error_desc(*ipr, status));
				json_object_put(*ipr);
				*ipr = NULL;
				return NO_AGENT;
			}
			break;
		}
		/* 503: no agent yet; 504: the agent answers but had no address
		 * within the slice (a loaded host): both mean ask again */
		if ((status != 503 && status != 504) || vmctl_run_now() >= deadline || vmctl_signal)
			break;
		json_object_put(*ipr);
		*ipr = NULL;
		if (vm_died(r, name, &check)) {
			tell_console(r, name, NULL);
			return VMCTL_EXIT_ERR;
		}
		console_tail(r, name, tail, sizeof(tail));
		if (strstr(tail, "Kernel panic")) {
			rc = vmctl_fail(name, "the guest's kernel panicked after %.0f s",
					vmctl_run_now() - t0);
			tell_console(r, name, tail);
			return rc;
		}
	}
	if (status == 503 && vmctl_run_now() >= deadline)
		rc = vmctl_fail(name, "the guest agent did not answer within %.0f s",
				vmctl_run_now() - t0);
	else
		rc = vmctl_fail(name, "%s", vmsup_error_desc(*ipr, status));
	json_object_put(*ipr);
	*ipr = NULL;
	tell_console(r, name, NULL);
	return rc;
}
