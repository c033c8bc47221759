/*
 * vmctl's options and what it sends (issue 24): global options among a
 * command's (before "--" only), sizes with units and the shared limits
 * table, null for --quota none and --pin '', qmp with a bare command name,
 * and times in the text output. Requests go to a fake API on a unix socket
 * that records the one request it answers.
 */
#include "config.h"

#include "src/cli/vmctl.h"
#include "src/util/bounds.h"

#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- a one-request fake of vmsupd ---- */

static struct fake {
	char dir[32], sock[64];
	int fd;
	pthread_t th;
	const char *reply; /* JSON answered with 200 */
	char req[8192];	   /* the request as received */
	const char *body;  /* into req */
} f;

static size_t read_request(int c)
{
	size_t n = 0, want = 0;
	ssize_t r;
	char *end = NULL, *cl;

	while (n < sizeof(f.req) - 1 && (r = read(c, f.req + n, sizeof(f.req) - 1 - n)) > 0) {
		f.req[n += r] = '\0';
		if (!end && (end = strstr(f.req, "\r\n\r\n"))) {
			cl = strcasestr(f.req, "\r\nContent-Length:");
			want = (size_t)(end + 4 - f.req) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
		}
		if (end && n >= want)
			break;
	}
	f.body = end ? end + 4 : "";
	return n;
}

static void *serve(void *arg)
{
	char head[256];
	int c = accept(f.fd, NULL, NULL);

	(void)arg;
	if (c < 0)
		return NULL;
	read_request(c);
	snprintf(head, sizeof(head),
		 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n",
		 strlen(f.reply));
	if (write(c, head, strlen(head)) < 0 || write(c, f.reply, strlen(f.reply)) < 0)
		perror("fake vmsupd");
	close(c);
	return NULL;
}

