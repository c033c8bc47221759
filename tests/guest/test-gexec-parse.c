#include <criterion/criterion.h>
#include "src/guest/gexec.h"

static int parse(const char *json, struct gexec_result *r, struct qmp_error *err)
{
	struct json_object *o = json_tokener_parse(json);
	int rc = gexec_parse_status(o, r, err);

	json_object_put(o);
	return rc;
}

Test(gexec_parse, exit_code_and_streams)
{
	struct gexec_result r;
	struct qmp_error err;

	cr_assert_eq(
	    parse("{\"exited\":true,\"exitcode\":3,\"out-data\":\"aGk=\",\"err-data\":\"AP8=\"}",
		  &r, &err),
	    0, "%s", err.desc);
	cr_expect_eq(r.status, 3);
	cr_expect_eq(r.exitcode, 3);
	cr_expect_eq(r.signal, 0);
	cr_expect_eq(r.out_len, 2);
	cr_expect_str_eq((char *)r.out, "hi");
	cr_expect_eq(r.err_len, 2);
	cr_expect_eq(r.err[0], 0);
	cr_expect_eq(r.err[1], 0xff);
	gexec_result_clear(&r);
}

Test(gexec_parse, signal_is_128_plus_n)
{
	struct gexec_result r;
	struct qmp_error err;

	cr_assert_eq(parse("{\"exited\":true,\"signal\":9}", &r, &err), 0);
	cr_expect_eq(r.status, 137);
	cr_expect_eq(r.signal, 9);
	cr_expect_eq(r.out_len, 0);
	gexec_result_clear(&r);
}

Test(gexec_parse, malformed)
{
	struct gexec_result r;
	struct qmp_error err;

	cr_expect_eq(parse("{\"exited\":true}", &r, &err), -1);
	cr_expect_eq(parse("{\"exited\":true,\"exitcode\":0,\"out-data\":\"***\"}", &r, &err), -1);
	cr_expect_str_eq(err.cls, QMP_ERR_PROTOCOL);
	cr_expect_eq(parse("[]", &r, &err), -1);
}
