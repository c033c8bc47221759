#include "src/guest/keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PUB 16384

int keys_read_pub(const char *pubpath, char **pubkey, struct qmp_error *err)
{
	char *buf = NULL;
	FILE *f = NULL;
	size_t n, len;
	int ret = -1;

	f = fopen(pubpath, "re");
	if (!f) {
		qmp_error_set(err, "GenericError", "%s: %s", pubpath, strerror(errno));
		goto out;
	}
	buf = malloc(MAX_PUB + 1);
	if (!buf) {
		qmp_error_set(err, "GenericError", "out of memory");
		goto out;
	}
	n = fread(buf, 1, MAX_PUB + 1, f);
	if (n > MAX_PUB) {
		qmp_error_set(err, "GenericError", "%s: too large for a public key", pubpath);
		goto out;
	}
	buf[n] = '\0';
	len = strcspn(buf, "\r\n");
	/* Only one key line: a second one would be pushed silently. */
	if (buf[len + strspn(buf + len, "\r\n")] != '\0' || len < 12 ||
	    (strncmp(buf, "ssh-", 4) && strncmp(buf, "ecdsa-", 6) && strncmp(buf, "sk-", 3)) ||
	    !strchr(buf, ' ')) {
		qmp_error_set(err, "GenericError", "%s: not a single ssh public key line", pubpath);
		goto out;
	}
	buf[len] = '\0';
	*pubkey = buf;
	buf = NULL;
	ret = 0;
out:
	free(buf);
	if (f)
		fclose(f);
	return ret;
}

/* Run argv (no shell), stdout to outfd (or /dev/null if -1), stderr discarded. */
static int run(char *const argv[], int outfd, struct qmp_error *err)
{
	int status, nullfd;
	pid_t pid;

	pid = fork();
	if (pid < 0) {
		qmp_error_set(err, "GenericError", "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nullfd >= 0) {
			dup2(nullfd, 0);
			dup2(outfd >= 0 ? outfd : nullfd, 1);
			dup2(nullfd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			qmp_error_set(err, "GenericError", "waitpid: %s", strerror(errno));
			return -1;
		}
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		qmp_error_set(err, "GenericError", "%s failed (%s %d)", argv[0],
			      WIFEXITED(status) ? "exit" : "signal",
			      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return 0;
}

int keys_ensure(const char *path, const char *ssh_keygen, char **pubkey, struct qmp_error *err)
{
	char *pub = NULL;
	const char *kg = ssh_keygen ? ssh_keygen : "ssh-keygen";
	int ret = -1, fd = -1, have_priv, have_pub;

	if (!path || !*path) {
		qmp_error_set(err, "GenericError", "no ssh key path");
		return -1;
	}
	if (asprintf(&pub, "%s.pub", path) < 0) {
		pub = NULL;
		qmp_error_set(err, "GenericError", "out of memory");
		goto out;
	}
	have_priv = access(path, F_OK) == 0;
	have_pub = access(pub, F_OK) == 0;
	if (!have_priv && have_pub) {
		qmp_error_set(err, "GenericError", "%s exists without its private key %s", pub,
			      path);
		goto out;
	}
	if (!have_priv) {
		char *argv[] = {(char *)kg, "-q",	  "-t", "ed25519", "-N", "",
				"-f",	    (char *)path, "-C", "vmsupd",  NULL};
		if (run(argv, -1, err) < 0)
			goto out;
	} else if (!have_pub) {
		char *argv[] = {(char *)kg, "-y", "-f", (char *)path, NULL};
		fd = open(pub, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0) {
			qmp_error_set(err, "GenericError", "%s: %s", pub, strerror(errno));
			goto out;
		}
		if (run(argv, fd, err) < 0) {
			unlink(pub);
			goto out;
		}
	}
	ret = keys_read_pub(pub, pubkey, err);
out:
	if (fd >= 0)
		close(fd);
	free(pub);
	return ret;
}
