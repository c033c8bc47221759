#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "src/guest/keys.h"

static char dir[] = "/tmp/vmagent-keys-XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];
	char *const argv[] = {"rm", "-rf", dir, NULL};

	(void)cmd;
	if (fork() == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
}

TestSuite(keys, .init = setup, .fini = teardown);

Test(keys, generated_once_then_reused)
{
	char path[256], *pub1 = NULL, *pub2 = NULL;
	struct qmp_error err;
	struct stat st1, st2;

	snprintf(path, sizeof(path), "%s/id_ed25519", dir);
	cr_assert_eq(keys_ensure(path, NULL, &pub1, &err), 0, "%s", err.desc);
	cr_expect_eq(strncmp(pub1, "ssh-ed25519 ", 12), 0, "%s", pub1);
	cr_expect_not_null(strstr(pub1, " vmsupd"), "comment: %s", pub1);
	cr_expect_null(strchr(pub1, '\n'));
	cr_assert_eq(stat(path, &st1), 0);
	cr_expect_eq(st1.st_mode & 077, 0, "private key readable by others");

	cr_assert_eq(keys_ensure(path, NULL, &pub2, &err), 0, "%s", err.desc);
	cr_expect_str_eq(pub1, pub2);
	cr_assert_eq(stat(path, &st2), 0);
	cr_expect_eq(st1.st_ino, st2.st_ino, "regenerated");
	free(pub1);
	free(pub2);
}

Test(keys, public_derived_when_missing)
{
	char path[256], pubpath[300], *pub1 = NULL, *pub2 = NULL;
	struct qmp_error err;

	snprintf(path, sizeof(path), "%s/k", dir);
	snprintf(pubpath, sizeof(pubpath), "%s.pub", path);
	cr_assert_eq(keys_ensure(path, NULL, &pub1, &err), 0, "%s", err.desc);
	cr_assert_eq(unlink(pubpath), 0);
	cr_assert_eq(keys_ensure(path, NULL, &pub2, &err), 0, "%s", err.desc);
	/* ssh-keygen -y drops the comment: compare type and key only. */
	cr_expect_eq(strncmp(pub1, pub2, strlen(pub2) < 80 ? strlen(pub2) : 80), 0);
	free(pub1);
	free(pub2);
}

Test(keys, errors_are_clear)
{
	char path[256], *pub = NULL;
	struct qmp_error err;
	FILE *f;

	cr_expect_eq(keys_ensure("/nonexistent-dir/k", NULL, &pub, &err), -1);
	cr_expect_str_eq(err.cls, "GenericError");
	cr_expect_eq(keys_ensure(NULL, NULL, &pub, &err), -1);
	snprintf(path, sizeof(path), "%s/x", dir);
	cr_expect_eq(keys_ensure(path, "/nonexistent/ssh-keygen", &pub, &err), -1);
	cr_expect_not_null(strstr(err.desc, "failed"), "%s", err.desc);

	snprintf(path, sizeof(path), "%s/bad.pub", dir);
	f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	cr_expect_eq(keys_read_pub(path, &pub, &err), -1);
	cr_expect_not_null(strstr(err.desc, "not a single ssh public key"), "%s", err.desc);
	f = fopen(path, "w");
	fputs(
	    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA a\nssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB b\n",
	    f);
	fclose(f);
	cr_expect_eq(keys_read_pub(path, &pub, &err), -1, "two lines accepted");
}
