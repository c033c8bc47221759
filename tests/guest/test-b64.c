#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "src/util/b64.h"

/* RFC 4648 section 10 vectors. */
Test(b64, rfc4648_vectors)
{
	static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const enc[] = {"",	      "Zg==",	  "Zm8=",    "Zm9v",
					  "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
	size_t i, n;

	for (i = 0; i < 7; i++) {
		char *e = b64_encode(plain[i], strlen(plain[i]));
		unsigned char *d = b64_decode(enc[i], strlen(enc[i]), &n);
		cr_expect_str_eq(e, enc[i]);
		cr_assert_not_null(d);
		cr_expect_eq(n, strlen(plain[i]));
		cr_expect_eq(memcmp(d, plain[i], n), 0);
		free(e);
		free(d);
	}
}

Test(b64, all_bytes_every_length)
{
	unsigned char all[256];
	size_t len, n, i;

	for (i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	for (len = 0; len <= 256; len++) {
		char *e = b64_encode(all + (256 - len), len);
		unsigned char *d;

		cr_assert_eq(strlen(e), b64_encoded_len(len));
		d = b64_decode(e, strlen(e), &n);
		cr_assert_not_null(d, "len %zu", len);
		cr_assert_eq(n, len);
		cr_assert_eq(memcmp(d, all + (256 - len), len), 0, "len %zu", len);
		free(e);
		free(d);
	}
}

Test(b64, rejects_malformed)
{
	static const char *const bad[] = {"Zg=",  "Zg===", "Z===", "Zm9v!A==", "Zm=v",
					  "=Zm9", "Zh==",  "Zm9=", "Zm8=Zm8=", "Zm9v\n"};
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_expect_null(b64_decode(bad[i], strlen(bad[i]), &n), "accepted \"%s\"", bad[i]);
		cr_expect_eq(errno, EINVAL, "\"%s\"", bad[i]);
	}
}

/* Decoded where the text lies (a guest-exec reply's output): the same bytes. */
Test(b64, decodes_in_place_every_length)
{
	unsigned char all[256];
	size_t len, n;

	for (size_t i = 0; i < 256; i++)
		all[i] = (unsigned char)(255 - i);
	for (len = 0; len <= 256; len++) {
		char *e = b64_encode(all, len);

		cr_assert_eq(b64_decode_into(e, strlen(e), (unsigned char *)e, &n), 0, "len %zu",
			     len);
		cr_assert_eq(n, len);
		cr_assert_eq(memcmp(e, all, len), 0, "len %zu", len);
		cr_assert_eq(e[len], '\0');
		free(e);
	}
	/* malformed stays refused in place */
	char bad[] = "Zm9v!A==";
	errno = 0;
	cr_expect_eq(b64_decode_into(bad, strlen(bad), (unsigned char *)bad, &n), -1);
	cr_expect_eq(errno, EINVAL);
}