static void fake_start(const char *reply)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	strcpy(f.dir, "/tmp/vmctl-opts-XXXXXX");
	cr_assert(mkdtemp(f.dir));
	snprintf(f.sock, sizeof(f.sock), "%s/api.sock", f.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", f.sock);
	f.fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert(f.fd >= 0 && bind(f.fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(listen(f.fd, 1) == 0);
	f.reply = reply;
	f.req[0] = '\0';
	f.body = "";
	cr_assert(pthread_create(&f.th, NULL, serve, NULL) == 0);
}

/* Joins the server; the request line and body are in f. */
static void fake_stop(void)
{
	shutdown(f.fd, SHUT_RDWR);
	pthread_join(f.th, NULL);
	close(f.fd);
	unlink(f.sock);
	rmdir(f.dir);
}

/* ---- running commands as main would ---- */

static struct vmctl g;

static int run(int (*fn)(const struct vmctl *, int, char **), char **argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	memset(&g, 0, sizeof(g));
	g.sock = f.sock[0] ? f.sock : "/nonexistent/vmctl-opts.sock";
	vmctl_set_globals(&g);
	return fn(&g, argc, argv);
}

/* The body sent equals want (JSON compared as text, plain). */
static void assert_body(const char *want)
{
	struct json_object *got = json_tokener_parse(f.body), *w = json_tokener_parse(want);

	cr_assert_not_null(got, "body is not JSON: '%s'", f.body);
	cr_assert(json_object_equal(got, w), "sent %s, want %s", f.body, want);
	json_object_put(got);
	json_object_put(w);
}

/* One command against the fake answering reply; stdout flushed. */
static int served(const char *reply, int (*fn)(const struct vmctl *, int, char **), char **argv)
{
	int rc;

	fake_start(reply);
	rc = run(fn, argv);
	fake_stop();
	fflush(stdout);
	return rc;
}

static void setup(void)
{
	memset(&f, 0, sizeof(f));
	cr_redirect_stdout();
	cr_redirect_stderr();
}

TestSuite(opts, .init = setup);

/* ---- global options ---- */

Test(opts, global_options_after_the_command)
{
	char *a[] = {"status", "web", "-o", "json", "--quiet", NULL};

	cr_assert_eq(served("{\"name\":\"web\",\"state\":\"running\"}", vmctl_cmd_status, a), 0);
	cr_assert(g.json && g.quiet);
	cr_assert(!strncmp(f.req, "GET /v1/vms/web ", 16), "%s", f.req);
}

Test(opts, socket_after_the_command)
{
	char *a[] = {"list", "--socket", NULL, "-q", NULL};

	fake_start("{\"vms\":[{\"name\":\"a1\",\"state\":\"running\"},{\"name\":\"b2\"}]}");
	a[2] = f.sock;
	memset(&g, 0, sizeof(g));
	g.sock = "/nonexistent/vmctl-opts.sock";
	vmctl_set_globals(&g);
	cr_assert_eq(vmctl_cmd_list(&g, 4, a), 0, "--socket after the command is used");
	fake_stop();
	fflush(stdout);
	/* list -q: the names only, one a line */
	cr_assert_stdout_eq_str("a1\nb2\n");
}

Test(opts, after_dashdash_they_are_the_commands)
{
	char *a[] = {"exec", "x", "-q", "--", "ls", "-q", "-o", "json", "--socket", "s", NULL};
	struct vmctl_args r;

	memset(&g, 0, sizeof(g));
	vmctl_set_globals(&g);
	cr_assert_eq(vmctl_parse("exec", 10, a, "h", NULL, 1, 1, NULL, NULL, &r), 0);
	cr_assert(g.quiet, "-q before -- is global");
	cr_assert(!g.json && !g.sock, "after --: the guest command's");
	cr_assert_eq(r.nrest, 6);
	cr_assert_str_eq(r.rest[1], "-q");
}

Test(opts, bad_global_value_is_a_usage_error)
{
	char *a[] = {"status", "web", "-o", "yaml", NULL};
	char *b[] = {"status", "web", "-o", NULL};

	cr_assert_eq(run(vmctl_cmd_status, a), 2);
	cr_assert_eq(run(vmctl_cmd_status, b), 2);
}

/* ---- sizes and the limits table ---- */

Test(opts, sizes_with_units)
{
	long v;

	cr_assert(vmctl_parse_mib("256", 1, 1 << 20, &v) == 0 && v == 256);
	cr_assert(vmctl_parse_mib("256M", 1, 1 << 20, &v) == 0 && v == 256);
	cr_assert(vmctl_parse_mib("256MiB", 1, 1 << 20, &v) == 0 && v == 256);
	cr_assert(vmctl_parse_mib("1G", 1, 1 << 20, &v) == 0 && v == 1024);
	cr_assert(vmctl_parse_mib("2gib", 1, 1 << 20, &v) == 0 && v == 2048);
	cr_assert(vmctl_parse_mib("1024G", 1, 1 << 20, &v) == 0 && v == 1 << 20);
	cr_assert(vmctl_parse_mib("1025G", 1, 1 << 20, &v) < 0);
	cr_assert(vmctl_parse_mib("1.5G", 1, 1 << 20, &v) < 0);
	cr_assert(vmctl_parse_mib("1T", 1, 1 << 20, &v) < 0);
	cr_assert(vmctl_parse_mib("-1", -5, 1 << 20, &v) < 0);
	cr_assert(vmctl_parse_mib("G", 1, 1 << 20, &v) < 0);
	cr_assert(vmctl_parse_mib("99999999999999999999G", 1, 1 << 20, &v) < 0);
}

Test(opts, mem_with_a_unit_is_sent_in_mib)
{
	char *a[] = {"create", "x", "--mem", "1G", "--no-guest", NULL};

	cr_assert_eq(served("{\"name\":\"x\",\"state\":\"running\"}", vmctl_cmd_create, a), 0);
	assert_body("{\"mem_mib\":1024,\"guest\":false,\"name\":\"x\"}");
}

/* The CLI's bounds are the daemon's (src/util/bounds.h): the largest value
 * goes to the daemon (exit 1: no daemon here), one more is a usage error. */
static void bound(int (*fn)(const struct vmctl *, int, char **), const char *cmd, const char *opt,
		  unsigned max)
{
	char ok[32], over[32];
	char *a[] = {(char *)cmd, "x", (char *)opt, ok, NULL};
	char *b[] = {(char *)cmd, "x", (char *)opt, over, NULL};

	snprintf(ok, sizeof(ok), "%u", max);
	snprintf(over, sizeof(over), "%u", max + 1);
	cr_expect_eq(run(fn, a), 1, "%s %s %s", cmd, opt, ok);
	cr_expect_eq(run(fn, b), 2, "%s %s %s", cmd, opt, over);
}

Test(opts, limits_are_the_daemons)
{
	char *m[] = {"memory", "x", "1025G", NULL};
	char *low[] = {"create", "x", "--mem", "15", NULL};

	bound(vmctl_cmd_create, "create", "--mem", VMSUP_MEM_MAX_MIB);
	bound(vmctl_cmd_create, "create", "--cpus", VMSUP_CPUS_MAX);
	bound(vmctl_cmd_cpu, "cpu", "--quota", VMSUP_QUOTA_PCT_MAX);
	bound(vmctl_cmd_cpu, "cpu", "--period", VMSUP_PERIOD_MAX_US);
	bound(vmctl_cmd_stop, "stop", "--timeout", VMSUP_TIMEOUT_MAX_S);
	cr_expect_eq(run(vmctl_cmd_memory, m), 2);
	cr_expect_eq(run(vmctl_cmd_create, low), 2, "below VMSUP_MEM_MIN_MIB");
}

/* ---- null for none ---- */

Test(opts, quota_none_and_empty_pin_are_null)
{
	char *a[] = {"cpu", "x", "--quota", "none", "--pin", "", NULL};

	cr_assert_eq(served("{\"name\":\"x\"}", vmctl_cmd_cpu, a), 0);
	cr_assert(!strncmp(f.req, "PUT /v1/vms/x/cpu ", 18), "%s", f.req);
	assert_body("{\"quota_pct\":null,\"pin\":null}");
}

/* ---- qmp ---- */

Test(opts, qmp_bare_command_name)
{
	char *a[] = {"qmp", "x", "query-status", NULL};

	cr_assert_eq(served("{\"return\":{\"status\":\"running\"}}", vmctl_cmd_qmp, a), 0);
	assert_body("{\"execute\":\"query-status\"}");
}

Test(opts, qmp_name_and_arguments)
{
	char *a[] = {"qmp", "x", "balloon", "{\"value\":268435456}", NULL};

	cr_assert_eq(served("{\"return\":{}}", vmctl_cmd_qmp, a), 0);
	assert_body("{\"execute\":\"balloon\",\"arguments\":{\"value\":268435456}}");
}

Test(opts, qmp_bad_forms)
{
	char *a[] = {"qmp", "x", "query status", NULL};
	char *b[] = {"qmp", "x", "balloon", "[1]", NULL};
	char *c[] = {"qmp", "x", "{\"execute\":\"x\"}", "{}", NULL};

	cr_assert_eq(run(vmctl_cmd_qmp, a), 2);
	cr_assert_eq(run(vmctl_cmd_qmp, b), 2);
	cr_assert_eq(run(vmctl_cmd_qmp, c), 2, "arguments go with a name, not an object");
}

/* ---- text output ---- */

Test(opts, status_created_in_utc)
{
	char *a[] = {"status", "web", NULL};

	cr_assert_eq(served("{\"name\":\"web\",\"created\":1764969611.75}", vmctl_cmd_status, a),
		     0);
	cr_assert_stdout_eq_str("name            web\n"
				"created         2025-12-05 21:20:11 UTC\n");
}

Test(opts, template_times_one_decimal)
{
	char *a[] = {"template", "create", "t", "--no-guest", NULL};

	cr_assert_eq(served("{\"name\":\"t\",\"state_bytes\":123,\"save_ms\":16.772299000062048}",
			    vmctl_cmd_template, a),
		     0);
	cr_assert_stdout_eq_str("t: saved, 123 bytes in 16.8 ms\n");
}

/* --publish as docker spells it, --net and --egress into the spec's "net". */
Test(opts, net_options_make_the_net_object)
{
	static const char *const bad[] = {"80",		  "1:2:3",     "0:0", "70000:80",
					  "8080:80/sctp", "x:8080:80", ":80", "8080:"};
	struct json_object *spec = json_object_new_object(), *net, *pub, *e;

	cr_assert_eq(vmctl_spec_opt("create", VMCTL_OPT_PUBLISH, "0:8080", spec), 0);
	cr_assert_eq(vmctl_spec_opt("create", VMCTL_OPT_PUBLISH, "10.1.2.3:5353:53/udp", spec), 0);
	cr_assert_eq(vmctl_spec_opt("create", VMCTL_OPT_NET, "user", spec), 0);
	cr_assert_eq(vmctl_spec_opt("create", VMCTL_OPT_EGRESS, NULL, spec), 0);
	cr_assert(json_object_object_get_ex(spec, "net", &net));
	cr_expect_str_eq(json_object_get_string(json_object_object_get(net, "mode")), "user");
	cr_expect(json_object_get_boolean(json_object_object_get(net, "egress")));
	cr_assert(json_object_object_get_ex(net, "publish", &pub));
	cr_assert_eq(json_object_array_length(pub), 2);
	e = json_object_array_get_idx(pub, 0);
	cr_expect_null(json_object_object_get(e, "host_addr"), "no ADDR: the daemon's default");
	cr_expect_eq(json_object_get_int(json_object_object_get(e, "host_port")), 0);
	cr_expect_eq(json_object_get_int(json_object_object_get(e, "guest_port")), 8080);
	e = json_object_array_get_idx(pub, 1);
	cr_expect_str_eq(json_object_get_string(json_object_object_get(e, "host_addr")),
			 "10.1.2.3");
	cr_expect_eq(json_object_get_int(json_object_object_get(e, "host_port")), 5353);
	cr_expect_str_eq(json_object_get_string(json_object_object_get(e, "proto")), "udp");
	cr_redirect_stderr();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(vmctl_spec_opt("create", VMCTL_OPT_PUBLISH, bad[i], spec),
			     VMCTL_EXIT_USAGE, "--publish %s accepted", bad[i]);
	cr_expect_eq(vmctl_spec_opt("create", VMCTL_OPT_NET, "wifi", spec), VMCTL_EXIT_USAGE);
	cr_expect_eq(vmctl_spec_opt("create", VMCTL_OPT_NET, "bridge:", spec), VMCTL_EXIT_USAGE);
	cr_expect_eq(json_object_array_length(pub), 2, "a bad --publish added an entry");
	json_object_put(spec);
	/* --net bridge:NAME: mode and bridge */
	spec = json_object_new_object();
	cr_assert_eq(vmctl_spec_opt("create", VMCTL_OPT_NET, "bridge:br0", spec), 0);
	cr_assert(json_object_object_get_ex(spec, "net", &net));
	cr_expect_str_eq(json_object_get_string(json_object_object_get(net, "mode")), "bridge");
	cr_expect_str_eq(json_object_get_string(json_object_object_get(net, "bridge")), "br0");
	json_object_put(spec);
}

/* ---- pinning (issue 24): a list, a per-vCPU map, the emulator threads ---- */

Test(opts, pin_map_and_emulator_pin_make_the_api_fields)
{
	char *a[] = {"create", "x", "--no-guest", "--pin", "0:1,1:0", "--emulator-pin", "0", NULL};
	char *b[] = {"cpu", "x", "--pin", "0:0,2-3,1:1", "--emulator-pin", "", NULL};
	char *c[] = {"cpu", "x", "--pin", "0-1", NULL};

	cr_assert_eq(served("{\"name\":\"x\",\"state\":\"running\"}", vmctl_cmd_create, a), 0);
	assert_body("{\"guest\":false,\"vcpu_pin\":{\"0\":\"1\",\"1\":\"0\"},"
		    "\"emulator_pin\":\"0\",\"name\":\"x\"}");
	/* items without a colon continue the vCPU before them */
	cr_assert_eq(served("{\"name\":\"x\"}", vmctl_cmd_cpu, b), 0);
	assert_body("{\"vcpu_pin\":{\"0\":\"0,2-3\",\"1\":\"1\"},\"emulator_pin\":null}");
	/* the plain list: every vCPU */
	cr_assert_eq(served("{\"name\":\"x\"}", vmctl_cmd_cpu, c), 0);
	assert_body("{\"pin\":\"0-1\"}");
}

Test(opts, bad_pins_are_usage_errors)
{
	static const char *const bad[] = {"0:",	      ":1",    "1:2:3", "x",
					  "0:1,,1:0", ",0",    "0:1,",	"a:1",
					  "0:1,0:2",  "1,0:1", "0: 1",	"123456789:0"};
	struct json_object *spec = json_object_new_object();

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(vmctl_spec_opt("create", VMCTL_OPT_PIN, bad[i], spec),
			     VMCTL_EXIT_USAGE, "--pin '%s' accepted", bad[i]);
	cr_expect_eq(vmctl_spec_opt("create", VMCTL_OPT_EMULATOR_PIN, "0:1", spec),
		     VMCTL_EXIT_USAGE, "--emulator-pin takes no map");
	cr_expect_eq(json_object_object_length(spec), 0, "a bad --pin added %s",
		     json_object_to_json_string(spec));
	json_object_put(spec);
}

Test(opts, status_shows_the_vcpu_map_as_pin_takes_it)
{
	char *a[] = {"status", "web", NULL};

	cr_assert_eq(served("{\"name\":\"web\",\"vcpu_pin\":{\"0\":\"1\",\"1\":\"0\"},"
			    "\"emulator_pin\":\"0\"}",
			    vmctl_cmd_status, a),
		     0);
	cr_assert_stdout_eq_str("name            web\n"
				"vcpu_pin        0:1,1:0\n"
				"emulator_pin    0\n");
}
