/*
 * bench/api-rtt: one QMP round trip (query-status) three ways, interleaved
 * call by call:
 *   A  through the API: POST /v1/vms/NAME/qmp (libcurl, vmsupd, its QMP session)
 *   B  libqmp directly on a VM's ops socket (the synchronous layer)
 *   C  a raw unix-socket client on a VM's ops socket (write, read a line)
 * A QMP chardev serves one client at a time, so B and C use the ops sockets
 * of two identical guest-less VMs and swap them half-way.
 *
 *   bench/api-rtt [--quick] [-n CALLS]     (default 1000 each, --quick 100)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "bench/benchlib.h"
#include "qmp/qmp.h"
#include "src/client/client.h"

#define WARMUP 50

struct clients {
	struct qmp_sync *lib;
	struct bl_raw raw;
};

static int open_clients(struct clients *c, const char *lib_sock, const char *raw_sock, char **err)
{
	struct qmp_error e;

	if (!(c->lib = qmp_sync_open(lib_sock, QMP_KIND_QMP, 10000, &e))) {
		if (asprintf(err, "libqmp on %s: %s", lib_sock, e.desc) < 0)
			*err = NULL;
		return -1;
	}
	if (bl_raw_open(&c->raw, raw_sock, 10000)) {
		if (asprintf(err, "raw client on %s failed", raw_sock) < 0)
			*err = NULL;
		return -1;
	}
	return 0;
}

static void close_clients(struct clients *c)
{
	if (c->lib)
		qmp_sync_close(c->lib);
	c->lib = NULL;
	bl_raw_close(&c->raw);
}

static double call_api(const char *sock, const char *path, struct json_object *cmd)
{
	struct json_object *r = NULL;
	char *err = NULL;
	long st = 0;
	double t0 = bl_now_ms();

	if (vmsup_request(sock, "POST", path, cmd, 10000, &st, &r, &err) || st != 200) {
		fprintf(stderr, "api-rtt: API call: %s\n", err ? err : vmsup_error_desc(r, st));
		free(err);
		json_object_put(r);
		return -1;
	}
	json_object_put(r);
	return bl_now_ms() - t0;
}

static double call_lib(struct qmp_sync *s)
{
	struct json_object *ret = NULL;
	struct qmp_error e;
	double t0 = bl_now_ms();

	if (qmp_sync_call(s, "query-status", NULL, 10000, &ret, &e)) {
		fprintf(stderr, "api-rtt: libqmp: %s: %s\n", e.cls, e.desc);
		return -1;
	}
	json_object_put(ret);
	return bl_now_ms() - t0;
}

static double call_raw(struct bl_raw *r)
{
	double t0 = bl_now_ms();

	if (bl_raw_call(r, "{\"execute\":\"query-status\"}\n", 10000)) {
		fprintf(stderr, "api-rtt: raw client: no reply\n");
		return -1;
	}
	return bl_now_ms() - t0;
}

int main(int argc, char **argv)
{
	static struct bl_daemon d;
	struct bl_opts o;
	struct clients c = {.raw.fd = -1};
	struct bl_stats sa, sb, sc;
	struct json_object *cmd = json_tokener_parse("{\"execute\":\"query-status\"}");
	double *v[3] = {NULL, NULL, NULL};
	char *err = NULL, accel[32] = "", ops[2][256], la0[64], la1[64];
	const char *path = "/v1/vms/rtt-a/qmp";
	int calls, rc = 1, n;

	if ((n = bl_parse_opts(argc, argv, "api-rtt [--quick] [-n CALLS]", &o)) < 0)
		return n == -2 ? 0 : 2;
	calls = o.n ? o.n : o.quick ? 100 : 1000;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	bl_cleanup_install(&d);
	bl_loadavg(la0, sizeof(la0));
	for (int i = 0; i < 3; i++)
		if (!(v[i] = calloc((size_t)calls, sizeof(double))))
			goto out;
	if (bl_daemon_start(&d, NULL, &err) ||
	    bl_create_guestless(d.sock, "rtt-a", 64, NULL, accel, sizeof(accel), ops[0],
				sizeof(ops[0]), &err) ||
	    bl_create_guestless(d.sock, "rtt-b", 64, NULL, NULL, 0, ops[1], sizeof(ops[1]), &err))
		goto out;
	if (!ops[0][0] || !ops[1][0]) {
		err = strdup("the VM status names no qmp_ops_socket");
		goto out;
	}
	if (open_clients(&c, ops[0], ops[1], &err))
		goto out;
	for (int i = 0; i < WARMUP; i++)
		if (call_api(d.sock, path, cmd) < 0 || call_lib(c.lib) < 0 || call_raw(&c.raw) < 0)
			goto out;
	for (int i = 0; i < calls; i++) {
		if (i == calls / 2) {
			close_clients(&c);
			if (open_clients(&c, ops[1], ops[0], &err))
				goto out;
		}
		/* rotate the order so no method always follows the same one */
		for (int k = 0; k < 3; k++) {
			int m = (i + k) % 3;
			double t = m == 0   ? call_api(d.sock, path, cmd)
				   : m == 1 ? call_lib(c.lib)
					    : call_raw(&c.raw);

			if (t < 0)
				goto out;
			v[m][i] = t * 1e3; /* us */
		}
	}
	bl_stats(v[0], calls, &sa);
	bl_stats(v[1], calls, &sb);
	bl_stats(v[2], calls, &sc);
	bl_loadavg(la1, sizeof(la1));
	bl_info("accel", accel);
	{
		char note[300], s1[128], s2[128];

		snprintf(note, sizeof(note), "load %s -> %s", la0, la1);
		bl_info("api-rtt.load", note);
		snprintf(note, sizeof(note), "libqmp %s; raw %s", bl_spread(&sb, s1, sizeof(s1)),
			 bl_spread(&sc, s2, sizeof(s2)));
		bl_result("api-rtt", "QMP query-status via libqmp, median (baseline: raw socket)",
			  sb.median, "us", sc.median, "<= 1.1x", note);
		bl_result("api-rtt", "QMP query-status via libqmp, p99", sb.p99, "us", sc.p99, NULL,
			  NULL);
		snprintf(note, sizeof(note), "API %s", bl_spread(&sa, s1, sizeof(s1)));
		bl_result("api-rtt", "QMP query-status via POST /v1/vms/NAME/qmp, median",
			  sa.median, "us", sc.median, "<= 3x", note);
		bl_result("api-rtt", "QMP query-status via POST /v1/vms/NAME/qmp, p99", sa.p99,
			  "us", sc.p99, NULL, NULL);
	}
	rc = 0;
out:
	if (err)
		fprintf(stderr, "api-rtt: %s\n", err);
	free(err);
	close_clients(&c);
	json_object_put(cmd);
	for (int i = 0; i < 3; i++)
		free(v[i]);
	bl_daemon_stop(&d);
	curl_global_cleanup();
	return rc;
}
