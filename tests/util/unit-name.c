#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "src/util/name.h"

Test(name, valid)
{
	const char *ok[] = {
	    "a",     "A",
	    "0",     "web-1",
	    "x.y_z", "a..b",
	    "9a-",   "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_expect_eq(vmsup_name_check(ok[i], NULL), 0, "%s", ok[i]);
	cr_expect_eq(strlen(ok[7]), 63);
}

Test(name, invalid_with_reason)
{
	const struct {
		const char *name, *why;
	} bad[] = {
	    {"", "empty"},
	    {".", "start with"},
	    {"..", "start with"},
	    {"../etc", "start with"},
	    {"a/b", "offset 1"},
	    {"-a", "start with"},
	    {"_a", "start with"},
	    {"a b", "offset 1"},
	    {"a\n", "offset 1"},
	    {"é", "start with"},
	    {"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl", "64 characters"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err = NULL;
		cr_expect_eq(vmsup_name_check(bad[i].name, &err), -1, "%s", bad[i].name);
		cr_expect(err && strstr(err, bad[i].why), "%s: %s", bad[i].name, err);
		free(err);
	}
	cr_expect_eq(vmsup_name_check(NULL, NULL), -1);
}
