/* The config parser: defaults, good files, bad files with file:line. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/qemu/config.h"
#include "src/util/log.h"

static char path[64];

static const char *write_conf(const char *text)
{
	int fd;

	strcpy(path, "/tmp/vmsupd-conf-XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void cleanup(void)
{
	if (path[0])
		unlink(path);
	path[0] = '\0';
}

TestSuite(config, .fini = cleanup);

Test(config, defaults)
{
	struct vmsup_config c;
	char *err = NULL;

	cr_assert_eq(vmsup_config_init(&c, &err), 0);
	cr_assert_eq(vmsup_config_finish(&c, &err), 0);
	cr_expect_str_eq(c.accel, "kvm:tcg");
	cr_expect_eq(c.mem_mib, 512);
	cr_expect_eq(c.cpus, 1);
	cr_expect_eq(c.stop_grace_s, 30);
	cr_expect_eq(c.on_exit_stop, 0, "on_exit defaults to keep");
	cr_expect_eq(c.max_vms, 256);
	cr_expect_eq(c.memory_floor_mib, 64);
	cr_expect_eq(c.mem_overhead_mib, 256);
	cr_expect_eq(c.tcg_tb_size_mib, 128);
	cr_expect_eq(c.console_log_max, 8u << 20);
	cr_expect_str_eq(c.guest_user, "root");
	cr_expect_null(c.api_group);
	cr_expect_null(c.default_kernel);
	/* ssh_key follows state_dir */
	cr_expect_eq(strncmp(c.ssh_key, c.state_dir, strlen(c.state_dir)), 0);
	cr_expect_str_eq(c.ssh_key + strlen(c.state_dir), "/id_ed25519");
	vmsup_config_release(&c);
}

Test(config, good_file)
{
	struct vmsup_config c;
	char *err = NULL;

	vmsup_config_init(&c, NULL);
	write_conf("# comment\n\n  socket = /tmp/x/api.sock  \n"
		   "state_dir=/tmp/x/state # trailing comment\n"
		   "accel = tcg\nmem_mib = 1024\ncpus = 4\nstop_grace_s = 0\n"
		   "default_append = \"console=ttyS0 #not a comment\"\n"
		   "api_group = wheel\nlog_level = debug\nlog_format = json\n"
		   "memory_floor_mib = 32\nmem_overhead_mib = 0\n");
	cr_assert_eq(vmsup_config_load(&c, path, &err), 0, "%s", err);
	vmsup_config_finish(&c, NULL);
	cr_expect_str_eq(c.socket, "/tmp/x/api.sock");
	cr_expect_str_eq(c.state_dir, "/tmp/x/state");
	cr_expect_str_eq(c.ssh_key, "/tmp/x/state/id_ed25519");
	cr_expect_str_eq(c.accel, "tcg");
	cr_expect_eq(c.mem_mib, 1024);
	cr_expect_eq(c.cpus, 4);
	cr_expect_eq(c.stop_grace_s, 0);
	cr_expect_str_eq(c.default_append, "console=ttyS0 #not a comment");
	cr_expect_str_eq(c.api_group, "wheel");
	cr_expect_eq(c.log_level, VMSUP_LOG_DEBUG);
	cr_expect_eq(c.log_format, VMSUP_LOG_JSON);
	cr_expect_eq(c.memory_floor_mib, 32);
	cr_expect_eq(c.mem_overhead_mib, 0);
	vmsup_config_release(&c);
}

static void expect_bad(const char *text, const char *needle)
{
	struct vmsup_config c;
	char *err = NULL, where[128];

	vmsup_config_init(&c, NULL);
	write_conf(text);
	cr_expect_eq(vmsup_config_load(&c, path, &err), -1, "accepted: %s", text);
	cr_assert_not_null(err);
	snprintf(where, sizeof(where), "%s:", path);
	cr_expect(strstr(err, where) == err, "'%s' does not start with the file name", err);
	cr_expect(strstr(err, needle), "'%s' lacks '%s'", err, needle);
	free(err);
	vmsup_config_release(&c);
	cleanup();
}

Test(config, bad_files_name_file_and_line)
{
	expect_bad("mem_mib = 512\nbogus = 1\n", ":2: unknown key 'bogus'");
	expect_bad("\n\n\ncpus = 0\n", ":4: cpus: '0' is not an integer in 1..64");
	expect_bad("cpus = 65\n", ":1: cpus");
	expect_bad("cpus = 2x\n", ":1: cpus");
	expect_bad("on_exit = halt\n", ":1: on_exit: 'halt' is not one of keep, stop");
	expect_bad("cpus = -1\n", ":1: cpus");
	expect_bad("mem_mib = 99999999999999999999\n", ":1: mem_mib");
	expect_bad("accel = xen\n", ":1: accel: 'xen'");
	expect_bad("socket = relative/path\n",
		   ":1: socket: 'relative/path' is not an absolute path");
	expect_bad("just words\n", ":1: expected 'key = value'");
	expect_bad("= 3\n", ":1: missing key");
	expect_bad("default_append = \"open\n", ":1: unterminated quote");
	expect_bad("log_level = loud\n", ":1: log_level");
	expect_bad("log_format = xml\n", ":1: log_format");
	expect_bad("qemu =\n", ":1: qemu: empty value");
}

