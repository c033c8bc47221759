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

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
 * it never came, -2 when the VM died (already reported). */
int vmctl_run_wait_ssh_banner(struct run *r, const char *name, long port, double deadline)
{
	char why[600];
	int rc =
	    vmctl_ssh_wait_banner(&r->g, name, port, deadline - vmctl_run_now(), why, sizeof(why));

	if (rc == -2) {
		vmctl_fail(name, "%s", why);
		r->death_told = 1;
	}
	return rc;
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

int vmctl_run_wait_ip(struct run *r, const char *name, double deadline, struct json_object **ipr)
{
	char path[160], *err = NULL, b[64];
	long status = 0, left = (long)(deadline - vmctl_run_now()) + 1;
	double t = vmctl_run_now();
	int rc;

	snprintf(path, sizeof(path), "/v1/vms/%s/ip?wait=%ld", name, left > 1 ? left : 1);
	rc = vmsup_request(r->g.sock, "GET", path, NULL, (left + 30) * 1000, &status, ipr, &err);
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
	if (r->via == VMCTL_VIA_SSH && (status == 501 || status == 503) &&
	    vmctl_run_now() - t < 1.0 && left > 2) {
		vmctl_run_progress(
		    r, "no guest agent, waiting for ssh:", vmsup_error_desc(*ipr, status));
		json_object_put(*ipr);
		*ipr = NULL;
		return NO_AGENT;
	}
	rc = vmctl_fail(name, "%s", vmsup_error_desc(*ipr, status));
	json_object_put(*ipr);
	*ipr = NULL;
	return rc;
}