Test(config, pool_keys)
{
	struct vmsup_config c;
	char *err = NULL;

	expect_bad("pool_template = -x\n", ":1: pool_template: '-x' is not a template name");
	expect_bad("pool_size = 65\n", ":1: pool_size: '65' is not an integer in 0..64");
	cr_assert_eq(vmsup_config_init(&c, &err), 0);
	cr_assert_eq(vmsup_config_set(&c, "pool_size", "2", &err), 0);
	cr_assert_neq(vmsup_config_finish(&c, &err), 0, "a pool without a template");
	cr_expect(err && strstr(err, "pool_size = 2 needs pool_template"), "%s", err);
	free(err);
	err = NULL;
	cr_assert_eq(vmsup_config_set(&c, "pool_template", "base", &err), 0);
	cr_assert_eq(vmsup_config_finish(&c, &err), 0, "%s", err);
	cr_expect_str_eq(c.pool_template, "base");
	cr_expect_eq(c.pool_size, 2);
	vmsup_config_release(&c);
}

/* the rotation needs a quarter of the cap to spare (src/console/) */
Test(config, console_log_max)
{
	struct vmsup_config c;
	char *err = NULL;

	expect_bad("console_log_max = 1048575\n",
		   ":1: console_log_max: '1048575' is not an integer in 1048576..1073741824");
	expect_bad("console_log_max = 8M\n", ":1: console_log_max: '8M' is not an integer");
	cr_assert_eq(vmsup_config_init(&c, &err), 0);
	cr_assert_eq(vmsup_config_set(&c, "console_log_max", "1048576", &err), 0, "%s", err);
	cr_expect_eq(c.console_log_max, 1048576);
	vmsup_config_release(&c);
}

/* the API's connection limits (src/daemon/conn.c): 0 is "from RLIMIT_NOFILE" */
Test(config, api_connection_limits)
{
	struct vmsup_config c;
	char *err = NULL;

	expect_bad("exec_output_max = 268435457\n",
		   ":1: exec_output_max: '268435457' is not an integer in 1024..268435456");
	expect_bad("read_timeout_s = 0\n", ":1: read_timeout_s: '0' is not an integer in 1..3600");
	expect_bad("max_connections = -1\n", ":1: max_connections: '-1' is not an integer");
	expect_bad("max_connections = 1000001\n",
		   ":1: max_connections: '1000001' is not an integer in 0..1000000");
	cr_assert_eq(vmsup_config_init(&c, &err), 0);
	cr_expect_eq(c.max_connections, 0, "auto by default");
	cr_expect_eq(c.read_timeout_s, 10);
	cr_expect_eq(c.exec_output_max, 16u << 20, "16 MiB by default");
	cr_assert_eq(vmsup_config_set(&c, "max_connections", "64", &err), 0, "%s", err);
	cr_expect_eq(c.max_connections, 64);
	vmsup_config_release(&c);
}

Test(config, missing_file)
{
	struct vmsup_config c;
	char *err = NULL;

	vmsup_config_init(&c, NULL);
	cr_expect_eq(vmsup_config_load(&c, "/nonexistent/vmsupd.conf", &err), -1);
	cr_expect(strstr(err, "/nonexistent/vmsupd.conf: "), "%s", err);
	free(err);
	vmsup_config_release(&c);
}

Test(config, shipped_example_parses)
{
	const char *top = getenv("top_srcdir");
	char file[512];
	struct vmsup_config c;
	char *err = NULL;

	snprintf(file, sizeof(file), "%s/etc/vmsupd.conf", top ? top : "..");
	if (access(file, R_OK) != 0)
		cr_skip_test("no %s", file);
	vmsup_config_init(&c, NULL);
	cr_expect_eq(vmsup_config_load(&c, file, &err), 0, "%s", err);
	vmsup_config_release(&c);
}

Test(config, set_overrides_and_copy)
{
	struct vmsup_config c, d;

	vmsup_config_init(&c, NULL);
	cr_assert_eq(vmsup_config_set(&c, "run_dir", "/tmp/r", NULL), 0);
	cr_assert_eq(vmsup_config_copy(&d, &c, NULL), 0);
	vmsup_config_release(&c);
	cr_expect_str_eq(d.run_dir, "/tmp/r");
	vmsup_config_release(&d);
}

Test(config, on_exit)
{
	struct vmsup_config c;

	vmsup_config_init(&c, NULL);
	cr_expect_eq(vmsup_config_set(&c, "on_exit", "stop", NULL), 0);
	cr_expect_eq(c.on_exit_stop, 1);
	cr_expect_eq(vmsup_config_set(&c, "on_exit", "keep", NULL), 0);
	cr_expect_eq(c.on_exit_stop, 0);
	cr_expect_eq(vmsup_config_set(&c, "on_exit", "", NULL), -1);
	vmsup_config_release(&c);
}

/* issue 22: net_mode = bridge needs a bridge, and bridge an interface name */
Test(config, bridge_keys)
{
	struct vmsup_config c;
	char *err = NULL;

	cr_assert_eq(vmsup_config_init(&c, &err), 0);
	cr_assert_eq(vmsup_config_set(&c, "net_mode", "bridge", &err), 0, "%s", err);
	cr_assert_neq(vmsup_config_finish(&c, &err), 0, "net_mode = bridge without a bridge");
	cr_expect(err && strstr(err, "needs bridge = NAME"), "%s", err);
	free(err);
	err = NULL;
	cr_assert_eq(vmsup_config_set(&c, "bridge", "br/0", &err), 0, "%s", err);
	cr_assert_neq(vmsup_config_finish(&c, &err), 0, "bridge = br/0 accepted");
	cr_expect(err && strstr(err, "not a network interface name"), "%s", err);
	free(err);
	err = NULL;
	cr_assert_eq(vmsup_config_set(&c, "bridge", "virbr0", &err), 0, "%s", err);
	cr_assert_eq(vmsup_config_finish(&c, &err), 0, "%s", err);
	cr_expect_str_eq(c.bridge, "virbr0");
	vmsup_config_release(&c);
}
